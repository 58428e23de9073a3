"""``MongoLock``: named leases for cron jobs, one document per name.

Taking a lease is one conditional upsert: it matches only a lease that has expired, and when a
live one exists the upsert's insert hits the ``_id`` and fails, so exactly one caller wins.
Releasing deletes the document only if it still holds this caller's token, so a holder whose
lease expired and was taken over cannot release the new holder's lease; renewing is the same
token-guarded update of ``expires_at``, so it fails exactly when the lease was taken over.
Expiry is judged by the injected clock; a dead holder's document stays until the next caller
takes it over, so no TTL index is needed (there is one document per lock name).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from compute_pricing.ports import Clock, Lease
from compute_pricing.timekeeping import SystemClock
from compute_pricing_mongo._names import LOCKS, Document
from compute_pricing_mongo.errors import translated

__all__ = ["MongoLock"]


class MongoLock:
    """Named leases shared by every process using ``db``. Implements ``Lock``."""

    def __init__(self, db: Database[Document], clock: Clock | None = None) -> None:
        self._locks = db[LOCKS]
        self._clock: Clock = clock or SystemClock()

    @contextmanager
    def hold(self, name: str, ttl_seconds: int) -> Iterator[Lease]:
        """Yield the lease on ``name`` (truthy if this caller took it); release it on exit."""
        token = uuid.uuid4().hex
        now = self._clock.now()
        with translated("take lock"):
            try:
                self._locks.update_one(
                    {"_id": name, "expires_at": {"$lte": now}},
                    {
                        "$set": {
                            "token": token,
                            "taken_at": now,
                            "expires_at": now + timedelta(seconds=ttl_seconds),
                        }
                    },
                    upsert=True,
                )
                taken = True
            except DuplicateKeyError:
                taken = False

        def renew() -> bool:
            with translated("renew lock"):
                renewed = self._locks.update_one(
                    {"_id": name, "token": token},
                    {"$set": {"expires_at": self._clock.now() + timedelta(seconds=ttl_seconds)}},
                )
            return renewed.matched_count == 1

        try:
            yield Lease(taken, renew)
        finally:
            if taken:
                with translated("release lock"):
                    self._locks.delete_one({"_id": name, "token": token})
