"""The compute-mode quota gate: 402 data, 503, bypasses, fail-closed statuses, dunning."""

from __future__ import annotations

from decimal import Decimal

import pytest

from compute_pricing import (
    Billing,
    ComputeExhaustedError,
    FakeClock,
    PaymentPastDueError,
    PlanNotConfiguredError,
    StaticPlanCatalog,
    SubscriptionExpired,
)
from tests.conftest import BillingFactory, compute_config


def test_remaining_is_week_headroom_plus_extras(billing: Billing) -> None:
    """remaining = max(0, quota - used) + extras balance."""
    billing.subscribe("org_a", "starter")
    billing.extras.credit_pack("org_a", "small", "cs_1")
    billing.attribute("org_a", "run_1", {"scrap": Decimal("0.400")})
    assert 600 + 500 == billing.check_quota("org_a").remaining


def test_exhausted_org_gets_402_with_its_numbers(billing: Billing) -> None:
    """Nothing left: ComputeExhaustedError with used, quota, extras, packs and upgrade URL."""
    billing.subscribe("org_a", "starter")
    billing.attribute("org_a", "run_1", {"scrap": Decimal("1.000")})
    with pytest.raises(ComputeExhaustedError) as caught:
        billing.check_quota("org_a")
    assert 402 == caught.value.status
    assert {
        "error": "COMPUTE_EXHAUSTED",
        "compute_used": 1000,
        "compute_quota": 1000,
        "extras_remaining": 0,
        "packs_available": ["small", "big", "forever"],
        "upgrade_url": "https://example.test/upgrade",
    } == {k: v for k, v in caught.value.to_dict().items() if k != "message"}


def test_free_plan_with_quota_zero_is_exhausted_until_a_pack(billing: Billing) -> None:
    """A quota-0 plan admits nothing until extras exist, then charges them."""
    with pytest.raises(ComputeExhaustedError):
        billing.check_quota("org_a")
    billing.extras.credit_pack("org_a", "small", "cs_1")
    assert 500 == billing.check_quota("org_a").remaining
    result = billing.attribute("org_a", "run_1", {"x": Decimal("0.020")})
    assert (0, 20) == (result.from_quota, result.from_extras)


def test_admin_and_exempt_orgs_bypass_the_gate(make_billing: BillingFactory) -> None:
    """Admins and configured exempt orgs are admitted without metering."""
    billing = make_billing(compute_config(exempt_orgs=("org_vip",)))
    assert None is billing.check_quota("org_vip").remaining
    assert None is billing.check_quota("org_a", admin=True).remaining
    with pytest.raises(ComputeExhaustedError):
        billing.check_quota("org_a")


def test_unknown_plan_is_503(make_billing: BillingFactory) -> None:
    """An account whose plan left the catalog gets PlanNotConfiguredError (503)."""
    config = compute_config()
    billing = make_billing(config)
    billing.subscribe("org_a", "pro")
    pruned = config.model_copy(update={"plans": config.plans[:2]})
    billing.accounts.catalog = StaticPlanCatalog(pruned, billing.clock)
    with pytest.raises(PlanNotConfiguredError) as caught:
        billing.check_quota("org_a")
    assert (503, "pro") == (caught.value.status, caught.value.plan_id)


@pytest.mark.parametrize("status", ["paused", "unpaid", "incomplete", "canceled"])
def test_fail_closed_statuses_are_gated_at_the_default_plan(billing: Billing, status: str) -> None:
    """A pro org whose subscription is in a fail-closed status gets the free quota (0)."""
    billing.subscribe("org_a", "pro", status=status)
    with pytest.raises(ComputeExhaustedError) as caught:
        billing.check_quota("org_a")
    assert 0 == caught.value.compute_quota


def test_dunning_grace_then_degraded_then_unpaid(billing: Billing, clock: FakeClock) -> None:
    """Past due: flagged for 7 days, then extras refused, then unpaid on free at 14 days."""
    billing.subscribe("org_a", "starter")
    billing.extras.credit_pack("org_a", "small", "cs_1")
    billing.attribute("org_a", "run_1", {"scrap": Decimal("0.990")})
    billing.payment_failed("org_a", "in_1")

    grace = billing.check_quota("org_a")
    assert (510, True, False) == (grace.remaining, grace.payment_failing, grace.degraded)

    clock.advance(days=7)  # also a new week: used back to 0, extras now ignored
    degraded = billing.check_quota("org_a")
    assert (1000, True) == (degraded.remaining, degraded.degraded)
    result = billing.attribute("org_a", "run_2", {"scrap": Decimal("1.020")})
    assert (1000, 20) == (result.from_quota, result.from_extras)
    balance = billing.extras.balance("org_a")
    assert (480, 20) == (balance.balance, balance.debt)  # lots untouched, overflow owed
    with pytest.raises(PaymentPastDueError) as caught:
        billing.check_quota("org_a")
    assert 402 == caught.value.status

    clock.advance(days=7)
    summary = billing.dunning_sweep()
    assert (1, {}) == (summary.processed, dict(summary.errors))
    expired = [e for e in billing.events.published if isinstance(e, SubscriptionExpired)]  # type: ignore[attr-defined]
    assert ["free"] == [e.plan_id for e in expired]
    assert "free" == billing.usage("org_a")["plan"]


def test_payment_recovered_meanwhile_is_left_alone_by_the_sweep(
    billing: Billing, clock: FakeClock
) -> None:
    """A subscription paid before the sweep keeps its plan."""
    billing.subscribe("org_a", "starter")
    billing.payment_failed("org_a", "in_1")
    clock.advance(days=15)
    billing.payment_succeeded("org_a", "in_2")
    assert 0 == billing.dunning_sweep().processed
    assert "starter" == billing.usage("org_a")["plan"]


def test_a_second_failure_keeps_the_first_past_due_date(billing: Billing, clock: FakeClock) -> None:
    """past_due_since is set only if unset, so repeated failures do not extend grace."""
    billing.subscribe("org_a", "starter")
    first = billing.payment_failed("org_a", "in_1")
    clock.advance(days=3)
    second = billing.payment_failed("org_a", "in_2")
    assert first["past_due_since"] == second["past_due_since"]


def test_a_plan_change_while_past_due_keeps_the_dunning_clock(
    billing: Billing, clock: FakeClock
) -> None:
    """Moving plans with status past_due keeps past_due_since; becoming active clears it."""
    billing.subscribe("org_a", "starter")
    billing.payment_failed("org_a", "in_1")
    clock.advance(days=8)
    billing.subscribe("org_a", "pro", status="past_due")
    assert True is billing.check_quota("org_a").degraded
    billing.subscribe("org_a", "pro", status="active")
    assert False is billing.check_quota("org_a").payment_failing
