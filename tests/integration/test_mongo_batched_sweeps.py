"""Batched sweeps over the wire: one query and two bulk writes per batch of accounts."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal

from compute_pricing import Billing, BillingConfig, FakeClock, PackSettings, PlanSettings
from compute_pricing_mongo import MongoStores
from tests.integration.mongo_attribute_worker import START_ISO
from tests.integration.test_mongo_snapshot_cache import Commands, warm_plans
from tests.support.mongo_fixtures import listened_database

ORGS = [f"org_{i:02d}" for i in range(20)]


def test_batched_sweeps_cost_three_commands_per_batch(mongo_wire_uri: str) -> None:
    """20 accounts, batch size 500: reset, expiry and dunning each cost find + insert + update."""
    with listened_database(mongo_wire_uri, Commands) as (db, commands):
        clock = FakeClock(datetime.fromisoformat(START_ISO))
        config = BillingConfig(
            compute_mode=True,
            plans=(PlanSettings(plan_id="free"), PlanSettings(plan_id="team", compute_quota=100)),
            packs=(PackSettings(pack_id="pack", units=500, price_cents=900, expiry_days=30),),
            sweep_batch_size=500,
        )
        billing = Billing(config, stores=MongoStores(db, clock=clock), clock=clock)
        for org in ORGS:
            billing.subscribe(org, "team")
            billing.attribute(org, "run_1", {"llm": Decimal("0.004")})
            billing.extras.credit_pack(org, "pack", f"cs_{org}")
        clock.advance(timedelta(days=31))
        warm_plans(billing, commands)
        billing.accounts.cache.forget()  # a cron process starts cold
        bulk = Counter({"find": 1, "insert": 1, "update": 1})
        assert 20 == billing.reset_all_due().processed
        assert bulk == commands.take()
        assert 20 == billing.extras.expire_old_entries().processed
        assert bulk == commands.take()
        for org in ORGS:
            billing.payment_failed(org, f"in_{org}")
        clock.advance(timedelta(days=config.dunning_days + 1))
        warm_plans(billing, commands)
        assert 20 == billing.dunning_sweep().processed
        assert bulk == commands.take()
        journal = db["account_journal"]
        assert 20 * 7 == journal.count_documents({})
        assert [7] * 20 == [journal.count_documents({"org": org}) for org in ORGS]
