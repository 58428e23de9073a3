"""The snapshot cache over the wire: fewer commands, and a cache behind another process is safe.

Two OS processes (``mongo_attribute_worker``) attribute to one org with their caches on: each
commit the other made first turns the cached version into a lost insert that falls back to a
catch-up, and the sums stay exact. One process alone shows the fast-path command counts.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from pymongo import MongoClient, monitoring

from compute_pricing import Billing, BillingConfig, FakeClock, PackSettings, PlanSettings
from compute_pricing_mongo import MongoStores
from tests.integration.mongo_attribute_worker import START_ISO, UNITS, config
from tests.integration.test_mongo_two_processes import RUNS, SHARED, TIMEOUT_SECONDS, _start
from tests.support.mongo_fixtures import DatabaseFactory, unique_name


class Commands(monitoring.CommandListener):
    """Counts the commands sent to one database by name."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.counts: Counter[str] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        """Count a command on the watched database."""
        if event.database_name == self.database:
            self.counts[event.command_name] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        """Nothing to count."""

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        """Nothing to count."""

    def take(self) -> Counter[str]:
        """The counts so far, reset."""
        taken, self.counts = self.counts, Counter()
        return taken


def warm_plans(billing: Billing, commands: Commands) -> None:
    """Refill the plan cache (its hour ran out as the clock jumped), uncounted."""
    billing.plans.get_active_plan("team")
    billing.plans.get_active_plan("free")
    commands.take()


def test_two_processes_with_caches_fall_back_and_stay_exact(
    mongo_wire_uri: str, mongo_wire_databases: DatabaseFactory
) -> None:
    """Both workers cache: the other's commits make them fall back; sums exact, seqs gapless."""
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
        for worker in workers:  # release both before waiting for either
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
    assert expected_units == sum(report["applied"] for report in reports)
    assert 0 < sum(report["cache_fallbacks"] for report in reports)
    assert all(report["cache_hits"] > RUNS for report in reports)  # the fast path was taken
    usage = billing.usage("org_shared")
    assert (expected_units, 5_000 - (expected_units - 1_000)) == (
        usage["compute_used"],
        usage["extras_remaining"],
    )
    journal = billing.stores.accounts.read_journal("org_shared")
    assert list(range(1, len(journal) + 1)) == [entry.seq for entry in journal]
    assert 2 + 2 * RUNS + SHARED == len(journal)


def test_fast_path_command_counts(mongo_wire_uri: str) -> None:
    """Cached: attribution insert + update; a reset and an expiry three commands per account."""
    name = unique_name("wire")
    commands = Commands(name)
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_wire_uri, event_listeners=[commands])
    try:
        clock = FakeClock(datetime.fromisoformat(START_ISO))
        expiring = BillingConfig(
            compute_mode=True,
            plans=(PlanSettings(plan_id="free"), PlanSettings(plan_id="team", compute_quota=100)),
            packs=(PackSettings(pack_id="pack", units=500, price_cents=900, expiry_days=30),),
        )
        stores = MongoStores(client[name], clock=clock)
        billing = Billing(expiring, stores=stores, clock=clock)
        billing.subscribe("org_c", "team")
        billing.extras.credit_pack("org_c", "pack", "cs_1")
        cost = {"llm": Decimal("0.004")}
        billing.attribute("org_c", "warm", cost)
        commands.take()
        billing.check_quota("org_c")
        assert Counter({"find": 1}) == commands.take()
        for i in range(5):
            billing.attribute("org_c", f"run_{i}", cost)
        assert Counter({"insert": 5, "update": 5}) == commands.take()
        clock.advance(timedelta(days=7))
        warm_plans(billing, commands)
        billing.accounts.cache.forget()  # a cron process starts cold
        assert 1 == billing.reset_all_due().processed
        # one find is the sweep's query (one per batch of orgs), one the account's snapshot
        assert Counter({"find": 2, "insert": 1, "update": 1}) == commands.take()
        clock.advance(timedelta(days=31))
        warm_plans(billing, commands)
        billing.accounts.cache.forget()
        assert 1 == billing.extras.expire_old_entries().processed
        assert Counter({"find": 2, "insert": 1, "update": 1}) == commands.take()
    finally:
        client.drop_database(name)
        client.close()
