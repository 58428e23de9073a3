"""``MongoAccountStore``: the account journal and its snapshots in two collections.

One business operation is one single-document write (rules.md "Accounts"): the journal insert at
``seq = version + 1`` under the unique ``(org, seq)`` and ``(org, key)`` indexes is the commit;
the snapshot refresh afterwards is a conditional upsert on ``version`` that never moves
backwards. No multi-document transaction is used anywhere.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, UpdateOne
from pymongo.database import Database
from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError

from compute_pricing.codec import require_contiguous
from compute_pricing.errors import CorruptStateError, JournalKeyExistsError, JournalSeqTakenError
from compute_pricing.journal import JournalEntry, Snapshot
from compute_pricing_mongo._documents import (
    entry_document,
    entry_from,
    snapshot_from_document,
    snapshot_update,
)
from compute_pricing_mongo._names import (
    ACCOUNTS,
    CUSTOMER_FIELD,
    JOURNAL,
    PAYMENT_INTENT_FIELD,
    Document,
)
from compute_pricing_mongo.errors import translate, translated

__all__ = ["MongoAccountStore"]

_DUPLICATE_KEY = 11000


def _duplicates(exc: BulkWriteError) -> list[int]:
    """Indexes of the requests a unique index refused; re-raises on any other write error."""
    errors = exc.details.get("writeErrors", [])
    if any(error.get("code") != _DUPLICATE_KEY for error in errors) or exc.details.get(
        "writeConcernErrors"
    ):
        raise exc
    return [int(error["index"]) for error in errors]


_SNAPSHOT_FIELDS = {"_id": 0, "org": 1, "version": 1, "state": 1, "at": 1}
_ENTRY_FIELDS = {"_id": 0}
# Projections are copied per call: mongomock mutates the one it is given (not thread-safe).


class MongoAccountStore:
    """Journal + snapshot storage of accounts in MongoDB. Implements ``AccountStore``.

    ``db`` is a ready :class:`pymongo.database.Database`; the indexes of
    :mod:`compute_pricing_mongo.indexes` must exist (``MongoStores`` creates them).
    """

    def __init__(self, db: Database[Document]) -> None:
        self._journal = db[JOURNAL]
        self._accounts = db[ACCOUNTS]

    def read_snapshot(self, org: str) -> Snapshot | None:
        """The stored snapshot (possibly behind the journal): one ``find``."""
        with translated("read_snapshot"):
            document = self._accounts.find_one({"org": org}, dict(_SNAPSHOT_FIELDS))
        return None if document is None else snapshot_from_document(document, org)

    def read_journal(self, org: str, *, after_seq: int = 0) -> Sequence[JournalEntry]:
        """Entries with ``seq > after_seq``, oldest first."""
        with translated("read_journal"):
            documents = list(
                self._journal.find(
                    {"org": org, "seq": {"$gt": after_seq}}, dict(_ENTRY_FIELDS)
                ).sort("seq", ASCENDING)
            )
        return require_contiguous(org, after_seq, [entry_from(d, org) for d in documents])

    def find_entry(self, org: str, key: str) -> JournalEntry | None:
        """The entry committed under ``key``, if any."""
        with translated("find_entry"):
            document = self._journal.find_one({"org": org, "key": key}, dict(_ENTRY_FIELDS))
        return None if document is None else entry_from(document, org)

    def append(self, entry: JournalEntry) -> None:
        """Insert ``entry``: the commit point (key conflicts are told apart from seq ones)."""
        with translated("append"):
            try:
                self._journal.insert_one(entry_document(entry))
            except DuplicateKeyError as exc:
                # Which unique index refused it? Servers say so in ``details``, fakes may not;
                # looking the key up works everywhere and a key conflict wins over a seq one.
                existing = self.find_entry(entry.org, entry.key)
                if existing is not None:
                    raise JournalKeyExistsError(existing) from exc
                raise JournalSeqTakenError(entry.org, entry.seq) from exc

    def save_snapshot(self, snapshot: Snapshot) -> bool:
        """Compare-and-set on ``version``: an upsert guarded by ``version < snapshot.version``.

        When a snapshot at the same or a later version exists the filter matches nothing and
        the upsert's insert hits the unique ``org`` index; that lost race answers ``False``.
        """
        condition: Document = {"org": snapshot.org, "version": {"$lt": snapshot.version}}
        update = snapshot_update(snapshot)
        with translated("save_snapshot"):
            try:
                self._accounts.update_one(condition, update, upsert=True)
            except DuplicateKeyError:
                # Either a newer snapshot exists, or a rival created the first one between
                # our filter and our insert; only in the second case may an update still win.
                del update["$setOnInsert"]
                return self._accounts.update_one(condition, update).modified_count == 1
        return True

    def append_many(self, entries: Sequence[JournalEntry]) -> set[str]:
        """One ``insert_many(ordered=False)``: each entry commits or is refused on its own.

        Returns the orgs whose entry hit a unique index (seq or key taken); any other write
        error raises, as :meth:`append` would.
        """
        if not entries:
            return set()
        with translated("append_many"):
            try:
                self._journal.insert_many([entry_document(e) for e in entries], ordered=False)
            except BulkWriteError as exc:
                return {entries[index].org for index in _duplicates(exc)}
        return set()

    def save_snapshots(self, snapshots: Sequence[Snapshot]) -> set[str]:
        """One ``bulk_write`` of compare-and-set upserts (as :meth:`save_snapshot`, unordered).

        A filter that matches nothing because a snapshot at the same or a later version exists
        makes its upsert hit the unique ``org`` index: that org is returned as not stored.
        """
        if not snapshots:
            return set()
        requests = [
            UpdateOne(
                {"org": s.org, "version": {"$lt": s.version}}, snapshot_update(s), upsert=True
            )
            for s in snapshots
        ]
        with translated("save_snapshots"):
            try:
                self._accounts.bulk_write(requests, ordered=False)
            except BulkWriteError as exc:
                return {snapshots[index].org for index in _duplicates(exc)}
        return set()

    def _snapshots(
        self, query: Document, after: str | None, limit: int, operation: str
    ) -> list[tuple[str, Snapshot | None]]:
        if after is not None:
            query["org"] = {"$gt": after}
        with translated(operation):
            cursor = self._accounts.find(query, dict(_SNAPSHOT_FIELDS)).sort("org", ASCENDING)
            documents = list(cursor.limit(limit))
        found: list[tuple[str, Snapshot | None]] = []
        for document in documents:
            org = document.get("org")
            if type(org) is not str:
                continue  # not an account the commit loop could address
            try:
                found.append((org, snapshot_from_document(document, org)))
            except CorruptStateError:
                found.append((org, None))  # handled singly, where its error is reported
        return found

    def snapshots_due_for_reset(
        self, now: datetime, *, after: str | None, limit: int
    ) -> list[tuple[str, Snapshot | None]]:
        """Orgs due for reset with their snapshots: one ``find`` (index ``org_reset_at``)."""
        query: dict[str, Any] = {"reset_at": {"$exists": True, "$lte": now}}
        return self._snapshots(query, after, limit, "snapshots_due_for_reset")

    def snapshots_with_expiring_lots(
        self, now: datetime, *, after: str | None, limit: int
    ) -> list[tuple[str, Snapshot | None]]:
        """Orgs with an expiring lot and their snapshots: one ``find`` (``org_next_expiry``)."""
        query: dict[str, Any] = {"next_expiry": {"$exists": True, "$lte": now}}
        return self._snapshots(query, after, limit, "snapshots_with_expiring_lots")

    def snapshots_past_due_before(
        self, cutoff: datetime, *, after: str | None, limit: int
    ) -> list[tuple[str, Snapshot | None]]:
        """Orgs past due since ``cutoff`` and their snapshots: one ``find``."""
        query: dict[str, Any] = {"status": "past_due", "past_due_since": {"$lte": cutoff}}
        return self._snapshots(query, after, limit, "snapshots_past_due_before")

    def iter_ledger(self, org: str) -> Iterator[JournalEntry]:
        """Entries with ledger lines, newest first, read lazily in batches."""
        cursor = self._journal.find({"org": org, "ledger": {"$gt": 0}}, dict(_ENTRY_FIELDS)).sort(
            "seq", DESCENDING
        )
        try:
            for document in cursor:
                yield entry_from(document, org)
        except PyMongoError as exc:
            raise translate(exc, "iter_ledger") from exc
        finally:
            cursor.close()

    def _orgs(self, query: Document, after: str | None, limit: int, operation: str) -> list[str]:
        if after is not None:
            query["org"] = {"$gt": after}
        with translated(operation):
            cursor = self._accounts.find(query, {"_id": 0, "org": 1}).sort("org", ASCENDING)
            return [document["org"] for document in cursor.limit(limit)]

    def orgs_due_for_reset(self, now: datetime, *, after: str | None, limit: int) -> list[str]:
        """Orgs whose week ``reset_at <= now`` (index ``org_reset_at``)."""
        query: dict[str, Any] = {"reset_at": {"$exists": True, "$lte": now}}
        return self._orgs(query, after, limit, "orgs_due_for_reset")

    def orgs_with_expiring_lots(self, now: datetime, *, after: str | None, limit: int) -> list[str]:
        """Orgs whose earliest lot expiry is at or before ``now`` (index ``org_next_expiry``)."""
        query: dict[str, Any] = {"next_expiry": {"$exists": True, "$lte": now}}
        return self._orgs(query, after, limit, "orgs_with_expiring_lots")

    def orgs_past_due_before(self, cutoff: datetime, *, after: str | None, limit: int) -> list[str]:
        """Orgs past due since at or before ``cutoff`` (index ``org_past_due_since``)."""
        query: dict[str, Any] = {"status": "past_due", "past_due_since": {"$lte": cutoff}}
        return self._orgs(query, after, limit, "orgs_past_due_before")

    def org_for_customer(self, customer_id: str) -> str | None:
        """The least org linking ``customer_id`` (index ``customer_id``, not by org: see there)."""
        query: dict[str, Any] = {CUSTOMER_FIELD: customer_id}
        with translated("org_for_customer"):
            cursor = self._accounts.find(query, {"_id": 0, "org": 1}).sort("org", ASCENDING)
            found = [document["org"] for document in cursor.limit(1)]
        return found[0] if found else None

    def purchase_for_payment_intent(self, payment_intent: str) -> JournalEntry | None:
        """The pack credit paid by ``payment_intent`` (index ``payment_intent``: see there)."""
        query: dict[str, Any] = {PAYMENT_INTENT_FIELD: payment_intent}
        with translated("purchase_for_payment_intent"):
            document = self._journal.find_one(query, dict(_ENTRY_FIELDS))
        return None if document is None else entry_from(document)
