"""A hung MongoDB server fails calls within the client's deadline and leaves nothing half-written.

The test starts its own mongoeco wire server (the session's one stays untouched), stops it
with ``SIGSTOP`` (the process is alive, sockets open, nothing answers: a hung primary) and
continues it with ``SIGCONT`` afterwards.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pymongo
import pytest
from pymongo import MongoClient

from compute_pricing import Billing, FakeClock
from compute_pricing.evolve import fold
from compute_pricing.state import Account
from compute_pricing.testing.contracts import contract_config
from compute_pricing_mongo import MongoStores, MongoUnavailableError, client_options
from tests.support.mongo_fixtures import REPO_ROOT, SERVER_SCRIPT
from tests.support.mongo_wire import ensure_mongoeco_venv, mongoeco_server_process

TIMEOUT_MS = 1_000
BOUND_SECONDS = 10 * TIMEOUT_MS / 1_000
"""Generous upper bound on how long a call may block on a hung server (10x the deadline)."""

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
COST = {"gpu": Decimal("0.100")}  # 250 units on the contract plan


@pytest.fixture
def hung_server() -> Iterator[tuple[str, int]]:
    """``(uri, pid)`` of a private wire server; continued on the way out if still stopped."""
    python = ensure_mongoeco_venv(REPO_ROOT)
    with mongoeco_server_process(python, SERVER_SCRIPT) as (uri, process):
        try:
            yield uri, process.pid
        finally:
            os.kill(process.pid, signal.SIGCONT)


def _billing(client: MongoClient[dict[str, Any]], clock: FakeClock) -> Billing:
    return Billing(
        contract_config(), stores=MongoStores(client["billing"], clock=clock), clock=clock
    )


def _timed(call: Any) -> tuple[BaseException, float]:
    started = time.monotonic()
    with pytest.raises(MongoUnavailableError) as raised:
        call()
    return raised.value, time.monotonic() - started


def test_a_hung_server_fails_within_the_deadline_and_nothing_is_half_written(
    hung_server: tuple[str, int],
) -> None:
    """Stopped server: attribute and the gate raise 503 within 10x timeoutMS; state stays whole."""
    uri, pid = hung_server
    clock = FakeClock(START)
    client: MongoClient[dict[str, Any]] = MongoClient(uri, **client_options(timeout_ms=TIMEOUT_MS))
    plain: MongoClient[dict[str, Any]] = MongoClient(uri, tz_aware=True)
    try:
        billing = _billing(client, clock)
        billing.subscribe("org_a", "team")
        assert 250 == billing.attribute("org_a", "run_1", COST).units
        scoped = _billing(plain, clock)  # no client deadline: pymongo.timeout() gives one
        os.kill(pid, signal.SIGSTOP)
        # A watchdog ends the hang after the bound: a call without a deadline then fails the
        # test (it succeeds late, or blocks past the bound) instead of hanging the suite.
        watchdog = threading.Timer(BOUND_SECONDS, os.kill, (pid, signal.SIGCONT))
        watchdog.start()
        write_error, write_seconds = _timed(lambda: billing.attribute("org_a", "run_2", COST))
        read_error, read_seconds = _timed(lambda: billing.check_quota("org_a"))
        with pymongo.timeout(TIMEOUT_MS / 1_000):
            block_error, block_seconds = _timed(lambda: scoped.check_quota("org_a"))
        watchdog.cancel()
        os.kill(pid, signal.SIGCONT)
        assert all(
            seconds < BOUND_SECONDS for seconds in (write_seconds, read_seconds, block_seconds)
        ), (write_seconds, read_seconds, block_seconds)
        assert [503, 503, 503] == [
            getattr(e, "status", 0) for e in (write_error, read_error, block_error)
        ]
        # After the hang: the interrupted run is either committed or not, never half.
        clock.advance(timedelta(seconds=1))
        retried = billing.attribute("org_a", "run_2", COST)
        assert 250 == retried.units
        journal = billing.stores.accounts.read_journal("org_a")
        assert list(range(1, len(journal) + 1)) == [entry.seq for entry in journal]
        folded = fold(Account.new("org_a", "free"), [e for entry in journal for e in entry.events])
        snapshot = billing.stores.accounts.read_snapshot("org_a")
        assert snapshot is not None
        assert (len(journal), folded) == (snapshot.version, snapshot.state)
        assert folded.week is not None
        assert 500 == folded.week.used  # two runs of 250, neither lost nor doubled
    finally:
        client.close()
        plain.close()
