"""Collection names of the MongoDB back end, in one place (see ``docs/operations.md``)."""

from __future__ import annotations

from typing import Any

__all__ = [
    "ACCOUNTS",
    "JOB_CURSORS",
    "JOURNAL",
    "LOCKS",
    "MIGRATIONS",
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

JOB_CURSORS = "job_cursors"
"""Cursors of unfinished cron runs, one per job name."""
