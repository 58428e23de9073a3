"""Pytest fixtures for the MongoDB tiers, loaded as a plugin by ``tests/conftest.py``.

Three tiers run the same tests:

- ``mongomock``: the in-process fake (``mongomock.MongoClient``), no server;
- ``wire``: the mongoeco wire-protocol server, started once per session as a subprocess on
  127.0.0.1 from its own Python 3.13 virtualenv (``.venv-mongoeco``, built on first use) and
  reached through real pymongo. A missing Python 3.13 makes these tests error, never skip;
- ``real``: a real MongoDB at ``COMPUTE_PRICING_TEST_MONGODB_URI``; without it the tier is
  reported as skipped.

Each test gets fresh databases with unique names, dropped afterwards.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar, TypeVar, cast

import mongomock
import mongomock.collection
import mongomock.command_cursor
import pytest
from pymongo import MongoClient, monitoring
from pymongo.database import Database
from pymongo.errors import BulkWriteError, DuplicateKeyError

from compute_pricing.ports import Clock
from compute_pricing_mongo import MongoStores
from tests.support.mongo_wire import ensure_mongoeco_venv, mongoeco_server
from tests.support.tiers import REAL_URI_ENV

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVER_SCRIPT = Path(__file__).resolve().parent / "mongoeco_server.py"

Db = Database[dict[str, Any]]
Client = MongoClient[dict[str, Any]]
DatabaseFactory = Callable[[], Db]
StoresFactory = Callable[[Clock], MongoStores]

requires_real_mongodb = pytest.mark.real_mongodb
"""Mark for the real-MongoDB tier: without a URI these tests are not collected (deselected);
``tests/contract/test_real_mongodb_tier.py`` reports the tier's status in one line."""


L = TypeVar("L", bound=monitoring.CommandListener)


def unique_name(tier: str) -> str:
    """A fresh database name (MongoDB limits names to 63 bytes)."""
    return f"cp_{tier}_{uuid.uuid4().hex[:16]}"


class Serialized:
    """A mongomock object whose every call runs under one lock; cursors are read under it too.

    A server applies each single-document write atomically; mongomock, not thread-safe, checks
    a filter and then mutates the document field by field, so two threads' updates of one
    document interleave (a frankenstein snapshot) and two inserts can both pass a unique check.
    The multi-threaded contract tests need the server's atomicity, so the mongomock tier
    serialises every call (stronger than a server, and harmless for single-threaded tests).
    """

    def __init__(self, target: Any, lock: threading.RLock) -> None:
        self._target = target
        self._lock = lock

    def bulk_write(self, requests: list[Any], *, ordered: bool = True) -> None:
        """``UpdateOne`` requests one by one (mongomock's own ``bulk_write`` does not take this
        pymongo's requests), their duplicate key errors gathered as a server's unordered
        ``BulkWriteError``."""
        errors: list[dict[str, Any]] = []
        for index, request in enumerate(requests):
            try:
                with self._lock:
                    self._target.update_one(
                        request._filter, request._doc, upsert=bool(request._upsert)
                    )
            except DuplicateKeyError as exc:
                errors.append({"index": index, "code": exc.code, "errmsg": str(exc)})
                if ordered:
                    break
        if errors:
            raise BulkWriteError({"writeErrors": errors, "writeConcernErrors": []})

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if not callable(value):
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return self._wrap(value(*args, **kwargs))

        return call

    def __getitem__(self, name: str) -> Serialized:
        with self._lock:
            return Serialized(self._target[name], self._lock)

    def __iter__(self) -> Iterator[Any]:
        with self._lock:
            return iter(list(self._target))

    def _wrap(self, result: Any) -> Any:
        if isinstance(
            result, (mongomock.collection.Cursor, mongomock.command_cursor.CommandCursor)
        ):
            return Serialized(result, self._lock)
        return result


@contextmanager
def listened_database(
    uri: str, listener_for: Callable[[str], L]
) -> Iterator[tuple[Database[dict[str, Any]], L]]:
    """A fresh database on ``uri`` whose commands ``listener_for(name)`` hears; dropped after."""
    name = unique_name("wire")
    listener = listener_for(name)
    client: MongoClient[dict[str, Any]] = MongoClient(uri, event_listeners=[listener])
    try:
        yield client[name], listener
    finally:
        client.drop_database(name)
        client.close()


@contextmanager
def database_factory(client: Any, tier: str) -> Iterator[DatabaseFactory]:
    """Yield a maker of fresh databases on ``client``; drop every one made on exit."""
    made: list[str] = []

    def make() -> Db:
        name = unique_name(tier)
        made.append(name)
        return cast(Db, client[name])

    try:
        yield make
    finally:
        for name in made:
            client.drop_database(name)


@pytest.fixture(scope="session")
def mongo_wire_uri() -> Iterator[str]:
    """The URI of this session's mongoeco wire server (built and started on first use)."""
    python = ensure_mongoeco_venv(REPO_ROOT)
    with mongoeco_server(python, SERVER_SCRIPT) as uri:
        yield uri


@pytest.fixture(scope="session")
def mongo_wire_client(mongo_wire_uri: str) -> Iterator[Client]:
    """A pymongo client of the wire server; not tz-aware, so the adapters must normalise."""
    client: Client = MongoClient(mongo_wire_uri, serverSelectionTimeoutMS=10_000)
    client.admin.command("ping")  # server_info() is not supported by mongoeco
    yield client
    client.close()


@pytest.fixture(scope="session")
def mongo_real_client() -> Iterator[Client]:
    """A tz-aware pymongo client of the real MongoDB named by the environment."""
    uri = os.environ.get(REAL_URI_ENV)
    if not uri:
        pytest.skip(f"{REAL_URI_ENV} is not set")
    client: Client = MongoClient(uri, tz_aware=True, serverSelectionTimeoutMS=10_000)
    client.admin.command("ping")
    yield client
    client.close()


@pytest.fixture
def mongomock_databases() -> Iterator[DatabaseFactory]:
    """Fresh mongomock databases (one in-process client per test)."""
    client = Serialized(mongomock.MongoClient(), threading.RLock())
    with database_factory(client, "mock") as make:
        yield make


@pytest.fixture
def mongo_wire_databases(mongo_wire_client: Client) -> Iterator[DatabaseFactory]:
    """Fresh databases on the wire server."""
    with database_factory(mongo_wire_client, "wire") as make:
        yield make


@pytest.fixture
def mongo_real_databases(mongo_real_client: Client) -> Iterator[DatabaseFactory]:
    """Fresh databases on the real MongoDB."""
    with database_factory(mongo_real_client, "real") as make:
        yield make


@pytest.fixture
def mongo_wire_stores(mongo_wire_databases: DatabaseFactory) -> StoresFactory:
    """``(clock) -> MongoStores`` on a fresh wire-server database per call (service suite)."""

    def build(clock: Clock) -> MongoStores:
        return MongoStores(mongo_wire_databases(), clock=clock)

    return build


@pytest.fixture
def mongomock_stores(mongomock_databases: DatabaseFactory) -> StoresFactory:
    """``(clock) -> MongoStores`` on a fresh mongomock database per call."""

    def build(clock: Clock) -> MongoStores:
        return MongoStores(mongomock_databases(), clock=clock)

    return build


# -- tiers: mixins for test classes -------------------------------------------------------


class MongoTier:
    """A Mongo tier: provides ``databases``, a maker of fresh, auto-dropped databases."""

    tier: ClassVar[str] = ""
    ttl_wait_seconds: ClassVar[float] = 5.0

    @pytest.fixture
    def databases(self) -> DatabaseFactory:
        """Fresh databases of this tier (override)."""
        raise NotImplementedError


class MongomockTier(MongoTier):
    """The in-process fake."""

    tier = "mongomock"

    @pytest.fixture
    def databases(self, mongomock_databases: DatabaseFactory) -> DatabaseFactory:
        """Fresh mongomock databases."""
        return mongomock_databases


class WireTier(MongoTier):
    """mongoeco over the wire, through real pymongo."""

    tier = "wire"

    @pytest.fixture
    def databases(self, mongo_wire_databases: DatabaseFactory) -> DatabaseFactory:
        """Fresh databases on the session's wire server."""
        return mongo_wire_databases


@requires_real_mongodb
class RealTier(MongoTier):
    """A real MongoDB; its TTL monitor runs once a minute, so TTL checks wait longer."""

    tier = "real"
    ttl_wait_seconds = 150.0

    @pytest.fixture
    def databases(self, mongo_real_databases: DatabaseFactory) -> DatabaseFactory:
        """Fresh databases on the real server."""
        return mongo_real_databases
