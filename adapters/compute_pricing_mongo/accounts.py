"""``MongoAccountStore``: the account journal and its snapshots in two collections.

One business operation is one single-document write (rules.md "Accounts"): the journal insert at
``seq = version + 1`` under the unique ``(org, seq)`` and ``(org, key)`` indexes is the commit;
the snapshot refresh afterwards is a conditional upsert on ``version`` that never moves
backwards. No multi-document transaction is used anywhere.

The store remembers, for up to ``remembered`` orgs (least recently used first out), the
account document it last wrote or read and its version. A snapshot save on top of a remembered
version is a changed-fields update guarded by ``version == remembered`` (see
:mod:`compute_pricing_mongo._snapshot_changes`): on an attribution it sets ``version``, ``at``
and the week instead of every state path. When that guard matches nothing (another process
moved the document on, or it is gone), the save falls back to the full compare-and-set, so the
outcome is the one the full update alone would have given. A lost or failed save, or a read
that is refused as corrupt, drops what was remembered of the org.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, UpdateOne
from pymongo.database import Database
from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError

from compute_pricing.codec import require_contiguous
from compute_pricing.errors import CorruptStateError, JournalKeyExistsError, JournalSeqTakenError
from compute_pricing.journal import JournalEntry, Snapshot
from compute_pricing_mongo._documents import entry_document, entry_from, snapshot_from_document
from compute_pricing_mongo._names import (
    ACCOUNTS,
    CUSTOMER_FIELD,
    JOURNAL,
    PAYMENT_INTENT_FIELD,
    Document,
)
from compute_pricing_mongo._snapshot_changes import (
    StoredSnapshot,
    changed_fields_update,
    full_update,
)
from compute_pricing_mongo.errors import translate, translated

__all__ = ["DEFAULT_REMEMBERED_SNAPSHOTS", "MongoAccountStore"]

DEFAULT_REMEMBERED_SNAPSHOTS = 10_000
"""Orgs whose last written or read account document a store remembers, by default."""

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
    ``remembered`` bounds the orgs whose account document it remembers for changed-fields
    snapshot updates (module docstring; 0 turns them off: every save is a full update).
    Thread-safe.
    """

    def __init__(
        self, db: Database[Document], *, remembered: int = DEFAULT_REMEMBERED_SNAPSHOTS
    ) -> None:
        if isinstance(remembered, bool) or not isinstance(remembered, int) or remembered < 0:
            raise ValueError(f"remembered must be a whole number >= 0, got {remembered!r}")
        self._journal = db[JOURNAL]
        self._accounts = db[ACCOUNTS]
        self._remembered = remembered
        self._known: OrderedDict[str, StoredSnapshot] = OrderedDict()
        self._lock = threading.Lock()

    def _recall(self, org: str) -> StoredSnapshot | None:
        if not self._remembered:
            return None
        with self._lock:
            known = self._known.get(org)
            if known is not None:
                self._known.move_to_end(org)
            return known

    def _keep(self, org: str, known: StoredSnapshot, *, read: bool = False) -> None:
        """Remember ``known`` unless a later version (or, for a read, the same) is held."""
        if not self._remembered:
            return
        with self._lock:
            held = self._known.get(org)
            if held is not None and (
                held.version > known.version or (read and held.version == known.version)
            ):
                return
            self._known[org] = known
            self._known.move_to_end(org)
            if len(self._known) > self._remembered:
                self._known.popitem(last=False)

    def forget(self, org: str | None = None) -> None:
        """Drop what is remembered of ``org``'s account document (every org's when ``None``).

        The next save of that org is a full update, as in a process that never saw it.
        """
        with self._lock:
            if org is None:
                self._known.clear()
            else:
                self._known.pop(org, None)

    def _decoded(self, org: str, document: Document) -> Snapshot:
        """``document`` decoded strictly, and remembered (a corrupt one is forgotten)."""
        try:
            snapshot = snapshot_from_document(document, org)
        except CorruptStateError:
            self.forget(org)
            raise
        self._keep(
            org, StoredSnapshot(snapshot.version, snapshot.state, document=document), read=True
        )
        return snapshot

    def read_snapshot(self, org: str) -> Snapshot | None:
        """The stored snapshot (possibly behind the journal): one ``find``."""
        with translated("read_snapshot"):
            document = self._accounts.find_one({"org": org}, dict(_SNAPSHOT_FIELDS))
        return None if document is None else self._decoded(org, document)

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
        """Compare-and-set on ``version``: stored only over an older version (or none).

        On top of the version this store remembers for the org: a changed-fields update
        guarded by ``version == remembered`` (one ``update``). Otherwise, or when that guard
        matches nothing: an upsert of every path guarded by ``version < snapshot.version``;
        when a snapshot at the same or a later version exists that filter matches nothing and
        the upsert's insert hits the unique ``org`` index, and the lost race answers ``False``.
        """
        org = snapshot.org
        known = self._recall(org)
        try:
            if known is not None and known.version < snapshot.version:
                update, stored = changed_fields_update(snapshot, known)
                with translated("save_snapshot"):
                    result = self._accounts.update_one(
                        {"org": org, "version": known.version}, update
                    )
                if result.matched_count == 1:
                    self._keep(org, stored)
                    return True
            saved = self._save_whole(snapshot)
        except BaseException:
            self.forget(org)  # the write may or may not have been applied
            raise
        return saved

    def _save_whole(self, snapshot: Snapshot) -> bool:
        condition: Document = {"org": snapshot.org, "version": {"$lt": snapshot.version}}
        update, stored = full_update(snapshot)
        with translated("save_snapshot"):
            try:
                self._accounts.update_one(condition, update, upsert=True)
            except DuplicateKeyError:
                # Either a newer snapshot exists, or a rival created the first one between
                # our filter and our insert; only in the second case may an update still win.
                del update["$setOnInsert"]
                if self._accounts.update_one(condition, update).modified_count != 1:
                    self.forget(snapshot.org)
                    return False
        self._keep(snapshot.org, stored)
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
        updates = [full_update(s) for s in snapshots]
        requests = [
            UpdateOne({"org": s.org, "version": {"$lt": s.version}}, update, upsert=True)
            for s, (update, _) in zip(snapshots, updates, strict=True)
        ]
        lost: set[str] = set()
        try:
            with translated("save_snapshots"):
                try:
                    self._accounts.bulk_write(requests, ordered=False)
                except BulkWriteError as exc:
                    lost = {snapshots[index].org for index in _duplicates(exc)}
        except BaseException:
            for s in snapshots:
                self.forget(s.org)
            raise
        for s, (_, stored) in zip(snapshots, updates, strict=True):
            if s.org in lost:
                self.forget(s.org)
            else:
                self._keep(s.org, stored)
        return lost

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
                found.append((org, self._decoded(org, document)))
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
