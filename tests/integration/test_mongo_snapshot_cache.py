"""The snapshot cache over the wire: the fast-path command counts of one process.

That a cache behind another process is safe (its lost inserts fall back to a catch-up and the
sums stay exact) is shown by the racing workers of ``test_mongo_two_processes``.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from pymongo import monitoring

from compute_pricing import Billing, BillingConfig, FakeClock, PackSettings, PlanSettings
from compute_pricing_mongo import MongoStores
from tests.integration.mongo_attribute_worker import START_ISO
from tests.support.mongo_fixtures import listened_database


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


def test_fast_path_command_counts(mongo_wire_uri: str) -> None:
    """Cached: attribution insert + update; a reset and an expiry three commands per account."""
    with listened_database(mongo_wire_uri, Commands) as (db, commands):
        clock = FakeClock(datetime.fromisoformat(START_ISO))
        expiring = BillingConfig(
            compute_mode=True,
            plans=(PlanSettings(plan_id="free"), PlanSettings(plan_id="team", compute_quota=100)),
            packs=(PackSettings(pack_id="pack", units=500, price_cents=900, expiry_days=30),),
        )
        stores = MongoStores(db, clock=clock)
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


class Updates(Commands):
    """Also keeps the ``$set`` paths and the filter of each account update."""

    def __init__(self, database: str) -> None:
        super().__init__(database)
        self.updates: list[tuple[dict[str, Any], list[str]]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        """Count the command; keep an account update's filter and paths."""
        super().started(event)
        if event.database_name == self.database and event.command_name == "update":
            for update in event.command["updates"]:
                self.updates.append((dict(update["q"]), list(update["u"].get("$set", {}))))


def test_a_cached_attribution_sets_only_what_it_changed(mongo_wire_uri: str) -> None:
    """Over the wire the snapshot update of a charge sets version, at and the week only."""
    with listened_database(mongo_wire_uri, Updates) as (db, updates):
        clock = FakeClock(datetime.fromisoformat(START_ISO))
        config = BillingConfig(
            compute_mode=True,
            plans=(PlanSettings(plan_id="free"), PlanSettings(plan_id="team", compute_quota=100)),
        )
        billing = Billing(config, stores=MongoStores(db, clock=clock), clock=clock)
        billing.subscribe("org_c", "team")
        billing.attribute("org_c", "warm", {"llm": Decimal("0.004")})
        updates.take()
        updates.updates.clear()
        clock.advance(timedelta(seconds=1))
        billing.attribute("org_c", "run", {"llm": Decimal("0.004")})
        assert Counter({"insert": 1, "update": 1}) == updates.take()
        [(query, paths)] = updates.updates
        version = query["version"]
        assert ({"org": "org_c", "version": version}, ["version", "at", "state.week"]) == (
            query,
            paths,
        )
        stored = billing.stores.accounts.read_snapshot("org_c")
        assert stored is not None
        assert version + 1 == stored.version
