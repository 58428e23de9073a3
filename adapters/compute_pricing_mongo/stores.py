"""``MongoStores``: every MongoDB adapter over one database, bundled for ``Billing``."""

from __future__ import annotations

from pymongo.database import Database

from compute_pricing.ports import (
    AccountStore,
    Clock,
    JobCursorStore,
    Lock,
    OrgDirectory,
    PlanRepository,
    ProcessedEventStore,
)
from compute_pricing_mongo._names import Document
from compute_pricing_mongo.accounts import MongoAccountStore
from compute_pricing_mongo.indexes import DEFAULT_PROCESSED_EVENT_TTL_DAYS, ensure_indexes
from compute_pricing_mongo.jobs import MongoJobCursorStore, MongoOrgDirectory
from compute_pricing_mongo.lock import MongoLock
from compute_pricing_mongo.plans import MongoPlanRepository
from compute_pricing_mongo.processed_events import MongoProcessedEventStore

__all__ = ["MongoStores"]


class MongoStores:
    """The MongoDB back end of :class:`~compute_pricing.Billing`. Implements ``Stores``.

    ``Billing(config, stores=MongoStores(db), clock=clock)``. ``db`` is a ready
    :class:`pymongo.database.Database` (the caller owns the client, its URI and its
    read/write concerns). ``clock`` drives lock expiry (wall clock by default).
    ``ensure_indexes`` creates any missing index at construction (idempotent, one command per
    collection); pass ``False`` when ``compute-pricing migrate`` manages them.
    """

    def __init__(
        self,
        db: Database[Document],
        *,
        clock: Clock | None = None,
        processed_event_ttl_days: int = DEFAULT_PROCESSED_EVENT_TTL_DAYS,
        ensure_indexes: bool = True,
    ) -> None:
        self.db = db
        self.processed_event_ttl_days = processed_event_ttl_days
        self.accounts: AccountStore = MongoAccountStore(db)
        self.plans: PlanRepository | None = MongoPlanRepository(db)
        self.processed_events: ProcessedEventStore = MongoProcessedEventStore(
            db, ttl_days=processed_event_ttl_days
        )
        self.lock: Lock = MongoLock(db, clock)
        self.job_cursors: JobCursorStore = MongoJobCursorStore(db)
        self.orgs: OrgDirectory = MongoOrgDirectory(db)
        if ensure_indexes:
            self.ensure_indexes()

    def ensure_indexes(self) -> list[str]:
        """Create any missing index; return every index name (see :mod:`.indexes`)."""
        return ensure_indexes(self.db, self.processed_event_ttl_days)
