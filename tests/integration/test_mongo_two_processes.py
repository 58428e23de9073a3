"""Two OS processes attribute to one org through the wire server: nothing lost, nothing doubled."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from compute_pricing import Billing, FakeClock
from compute_pricing_mongo import MongoStores
from tests.integration.mongo_attribute_worker import START_ISO, UNITS, config
from tests.support.mongo_fixtures import DatabaseFactory

REPO_ROOT = Path(__file__).resolve().parents[2]
RUNS = 150
SHARED = 30
TIMEOUT_SECONDS = 180


def _start(uri: str, db: str, name: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.integration.mongo_attribute_worker",
            uri,
            db,
            name,
            str(RUNS),
            str(SHARED),
        ],
        cwd=REPO_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_processes_lose_nothing_and_double_nothing(
    mongo_wire_uri: str, mongo_wire_databases: DatabaseFactory
) -> None:
    """Racing, 150 own runs each + 30 both send: every unit once, caches fall back, seqs gapless."""
    db = mongo_wire_databases()
    clock = FakeClock(datetime.fromisoformat(START_ISO))
    billing = Billing(config(), stores=MongoStores(db, clock=clock), clock=clock)
    billing.subscribe("org_shared", "team")
    billing.extras.credit_pack("org_shared", "pack", "cs_1")
    workers = [_start(mongo_wire_uri, db.name, name) for name in ("a", "b")]
    try:
        for worker in workers:
            assert worker.stdout is not None
            assert "READY\n" == worker.stdout.readline()
        for worker in workers:  # release both before waiting for either, so they race
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        outputs = [worker.communicate(timeout=TIMEOUT_SECONDS) for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:  # pragma: no cover - only when a worker hangs
                worker.kill()
    assert [0, 0] == [worker.returncode for worker in workers], [err for _, err in outputs]
    reports: list[dict[str, Any]] = [json.loads(out) for out, _ in outputs]
    expected_units = (2 * RUNS + SHARED) * UNITS
    assert expected_units > 1_000  # past the weekly quota: extras are charged too
    shared_replays = [
        sum(pair) for pair in zip(*(r["shared_replayed"] for r in reports), strict=True)
    ]
    assert expected_units == sum(report["applied"] for report in reports)
    assert [1] * SHARED == shared_replays  # each shared run: applied by one, replayed by other
    # both write with their snapshot caches on: the other's commits make each fall back
    assert 0 < sum(report["cache_fallbacks"] for report in reports)
    assert all(report["cache_hits"] > RUNS for report in reports)  # the fast path was taken
    usage = billing.usage("org_shared")
    assert (expected_units, 5_000 - (expected_units - 1_000)) == (
        usage["compute_used"],
        usage["extras_remaining"],
    )
    journal = billing.stores.accounts.read_journal("org_shared")
    assert list(range(1, len(journal) + 1)) == [entry.seq for entry in journal]
    assert 2 + 2 * RUNS + SHARED == len(journal)  # subscribe, pack, then one entry per run
