"""Changed-fields snapshot updates store exactly what the full update stores.

A ``MongoAccountStore`` that remembers the document it last wrote or read sends, on top of that
version, an update guarded by ``version == remembered`` that sets only the changed paths. Each
test saves a real account's snapshots (subscription, pack, charges, overflow, dunning, a weekly
reset, a plan change, a lot expiry) through such a store and through one that remembers nothing
(every save the full upsert), on two databases, and compares both stored documents with the
full encoding after every save, also after a lost compare-and-set, another process's write and
a cache miss. Runs on mongomock and over the wire (mongoeco).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any, cast

import mongomock
import pytest

from compute_pricing import Billing
from compute_pricing.journal import Snapshot
from compute_pricing.state import Account
from compute_pricing.testing.contracts import T0, contract_config
from compute_pricing.timekeeping import FakeClock
from compute_pricing_mongo import MongoAccountStore, MongoStores
from compute_pricing_mongo._documents import decode, snapshot_update
from tests.support.mongo_fixtures import DatabaseFactory, Db, MongomockTier, Serialized, WireTier

ORG = "org_a"


def _history() -> list[Snapshot]:
    """The snapshot after each step of one org's life, built by the in-memory core."""
    clock = FakeClock(T0)
    billing = Billing.in_memory(contract_config(), clock=clock)
    steps: list[Callable[[], object]] = [
        lambda: billing.subscribe(ORG, "team"),
        lambda: billing.extras.credit_pack(ORG, "pack", "cs_1"),
        lambda: billing.attribute(
            ORG, "run_1", {"gpu": Decimal("0.100"), "llm.v2": Decimal("0.01")}
        ),
        lambda: billing.attribute(ORG, "run_2", {"default": Decimal("0.900")}),
        lambda: billing.attribute(ORG, "run_3", {"default": Decimal("0.400")}),
        lambda: billing.payment_failed(ORG, "in_1"),
        lambda: billing.payment_succeeded(ORG, "in_2"),
        lambda: clock.advance(timedelta(days=8)),
        billing.reset_all_due,
        lambda: billing.attribute(ORG, "run_4", {"gpu": Decimal("0.010")}),
        lambda: billing.subscribe(ORG, "free"),
        lambda: clock.advance(timedelta(days=31)),
        billing.extras.expire_old_entries,
        lambda: billing.attribute(ORG, "run_5", {"default": Decimal("0.001")}),
    ]
    snapshots: list[Snapshot] = []
    for step in steps:
        step()
        clock.advance(timedelta(seconds=1))
        snapshot = billing.stores.accounts.read_snapshot(ORG)
        if snapshot is not None and (not snapshots or snapshot.version > snapshots[-1].version):
            snapshots.append(snapshot)
    return snapshots


HISTORY = _history()


def _full_document(snapshot: Snapshot) -> dict[str, Any]:
    """The document the full update leaves in an empty collection."""
    document: dict[str, Any] = {"_id": snapshot.org, "org": snapshot.org}
    for path, value in snapshot_update(snapshot)["$set"].items():
        *parents, leaf = path.split(".")
        target = document
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = value
    return document


def _stored(db: Db) -> dict[str, Any]:
    document = db["accounts"].find_one({"org": ORG})
    assert document is not None
    return dict(decode(document))  # naive datetimes (clients not tz-aware) read as UTC


class Pair:
    """A remembering store and a full-update store on two databases, saving the same things."""

    def __init__(self, databases: DatabaseFactory) -> None:
        self.db, self.reference_db = databases(), databases()
        MongoStores(self.db)
        self.store = MongoAccountStore(self.db)
        MongoStores(self.reference_db)
        self.reference = MongoAccountStore(self.reference_db, remembered=0)

    def save(self, snapshot: Snapshot, expected: bool = True) -> None:
        """Save on both; both answer ``expected`` and hold the full encoding of ``stored``."""
        assert (expected, expected) == (
            self.reference.save_snapshot(snapshot),
            self.store.save_snapshot(snapshot),
        )

    def agree(self, snapshot: Snapshot) -> None:
        """Both documents are the full encoding of ``snapshot``."""
        full = dict(decode(_full_document(snapshot)))
        assert (full, full) == (_stored(self.reference_db), _stored(self.db))


class SnapshotChangesSuite:
    """The changed-fields path leaves the document the full path leaves."""

    def test_the_history_covers_every_kind_of_change(self) -> None:
        """Control: the saved states set and clear derived fields and change the subscription."""
        past_due = [s.state.subscription.past_due_since is not None for s in HISTORY]
        plans = {s.state.subscription.plan_id for s in HISTORY}
        expiries = [s.state.next_expiry is not None for s in HISTORY]
        assert (True, True) == (any(past_due), not past_due[-1])
        assert {"team", "free"} <= plans
        assert (True, False) == (any(expiries), expiries[-1])
        assert len({s.state.week.key for s in HISTORY if s.state.week is not None}) >= 2

    def test_every_save_stores_the_full_encoding(self, databases: DatabaseFactory) -> None:
        """Save by save, the remembering store's document equals the full update's."""
        pair = Pair(databases)
        for snapshot in HISTORY:
            pair.save(snapshot)
            pair.agree(snapshot)

    def test_another_process_moving_the_document_on_falls_back_to_the_full_update(
        self, databases: DatabaseFactory
    ) -> None:
        """A rival's write makes the guard miss; the full compare-and-set then decides."""
        pair = Pair(databases)
        rival = MongoAccountStore(pair.db)  # another process on the same database
        first, second, third, fourth = HISTORY[2:6]
        pair.save(first)
        assert True is rival.save_snapshot(second)
        assert True is pair.reference.save_snapshot(second)
        pair.agree(second)
        pair.save(third)  # remembered `first`: the guard misses, the full update stores it
        pair.agree(third)
        pair.save(fourth)
        pair.agree(fourth)

    def test_a_lost_compare_and_set_is_lost_on_both_and_the_next_save_agrees(
        self, databases: DatabaseFactory
    ) -> None:
        """Saving a version that is already stored answers False and changes nothing."""
        pair = Pair(databases)
        rival = MongoAccountStore(pair.db)
        older, current, newer = HISTORY[3:6]
        pair.save(older)
        assert True is rival.save_snapshot(current)
        assert True is pair.reference.save_snapshot(current)
        pair.save(current, expected=False)  # the rival stored this version first
        pair.agree(current)
        pair.save(older, expected=False)
        pair.agree(current)
        pair.save(newer)
        pair.agree(newer)

    def test_a_cache_miss_reads_then_saves_the_full_encoding(
        self, databases: DatabaseFactory
    ) -> None:
        """After ``forget`` (or in a new process) a read document is what the diff starts from."""
        pair = Pair(databases)
        for snapshot in HISTORY[:4]:
            pair.save(snapshot)
        pair.store.forget()
        assert HISTORY[3] == pair.store.read_snapshot(ORG)
        pair.save(HISTORY[4])
        pair.agree(HISTORY[4])
        newcomer = MongoAccountStore(pair.db)
        assert HISTORY[4] == newcomer.read_snapshot(ORG)
        assert True is newcomer.save_snapshot(HISTORY[5])
        assert True is pair.reference.save_snapshot(HISTORY[5])
        pair.agree(HISTORY[5])
        pair.store.forget(ORG)
        for snapshot in HISTORY[6:]:
            pair.save(snapshot)
            pair.agree(snapshot)

    def test_a_bulk_save_is_remembered_like_a_single_one(self, databases: DatabaseFactory) -> None:
        """``save_snapshots`` then ``save_snapshot``: the diff starts from the bulk write."""
        pair = Pair(databases)
        assert set() == pair.store.save_snapshots([HISTORY[0]])
        assert set() == pair.reference.save_snapshots([HISTORY[0]])
        assert {ORG} == pair.store.save_snapshots([HISTORY[0]])
        pair.save(HISTORY[1])
        assert set() == pair.store.save_snapshots([HISTORY[2]])
        assert set() == pair.reference.save_snapshots([HISTORY[2]])
        for snapshot in HISTORY[3:6]:
            pair.save(snapshot)
            pair.agree(snapshot)


class TestMongomockSnapshotChanges(MongomockTier, SnapshotChangesSuite):
    """Changed-fields updates on mongomock."""


class TestWireSnapshotChanges(WireTier, SnapshotChangesSuite):
    """Changed-fields updates over the wire (mongoeco)."""


# -- the updates sent (mongomock, every update recorded) ----------------------------------


class _Recorded:
    """A collection whose ``update_one`` calls are recorded as ``(filter, update, upsert)``."""

    def __init__(self, target: Any, calls: list[tuple[Any, Any, bool]], fail: list[bool]) -> None:
        self._target = target
        self._calls = calls
        self._fail = fail

    def update_one(self, query: Any, update: Any, upsert: bool = False) -> Any:
        """Record, fail once if asked, then update."""
        self._calls.append((query, update, upsert))
        if self._fail:
            self._fail.pop()
            raise mongomock.OperationFailure("injected")
        return self._target.update_one(query, update, upsert=upsert)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


class _Recording:
    """A database whose ``accounts`` collection records its updates."""

    def __init__(self, db: Any) -> None:
        self._db = db
        self.calls: list[tuple[Any, Any, bool]] = []
        self.fail: list[bool] = []

    def __getitem__(self, name: str) -> Any:
        collection = self._db[name]
        return _Recorded(collection, self.calls, self.fail) if name == "accounts" else collection

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


@pytest.fixture
def recording() -> _Recording:
    """A fresh mongomock database with the indexes, recording account updates."""
    db = Serialized(mongomock.MongoClient(), threading.RLock())["changes"]
    MongoStores(cast(Db, db))
    return _Recording(db)


def _store(recording: _Recording, remembered: int = 10) -> MongoAccountStore:
    return MongoAccountStore(cast(Db, recording), remembered=remembered)


def test_a_save_on_a_remembered_version_sets_only_what_changed(recording: _Recording) -> None:
    """After a charge only ``version``, ``at`` and the week are set, guarded by the version."""
    store = _store(recording)
    before, after = HISTORY[7], HISTORY[8]  # a charge within the quota
    assert True is store.save_snapshot(before)
    assert True is store.save_snapshot(after)
    query, update, upsert = recording.calls[-1]
    assert ({"org": ORG, "version": before.version}, False) == (query, upsert)
    assert ["version", "at", "state.week"] == list(update["$set"])
    assert "$unset" not in update


def test_with_nothing_remembered_a_save_is_the_full_upsert(recording: _Recording) -> None:
    """Forgotten, evicted by the bound, or ``remembered=0``: every path is set, with upsert."""
    full = _store(recording, remembered=0)
    assert True is full.save_snapshot(HISTORY[0])
    assert True is full.save_snapshot(HISTORY[1])
    bounded = _store(recording, remembered=1)
    assert True is bounded.save_snapshot(HISTORY[2])
    bounded.save_snapshot(Snapshot("org_b", 1, Account.new("org_b", "free")))
    assert True is bounded.save_snapshot(HISTORY[3])  # org_a was evicted by org_b
    calls = [call for call in recording.calls if call[0]["org"] == ORG]
    assert [True, True, True, True] == [upsert for _, _, upsert in calls]
    assert all("state.subscription.plan_id" in update["$set"] for _, update, _ in calls)


def test_a_failed_save_forgets_so_the_next_one_is_full(recording: _Recording) -> None:
    """An error on the changed-fields update raises and the next save sets every path."""
    store = _store(recording)
    assert True is store.save_snapshot(HISTORY[2])
    recording.fail.append(True)
    with pytest.raises(Exception, match="injected"):
        store.save_snapshot(HISTORY[3])
    assert True is store.save_snapshot(HISTORY[4])
    _, update, upsert = recording.calls[-1]
    assert (True, True) == (upsert, "state.subscription.plan_id" in update["$set"])


def test_a_corrupt_read_forgets_the_document(recording: _Recording) -> None:
    """A snapshot refused as corrupt is not diffed against: the next save is full."""
    store = _store(recording)
    assert True is store.save_snapshot(HISTORY[2])
    recording["accounts"].update_one({"org": ORG}, {"$set": {"state.usage_debt": "7"}})
    with pytest.raises(Exception, match="usage_debt"):
        store.read_snapshot(ORG)
    assert True is store.save_snapshot(HISTORY[3])
    assert True is recording.calls[-1][2]
    assert HISTORY[3] == store.read_snapshot(ORG)


@pytest.mark.parametrize("remembered", [-1, True, 1.5])
def test_remembered_must_be_a_whole_number_of_orgs(remembered: Any) -> None:
    """A negative, boolean or fractional bound is refused when the store is built."""
    db = cast(Db, mongomock.MongoClient()["bad"])
    with pytest.raises(ValueError, match="remembered"):
        MongoAccountStore(db, remembered=remembered)
