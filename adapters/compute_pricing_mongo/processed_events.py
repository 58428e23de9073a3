"""``MongoProcessedEventStore``: one claim document per Stripe event id (docs/rules.md "Stripe").

A claim document is ``{_id: event_id, event_id, type, processed_at, attempts, last_error,
done, dead_letter, touched_at}``. ``processed_at`` is the caller's clock (the logical time the port
reasons with, exactly like the in-memory store); ``touched_at`` is the server's own time of the
last write (``$currentDate``) and is what the TTL index ``touched_at_ttl`` expires on. Using the
server's time there keeps garbage collection correct whatever clock the caller runs on (a fake
clock in tests, a skewed host). The TTL index is partial on ``dead_letter: false``; every write
sets the flag, so each document is either covered by the TTL or a dead letter that stays. The
partial index ``dead_letters`` lists dead letters oldest first without a collection scan.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from pymongo import ReturnDocument
from pymongo.database import Database

from compute_pricing.stripe.records import MAX_ERROR_LENGTH, ProcessedEvent
from compute_pricing_mongo._documents import processed_event_from
from compute_pricing_mongo._names import PROCESSED_EVENTS, Document
from compute_pricing_mongo.errors import translated
from compute_pricing_mongo.indexes import DEFAULT_PROCESSED_EVENT_TTL_DAYS

__all__ = ["MongoProcessedEventStore"]

_TOUCH = {"touched_at": True}


def _fresh(event_id: str, event_type: str, now: datetime) -> Document:
    return {
        "event_id": event_id,
        "type": event_type,
        "processed_at": now,
        "attempts": 0,
        "last_error": "",
        "done": False,
        "dead_letter": False,
    }


class MongoProcessedEventStore:
    """Webhook claims; the TTL never removes dead letters. Implements ``ProcessedEventStore``."""

    def __init__(
        self, db: Database[Document], *, ttl_days: int = DEFAULT_PROCESSED_EVENT_TTL_DAYS
    ) -> None:
        self._events = db[PROCESSED_EVENTS]
        self._ttl = timedelta(days=ttl_days)

    def claim(self, event_id: str, event_type: str, now: datetime) -> str:
        """``claimed``, ``done`` or ``dead``: one upsert that returns what was there before."""
        with translated("claim event"):
            before: dict[str, Any] | None = self._events.find_one_and_update(
                {"_id": event_id},
                {"$setOnInsert": _fresh(event_id, event_type, now), "$currentDate": _TOUCH},
                upsert=True,
                return_document=ReturnDocument.BEFORE,
            )
            if before is None:
                return "claimed"
            claim = processed_event_from(before)
            if claim.dead_letter:
                return "dead"
            if now - claim.processed_at >= self._ttl:
                # Logically expired (the TTL index would have removed it): start afresh, unless
                # another caller touched the claim meanwhile.
                self._events.update_one(
                    {"_id": event_id, "processed_at": before["processed_at"], "dead_letter": False},
                    {"$set": _fresh(event_id, event_type, now)},
                )
                return "claimed"
        return "done" if claim.done else "claimed"

    def mark_done(self, event_id: str, now: datetime) -> None:
        """Record success; a later claim answers ``done``."""
        with translated("mark event done"):
            self._events.update_one(
                {"_id": event_id},
                {
                    "$set": {"done": True, "processed_at": now},
                    "$setOnInsert": {
                        "event_id": event_id,
                        "type": "",
                        "attempts": 0,
                        "last_error": "",
                        "dead_letter": False,
                    },
                    "$currentDate": _TOUCH,
                },
                upsert=True,
            )

    def mark_failed(
        self, event_id: str, now: datetime, max_attempts: int, *, error: str = ""
    ) -> bool:
        """Count a failure atomically, keeping ``error``; at ``max_attempts`` it is dead."""
        with translated("mark event failed"):
            # An upsert returning the document after the update always returns one.
            after = cast(
                dict[str, Any],
                self._events.find_one_and_update(
                    {"_id": event_id},
                    {
                        "$inc": {"attempts": 1},
                        "$set": {"processed_at": now, "last_error": error[:MAX_ERROR_LENGTH]},
                        "$setOnInsert": {
                            "event_id": event_id,
                            "type": "",
                            "done": False,
                            "dead_letter": False,
                        },
                        "$currentDate": _TOUCH,
                    },
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                ),
            )
            if processed_event_from(after).attempts < max_attempts:
                return False
            self._events.update_one({"_id": event_id}, {"$set": {"dead_letter": True}})
        return True

    def get(self, event_id: str) -> ProcessedEvent | None:
        """The record of ``event_id``, if stored."""
        with translated("read event claim"):
            doc = self._events.find_one({"_id": event_id})
        return None if doc is None else processed_event_from(doc)

    def dead_letters(self, *, limit: int = 100) -> list[ProcessedEvent]:
        """Dead letters, oldest ``processed_at`` first (the ``dead_letters`` index)."""
        if limit <= 0:
            return []
        with translated("list dead letters"):
            cursor = (
                self._events.find({"dead_letter": True})
                .sort([("processed_at", 1), ("_id", 1)])
                .limit(limit)
            )
            return [processed_event_from(doc) for doc in cursor]

    def release_for_replay(self, event_id: str, now: datetime) -> bool:
        """Make a dead letter claimable again (attempts kept); it is TTL-covered once more."""
        with translated("release dead letter"):
            result = self._events.update_one(
                {"_id": event_id, "dead_letter": True},
                {"$set": {"dead_letter": False, "processed_at": now}, "$currentDate": _TOUCH},
            )
        return result.modified_count == 1

    def purge(self, event_id: str) -> bool:
        """Delete the record of ``event_id``."""
        with translated("purge event claim"):
            result = self._events.delete_one({"_id": event_id})
        return result.deleted_count == 1
