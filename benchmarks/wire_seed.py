"""Seed a MongoDB database with accounts built in memory, in a few bulk commands.

Building thousands of accounts through the library over the wire costs a round trip per
operation, and mongoeco (the test wire server) makes each journal insert slower as the
collection grows: it checks a compound unique index (``(org, seq)``, ``(org, key)``) by scanning
every stored document, on every insert, and builds one the same way. So a benchmark builds its
accounts with the real core in memory and copies them here:

- :func:`prepare` creates the indexes first, on the empty collections. With
  ``journal_unique=False`` (for mongoeco) it leaves out the journal's two compound unique
  indexes: the client then sends the same commands and decodes the same replies (no seeded
  account conflicts with another), but the server's insert no longer scans the collection. A
  real MongoDB gets every index.
- :func:`seed` writes every journal entry with one ``append_many`` (one ``insert_many`` of the
  documents the adapter encodes) and every snapshot with one ``save_snapshots`` (one
  ``bulk_write`` of the adapter's own compare-and-set upserts): the library's encoding, two
  commands' worth of round trips, whatever the number of accounts.
- :func:`verify` reads a few seeded accounts back through the library (snapshot and journal)
  and raises if one differs from its in-memory source.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo.database import Database

from compute_pricing.journal import JournalEntry, Snapshot
from compute_pricing.memory import InMemoryAccountStore
from compute_pricing_mongo import MongoStores, index_models
from compute_pricing_mongo._names import JOURNAL
from compute_pricing_mongo.accounts import MongoAccountStore
from compute_pricing_mongo.indexes import create_index

__all__ = ["JOURNAL_UNIQUE", "prepare", "seed", "verify"]

#: The journal's compound unique indexes, the ones mongoeco checks by a collection scan.
JOURNAL_UNIQUE = frozenset({"org_seq_unique", "org_key_unique"})


def prepare(db: Database[dict[str, Any]], *, journal_unique: bool = True) -> list[str]:
    """Create the store's indexes on ``db`` (see the module docstring); return their names."""
    return [
        create_index(db, collection, model)
        for collection, models in index_models().items()
        for model in models
        if journal_unique or collection != JOURNAL or model.document["name"] not in JOURNAL_UNIQUE
    ]


def _copy(
    source: InMemoryAccountStore, orgs: Sequence[str]
) -> tuple[list[JournalEntry], list[Snapshot]]:
    """Every journal entry and snapshot of ``orgs`` in ``source``."""
    entries = [entry for org in orgs for entry in source.read_journal(org)]
    snapshots = []
    for org in orgs:
        snapshot = source.read_snapshot(org)
        if snapshot is None:
            raise ValueError(f"org {org!r} has no snapshot to copy")
        snapshots.append(snapshot)
    return entries, snapshots


def seed(stores: MongoStores, source: InMemoryAccountStore, orgs: Sequence[str]) -> None:
    """Copy ``orgs``' journals and snapshots from ``source`` into ``stores`` (two bulk writes)."""
    accounts = stores.accounts
    if not isinstance(accounts, MongoAccountStore):
        raise TypeError(f"expected a MongoAccountStore, got {type(accounts).__name__}")
    entries, snapshots = _copy(source, orgs)
    refused = accounts.append_many(entries)
    unsaved = accounts.save_snapshots(snapshots)
    if refused or unsaved:
        raise RuntimeError(
            f"seeding refused {sorted(refused | unsaved)[:5]}: is the database fresh?"
        )


def verify(stores: MongoStores, source: InMemoryAccountStore, orgs: Sequence[str]) -> None:
    """Read ``orgs`` back through the library; raise ``AssertionError`` on any difference."""
    for org in orgs:
        expected, loaded = source.read_snapshot(org), stores.accounts.read_snapshot(org)
        if expected != loaded:
            raise AssertionError(f"{org}: snapshot {loaded!r} != {expected!r}")
        journal, copied = list(source.read_journal(org)), list(stores.accounts.read_journal(org))
        if journal != copied:
            raise AssertionError(f"{org}: journal of {len(copied)} entries differs from the source")
