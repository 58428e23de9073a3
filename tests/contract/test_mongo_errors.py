"""pymongo failures cross the ports as the library's errors; races the tiers cannot stage."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.errors import DuplicateKeyError, ExecutionTimeout, OperationFailure

from compute_pricing import BillingError
from compute_pricing.journal import Snapshot
from compute_pricing.state import Account
from compute_pricing.testing.contracts import T0, rich_entries
from compute_pricing.timekeeping import FakeClock
from compute_pricing_mongo import (
    MongoAccountStore,
    MongoStoreError,
    MongoStores,
    MongoUnavailableError,
)
from compute_pricing_mongo.cli import migrate, register
from compute_pricing_mongo.errors import translate
from tests.support.mongo_fixtures import DatabaseFactory, Db

UNREACHABLE = "mongodb://127.0.0.1:9/?directConnection=true"


@pytest.fixture
def unreachable() -> Iterator[Db]:
    """A database on a server that does not exist (gives up after 50 ms, no retries)."""
    client: MongoClient[dict[str, Any]] = MongoClient(
        UNREACHABLE, serverSelectionTimeoutMS=50, retryReads=False, retryWrites=False
    )
    yield client["nowhere"]
    client.close()


def _calls(stores: MongoStores) -> list[Callable[[], object]]:
    entry = rich_entries("org_a")[0]
    accounts, processed, lock = stores.accounts, stores.processed_events, stores.lock
    plans = stores.plans
    assert plans is not None

    def hold() -> None:
        with lock.hold("reset", 60):
            pass  # pragma: no cover - the lease cannot be taken

    return [
        lambda: accounts.read_snapshot("org_a"),
        lambda: accounts.read_journal("org_a"),
        lambda: accounts.find_entry("org_a", "k"),
        lambda: accounts.append(entry),
        lambda: accounts.save_snapshot(Snapshot("org_a", 1, Account.new("org_a", "free"))),
        lambda: list(accounts.iter_ledger("org_a")),
        lambda: accounts.orgs_due_for_reset(T0, after=None, limit=10),
        lambda: accounts.orgs_with_expiring_lots(T0, after="a", limit=10),
        lambda: accounts.orgs_past_due_before(T0, after=None, limit=10),
        lambda: plans.get("team", 1),
        lambda: plans.versions("team"),
        lambda: plans.close("team", 1, T0),
        lambda: processed.claim("evt", "x", T0),
        lambda: processed.mark_done("evt", T0),
        lambda: processed.mark_failed("evt", T0, 5),
        hold,
        stores.ensure_indexes,
    ]


def _raised(call: Callable[[], object]) -> BaseException | None:
    try:
        call()
    except BaseException as exc:
        return exc
    return None  # pragma: no cover - reported by the assertion


def test_an_unreachable_server_is_unavailable_on_every_call(unreachable: Db) -> None:
    """Every store call raises ``MongoUnavailableError`` (503), chained to pymongo's error."""
    stores = MongoStores(unreachable, clock=FakeClock(T0), ensure_indexes=False)
    calls = _calls(stores)
    with ThreadPoolExecutor(len(calls)) as pool:  # each waits ~0.5 s for server selection
        raised = list(pool.map(_raised, calls))
    kinds = [
        (
            type(exc).__name__,
            getattr(exc, "status", None),
            getattr(exc, "__cause__", None) is not None,
        )
        for exc in raised
    ]
    assert [("MongoUnavailableError", 503, True)] * len(calls) == kinds


def test_building_stores_on_an_unreachable_server_fails_clearly(unreachable: Db) -> None:
    """Creating the indexes at construction reports the outage as a ``BillingError``."""
    with pytest.raises(BillingError) as caught:
        MongoStores(unreachable)
    assert "STORE_UNAVAILABLE" == caught.value.code


def test_a_conflicting_index_is_a_store_error(mongo_wire_databases: DatabaseFactory) -> None:
    """An index of the same name with other options is refused, never replaced (500)."""
    db = mongo_wire_databases()
    db["accounts"].create_index([("org", 1)], name="org_unique")
    with pytest.raises(MongoStoreError) as caught:
        MongoStores(db)
    assert (500, "STORE_ERROR", "create index accounts.org_unique") == (
        caught.value.status,
        caught.value.code,
        caught.value.operation,
    )
    assert {
        "error": "STORE_ERROR",
        "message": caught.value.message,
        "operation": "create index accounts.org_unique",
    } == caught.value.to_dict()


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (OperationFailure("bad"), MongoStoreError),
        (ExecutionTimeout("slow"), MongoUnavailableError),
    ],
)
def test_the_translation_table(error: Exception, expected: type[MongoStoreError]) -> None:
    """Server failures map to 500, timeouts to 503."""
    assert expected is type(translate(error, "op"))  # type: ignore[arg-type]


class _RivalFirst:
    """Wraps the snapshots collection: a rival's snapshot lands just before our upsert."""

    def __init__(self, collection: Any, rival: Snapshot, store: MongoAccountStore) -> None:
        self._collection = collection
        self._rival = rival
        self._store = store
        self.raced = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._collection, name)

    def update_one(self, spec: Any, update: Any, upsert: bool = False) -> Any:
        if upsert and not self.raced:
            self.raced = True
            self._store._accounts = self._collection  # the rival writes directly
            self._store.save_snapshot(self._rival)
            self._store._accounts = self  # type: ignore[assignment]
            raise DuplicateKeyError("E11000 duplicate key error (org)")
        return self._collection.update_one(spec, update, upsert=upsert)


@pytest.mark.parametrize(("rival_version", "wins"), [(1, True), (3, False)])
def test_a_first_snapshot_race_is_settled_by_version(
    mongomock_databases: DatabaseFactory, rival_version: int, wins: bool
) -> None:
    """When a rival creates the first snapshot under us, the newer version ends up stored."""
    store = MongoAccountStore(mongomock_databases())
    rival = Snapshot("org_a", rival_version, Account.new("org_a", "rival"))
    ours = Snapshot("org_a", 2, Account.new("org_a", "ours"))
    store._accounts = _RivalFirst(store._accounts, rival, store)  # type: ignore[assignment]
    assert wins is store.save_snapshot(ours)
    assert (ours if wins else rival) == store.read_snapshot("org_a")


def test_migrate_without_pymongo_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Where pymongo is missing the command exits 2 naming the extra to install."""
    import argparse  # noqa: PLC0415 - only this test builds its own parser

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["migrate", "--uri", UNREACHABLE])
    monkeypatch.setitem(sys.modules, "pymongo", None)
    assert 2 == migrate(args)
    assert "pip install 'compute-pricing[mongo]'" in capsys.readouterr().err
