"""Worked examples with real numbers (issue 3), end to end through the facade."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from compute_pricing import (
    Billing,
    BillingConfig,
    DebtSettled,
    FakeClock,
    PackSettings,
    PlanSettings,
)
from tests.conftest import BillingFactory, compute_config


def test_ratios_turn_costs_into_five_units(billing: Billing) -> None:
    """scrap x1 at $0.001 plus autofix x2 at $0.002 is 1 + 4 = 5 units."""
    billing.subscribe("org_a", "starter")
    result = billing.attribute(
        "org_a", "run_1", {"scrap": Decimal("0.001"), "autofix": Decimal("0.002")}
    )
    assert (5, 5, 0) == (result.units, result.from_quota, result.from_extras)
    assert {"scrap": 1, "autofix": 4} == billing.usage("org_a")["compute_breakdown"]


def test_overflow_beyond_quota_goes_to_extras(billing: Billing) -> None:
    """Quota 1,000 with 950 used: a 100-unit run takes 50 from quota and 50 from extras."""
    billing.subscribe("org_a", "starter")
    billing.extras.credit_pack("org_a", "small", "cs_1")
    billing.attribute("org_a", "run_1", {"scrap": Decimal("0.950")})
    result = billing.attribute("org_a", "run_2", {"scrap": Decimal("0.100")})
    assert (100, 50, 50, 1050) == (
        result.units,
        result.from_quota,
        result.from_extras,
        result.compute_used,
    )
    assert 450 == billing.extras.balance("org_a").balance


def test_full_refund_of_a_49_dollar_pack_is_exactly_its_units(
    make_billing: BillingFactory,
) -> None:
    """4,900 cents refunded on a $49 / 500,000-unit pack takes back exactly 500,000 units."""
    billing = make_billing(compute_config())
    billing.extras.credit_pack("org_a", "big", "cs_big")
    refund = billing.extras.refund_partial("org_a", "cs_big", 4_900, "re_1")
    assert (500_000, 0) == (refund.units, refund.balance)
    assert 0 == billing.extras.balance("org_a").balance


def test_partial_refunds_each_count_once(make_billing: BillingFactory) -> None:
    """Two partial refunds of 980 cents each take 100,000 units apiece; a replay takes none."""
    billing = make_billing(compute_config())
    billing.extras.credit_pack("org_a", "big", "cs_big")
    billing.extras.refund_partial("org_a", "cs_big", 980, "re_1")
    billing.extras.refund_partial("org_a", "cs_big", 980, "re_2")
    replay = billing.extras.refund_partial("org_a", "cs_big", 980, "re_2")
    assert replay.replayed is True
    assert 300_000 == billing.extras.balance("org_a").balance


def test_debt_of_150_on_a_100_unit_quota_settles_over_two_resets(clock: FakeClock) -> None:
    """150 units of overflow debt on a 100-unit plan: 100 settle at the first reset, 50 next."""
    config = BillingConfig(
        compute_mode=True,
        plans=(PlanSettings(plan_id="free"), PlanSettings(plan_id="tiny", compute_quota=100)),
        packs=(PackSettings(pack_id="p", units=10, price_cents=100),),
    )
    billing = Billing.in_memory(config, clock=clock)
    billing.subscribe("org_a", "tiny")
    billing.attribute("org_a", "run_1", {"x": Decimal("0.250")})
    assert (-150, 150) == (
        billing.extras.balance("org_a").balance,
        billing.extras.balance("org_a").debt,
    )

    clock.advance(days=7)
    first = billing.reset_week("org_a")
    assert (True, 100) == (first["applied"], first["settled"])
    assert (100, -50) == (
        billing.usage("org_a")["compute_used"],
        billing.extras.balance("org_a").balance,
    )

    clock.advance(days=7)
    second = billing.reset_week("org_a")
    assert 50 == second["settled"]
    assert (50, 0) == (
        billing.usage("org_a")["compute_used"],
        billing.extras.balance("org_a").balance,
    )
    settled = [e.units for e in billing.events.published if isinstance(e, DebtSettled)]  # type: ignore[attr-defined]
    assert [100, 50] == settled


def test_a_settled_reset_is_charged_once_even_when_repeated(clock: FakeClock) -> None:
    """Calling reset_week again for the same week neither settles nor charges again."""
    config = compute_config()
    billing = Billing.in_memory(config, clock=clock)
    billing.subscribe("org_a", "starter")
    billing.attribute("org_a", "run_1", {"scrap": Decimal("1.200")})
    clock.advance(timedelta(days=7))
    assert 200 == billing.reset_week("org_a")["settled"]
    assert False is billing.reset_week("org_a")["applied"]
    assert 200 == billing.usage("org_a")["compute_used"]
