"""compute_pricing_mongo: MongoDB adapters for compute_pricing (journal, snapshots, plans,
webhook claims, cron leases), their indexes and migrations.

Adapters take a ready :class:`pymongo.database.Database`, never a URL::

    from compute_pricing import Billing
    from compute_pricing_mongo import MongoStores

    billing = Billing(config, stores=MongoStores(client["billing"]), clock=SystemClock())

Every business operation is one atomic single-document write; no transaction is used.
"""

from compute_pricing_mongo.accounts import MongoAccountStore
from compute_pricing_mongo.client import DEFAULT_TIMEOUT_MS, client_options
from compute_pricing_mongo.errors import MongoStoreError, MongoUnavailableError
from compute_pricing_mongo.indexes import ensure_indexes, index_models
from compute_pricing_mongo.jobs import MongoJobCursorStore, MongoOrgDirectory
from compute_pricing_mongo.lock import MongoLock
from compute_pricing_mongo.migrations import MIGRATIONS, Migration, MigrationRunner
from compute_pricing_mongo.plans import MongoPlanRepository
from compute_pricing_mongo.processed_events import MongoProcessedEventStore
from compute_pricing_mongo.stores import MongoStores

__all__ = [
    "DEFAULT_TIMEOUT_MS",
    "MIGRATIONS",
    "Migration",
    "MigrationRunner",
    "MongoAccountStore",
    "MongoJobCursorStore",
    "MongoLock",
    "MongoOrgDirectory",
    "MongoPlanRepository",
    "MongoProcessedEventStore",
    "MongoStoreError",
    "MongoStores",
    "MongoUnavailableError",
    "client_options",
    "ensure_indexes",
    "index_models",
]
