"""Every index the MongoDB back end relies on, declared once (docs/rules.md "Accounts", "Stripe").

Correctness rests on the unique indexes: ``(org, seq)`` and ``(org, key)`` on the journal make
the insert the commit point and the key an idempotency key; ``org`` on the snapshots makes the
snapshot's compare-and-set an upsert that cannot create a second document; ``(plan_id,
version)`` keeps plan versions immutable; a webhook claim's ``_id`` is its event id. Every
account index starts with ``org``, so journal and snapshots shard by org, except two lookups a
Stripe webhook needs: ``customer_id`` on the snapshots and ``payment_intent`` on the journal. A
webhook names a customer or a payment intent and not an org; finding the org is the very point
of the lookup, so an index leading with ``org`` could not serve it. Both are partial on a string
value, so they hold only linked accounts and paid pack credits (on a sharded cluster they are
scatter-gather queries, run once per webhook, not per request).

The cron indexes are partial: they only hold the documents a sweep can select, because the
adapter leaves the derived fields out when the state has no such value. The processed-events
TTL index is partial on ``dead_letter: false``, which every claim document carries, so dead
letters are never removed.
"""

from __future__ import annotations

from collections.abc import Mapping

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.database import Database

from compute_pricing_mongo._names import (
    ACCOUNTS,
    CUSTOMER_FIELD,
    JOURNAL,
    PAYMENT_INTENT_FIELD,
    PLANS,
    PROCESSED_EVENTS,
    Document,
)
from compute_pricing_mongo.errors import translated

__all__ = [
    "DEFAULT_PROCESSED_EVENT_TTL_DAYS",
    "create_index",
    "ensure_indexes",
    "index_models",
]

DEFAULT_PROCESSED_EVENT_TTL_DAYS = 30
_DAY_SECONDS = 86_400


def index_models(
    processed_event_ttl_days: int = DEFAULT_PROCESSED_EVENT_TTL_DAYS,
) -> Mapping[str, tuple[IndexModel, ...]]:
    """The indexes of each collection, by collection name."""
    return {
        JOURNAL: (
            IndexModel(
                [("org", ASCENDING), ("seq", ASCENDING)], name="org_seq_unique", unique=True
            ),
            IndexModel(
                [("org", ASCENDING), ("key", ASCENDING)], name="org_key_unique", unique=True
            ),
            IndexModel(
                [("org", ASCENDING), ("seq", DESCENDING)],
                name="org_ledger_seq",
                partialFilterExpression={"ledger": {"$gt": 0}},
            ),
            IndexModel(
                [(PAYMENT_INTENT_FIELD, ASCENDING)],
                name="payment_intent",
                partialFilterExpression={PAYMENT_INTENT_FIELD: {"$type": "string"}},
            ),
        ),
        ACCOUNTS: (
            IndexModel([("org", ASCENDING)], name="org_unique", unique=True),
            IndexModel(
                [("org", ASCENDING), ("reset_at", ASCENDING)],
                name="org_reset_at",
                partialFilterExpression={"reset_at": {"$exists": True}},
            ),
            IndexModel(
                [("org", ASCENDING), ("next_expiry", ASCENDING)],
                name="org_next_expiry",
                partialFilterExpression={"next_expiry": {"$exists": True}},
            ),
            IndexModel(
                [("org", ASCENDING), ("past_due_since", ASCENDING)],
                name="org_past_due_since",
                partialFilterExpression={"status": "past_due"},
            ),
            IndexModel(
                [(CUSTOMER_FIELD, ASCENDING), ("org", ASCENDING)],
                name="customer_id",
                partialFilterExpression={CUSTOMER_FIELD: {"$type": "string"}},
            ),
        ),
        PLANS: (
            IndexModel(
                [("plan_id", ASCENDING), ("version", ASCENDING)],
                name="plan_id_version_unique",
                unique=True,
            ),
        ),
        PROCESSED_EVENTS: (
            IndexModel(
                [("touched_at", ASCENDING)],
                name="touched_at_ttl",
                expireAfterSeconds=processed_event_ttl_days * _DAY_SECONDS,
                partialFilterExpression={"dead_letter": False},
            ),
            IndexModel(
                [("processed_at", ASCENDING), ("_id", ASCENDING)],
                name="dead_letters",
                partialFilterExpression={"dead_letter": True},
            ),
        ),
    }


def ensure_indexes(
    db: Database[Document],
    processed_event_ttl_days: int = DEFAULT_PROCESSED_EVENT_TTL_DAYS,
) -> list[str]:
    """Create any missing index (one ``createIndexes`` each); return every index name.

    Idempotent. An existing index with the same name and other options is an error
    (:class:`~compute_pricing_mongo.errors.MongoStoreError`), never silently replaced.
    """
    return [
        create_index(db, collection, model)
        for collection, models in index_models(processed_event_ttl_days).items()
        for model in models
    ]


def create_index(db: Database[Document], collection: str, model: IndexModel) -> str:
    """Create one index from its model (idempotent); return its name."""
    spec = dict(model.document)
    keys = list(spec.pop("key").items())
    with translated(f"create index {collection}.{spec['name']}"):
        return db[collection].create_index(keys, **spec)
