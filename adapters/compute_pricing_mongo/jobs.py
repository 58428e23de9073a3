"""Cron support on MongoDB: ``MongoJobCursorStore`` (one document per job) and
``MongoOrgDirectory`` (the ``org`` of every account snapshot, in pages, on index
``org_unique``).

A cursor document is ``{_id: <job>, after, started_at, updated_at}``; saving is one upsert and
clearing one delete, both on ``_id``, so no index beyond ``_id`` is needed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo.database import Database

from compute_pricing.ports import JobCursor
from compute_pricing_mongo._names import ACCOUNTS, JOB_CURSORS, Document
from compute_pricing_mongo.errors import translated

__all__ = ["MongoJobCursorStore", "MongoOrgDirectory"]


def _aware(value: Any) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime, got {type(value).__name__}")
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class MongoJobCursorStore:
    """Cursors of unfinished cron runs in ``job_cursors``. Implements ``JobCursorStore``."""

    def __init__(self, db: Database[Document]) -> None:
        self._cursors = db[JOB_CURSORS]

    def load(self, job: str) -> JobCursor | None:
        """The saved cursor of ``job``."""
        with translated("load job cursor"):
            doc = self._cursors.find_one({"_id": job})
        if doc is None:
            return None
        return JobCursor(
            job=job,
            after=str(doc["after"]),
            started_at=_aware(doc["started_at"]),
            updated_at=_aware(doc["updated_at"]),
        )

    def save(self, cursor: JobCursor) -> None:
        """Replace the job's cursor (one upsert)."""
        with translated("save job cursor"):
            self._cursors.replace_one(
                {"_id": cursor.job},
                {
                    "after": cursor.after,
                    "started_at": cursor.started_at,
                    "updated_at": cursor.updated_at,
                },
                upsert=True,
            )

    def clear(self, job: str) -> None:
        """Forget the job's cursor."""
        with translated("clear job cursor"):
            self._cursors.delete_one({"_id": job})


class MongoOrgDirectory:
    """Orgs of the ``accounts`` collection, sorted. Implements ``OrgDirectory``."""

    def __init__(self, db: Database[Document]) -> None:
        self._accounts = db[ACCOUNTS]

    def list_orgs(self, *, after: str | None, limit: int) -> list[str]:
        """Orgs with a snapshot, sorted ascending, after ``after``."""
        query: Document = {} if after is None else {"org": {"$gt": after}}
        with translated("list orgs"):
            cursor = self._accounts.find(query, {"_id": 0, "org": 1}).sort("org", 1).limit(limit)
            return [str(doc["org"]) for doc in cursor]
