"""Collection names of the MongoDB back end, in one place (see ``docs/operations.md``)."""

from __future__ import annotations

from typing import Any

__all__ = [
    "ACCOUNTS",
    "CUSTOMER_FIELD",
    "JOB_CURSORS",
    "JOURNAL",
    "LOCKS",
    "MIGRATIONS",
    "PAYMENT_INTENT_FIELD",
    "PLANS",
    "PROCESSED_EVENTS",
    "Document",
]

Document = dict[str, Any]
"""A BSON document as pymongo hands it over."""

ACCOUNTS = "accounts"
"""Account snapshots: one document per org, ``_id == org``."""

JOURNAL = "account_journal"
"""Journal entries: one immutable document per committed decision."""

PLANS = "plans"
"""Published plan versions."""

PROCESSED_EVENTS = "processed_events"
"""Stripe webhook claims, one per event id."""

LOCKS = "locks"
"""Cron leases, one per lock name."""

MIGRATIONS = "migrations"
"""Applied migrations, one per migration name."""

CUSTOMER_FIELD = "state.subscription.customer_id"
"""Where a snapshot links its Stripe customer (looked up by ``org_for_customer``)."""

PAYMENT_INTENT_FIELD = "events.data.payment_intent"
"""Where a journal entry's pack credit records its payment intent."""

JOB_CURSORS = "job_cursors"
"""Cursors of unfinished cron runs, one per job name."""
