"""Crash injection over the wire: workers killed anywhere lose nothing and double nothing.

A worker process (``mongo_crash_worker``) attributes runs and credits packs in a loop fixed by
a seed. The test kills it again and again: ``SIGKILL`` at random points (mid-call included),
and ``os._exit`` right after a journal append, before the snapshot refresh. Then the parent
replays every call: each is charged exactly once, the journal is gapless, and after one fresh
write the snapshot equals the fold of the journal and the gate answers what the fold says.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from compute_pricing import Billing, FakeClock
from compute_pricing import events as ev
from compute_pricing.evolve import fold
from compute_pricing.journal import Snapshot
from compute_pricing.state import Account
from compute_pricing_mongo import MongoStores
from tests.integration.mongo_crash_worker import (
    COST,
    EXIT_AFTER_APPEND_ENV,
    EXIT_CODE,
    ORG,
    PACK_UNITS,
    QUOTA,
    START_ISO,
    UNITS,
    calls,
    config,
    run_call,
)
from tests.support.mongo_fixtures import DatabaseFactory

REPO_ROOT = Path(__file__).resolve().parents[2]
SEED = 8
CALLS = 50
ROUNDS = 8
WORKER_TIMEOUT_SECONDS = 60


def _worker(uri: str, db: str, start: int, exit_after: int | None) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env.pop(EXIT_AFTER_APPEND_ENV, None)
    if exit_after is not None:
        env[EXIT_AFTER_APPEND_ENV] = str(exit_after)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.integration.mongo_crash_worker",
            uri,
            db,
            str(SEED),
            str(CALLS),
            str(start),
        ],
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _done(lines: list[str], before: int) -> int:
    """The index after the last ``DONE <index>`` line (``before`` if there is none)."""
    done = [int(line.split()[1]) + 1 for line in lines if line.startswith("DONE ")]
    return max(done, default=before)


def _kill_after(worker: subprocess.Popen[str], lines: int, pause: float) -> list[str]:
    """SIGKILL ``worker`` ``pause`` seconds after its ``lines``-th ``DONE`` line."""
    assert worker.stdout is not None
    seen: list[str] = []
    while len(seen) < lines:
        line = worker.stdout.readline()
        if not line.startswith("DONE"):
            break
        seen.append(line)
    time.sleep(pause)
    worker.send_signal(signal.SIGKILL)
    worker.wait(WORKER_TIMEOUT_SECONDS)
    return seen


def test_killed_workers_lose_and_double_nothing(
    mongo_wire_uri: str, mongo_wire_databases: DatabaseFactory
) -> None:
    """SIGKILLs and exits between commit and refresh, then a full replay: exact, gapless, healed."""
    db = mongo_wire_databases()
    clock = FakeClock(datetime.fromisoformat(START_ISO))
    billing = Billing(config(), stores=MongoStores(db, clock=clock), clock=clock)
    billing.subscribe(ORG, "team")
    rng = random.Random(SEED)
    exits = progress = 0
    for round_ in range(ROUNDS):
        start = max(0, progress - 2)  # a restart replays a little, then goes on
        if round_ % 2:  # die right after a journal append, before the snapshot refresh
            worker = _worker(mongo_wire_uri, db.name, start, exit_after=rng.randint(2, 12))
            out, err = worker.communicate(timeout=WORKER_TIMEOUT_SECONDS)
            assert EXIT_CODE == worker.returncode, err
            progress = _done(out.splitlines(), progress)
            exits += 1
        else:  # SIGKILL at a random point, possibly mid-call
            worker = _worker(mongo_wire_uri, db.name, start, exit_after=None)
            progress = _done(
                _kill_after(worker, rng.randint(1, 12), rng.uniform(0, 0.02)), progress
            )
            assert -signal.SIGKILL == worker.returncode, worker.stderr and worker.stderr.read()
        if worker.stdout is not None:
            worker.stdout.close()
        if worker.stderr is not None:
            worker.stderr.close()
    assert ROUNDS // 2 == exits
    # Replay every call in the parent: the ones a worker committed answer as replays.
    plan = calls(SEED, CALLS)
    outcomes = [run_call(billing, call) for call in plan]
    runs = sum(1 for kind, _ in plan if kind == "attribute")
    packs = len(plan) - runs
    replays = sum(replayed for _, replayed in outcomes)
    assert progress <= replays < len(plan)  # what the workers committed answers as a replay
    assert runs * UNITS == sum(
        u for (kind, _), (u, _) in zip(plan, outcomes, strict=True) if kind == "attribute"
    )
    journal = billing.stores.accounts.read_journal(ORG)
    assert list(range(1, len(journal) + 1)) == [entry.seq for entry in journal]
    assert 1 + len(plan) == len(journal)  # the subscription, then one entry per call: no double
    charged = [e for entry in journal for e in entry.events if isinstance(e, ev.ComputeCharged)]
    credited = [e for entry in journal for e in entry.events if isinstance(e, ev.ExtrasCredited)]
    assert (runs * UNITS, packs * PACK_UNITS) == (
        sum(e.units for e in charged),
        sum(e.units for e in credited),
    )
    # One fresh write catches the snapshot up; it then equals the fold of the journal.
    fresh = billing.attribute(ORG, "run_fresh", COST)
    assert (True, False) == (fresh.applied, fresh.replayed)
    journal = billing.stores.accounts.read_journal(ORG)
    folded = fold(Account.new(ORG, "free"), [e for entry in journal for e in entry.events])
    snapshot = billing.stores.accounts.read_snapshot(ORG)
    assert Snapshot(ORG, len(journal), folded, at=journal[-1].at) == snapshot
    assert folded.week is not None
    assert (runs + 1) * UNITS == folded.week.used
    assert packs * PACK_UNITS - max(0, (runs + 1) * UNITS - QUOTA) == folded.ledger_balance
    # The gate answers what the fold says: the same question asked of a store holding the fold.
    reference = Billing.in_memory(config(), clock=clock)
    reference.stores.accounts.save_snapshot(Snapshot(ORG, len(journal), folded))
    assert reference.check_quota(ORG) == billing.check_quota(ORG)
