"""Week resets, plan changes and reservations through the facade."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest

from compute_pricing import (
    Billing,
    ComputeExhaustedError,
    FakeClock,
    InMemoryStores,
    InvalidAmountError,
    PlanChanged,
    StaticPlanCatalog,
    ThresholdCrossed,
    UnknownPlanError,
    UnknownReservationError,
)
from tests.conftest import START, BillingFactory, compute_config


def test_weeks_are_anchored_at_the_first_charge_not_monday(
    billing: Billing, clock: FakeClock
) -> None:
    """A first charge on a Wednesday starts a week that resets the next Wednesday."""
    clock.advance(days=2, hours=3)
    billing.attribute("org_a", "run_1", None)
    usage = billing.usage("org_a")
    assert ((START + timedelta(days=9, hours=3)).isoformat(), "2026-W02") == (
        usage["week_reset_at"],
        usage["week_key"],
    )


def test_reset_all_due_resets_only_due_accounts(billing: Billing, clock: FakeClock) -> None:
    """Two orgs, one due: the sweep resets one and the other keeps its usage."""
    billing.attribute("org_a", "run_1", None)
    clock.advance(days=3)
    billing.attribute("org_b", "run_1", None)
    clock.advance(days=4)
    summary = billing.reset_all_due()
    assert (1, 0, {}) == (summary.processed, summary.skipped, dict(summary.errors))
    assert 0 == billing.accounts.peek("org_a").week.used  # type: ignore[union-attr]
    assert 1 == billing.accounts.peek("org_b").week.used  # type: ignore[union-attr]


def test_reset_sweep_skips_inactive_and_isolates_failures(
    billing: Billing, clock: FakeClock
) -> None:
    """Canceled accounts are skipped; a broken account is reported, the others still reset."""
    billing.subscribe("org_ok", "starter")
    billing.attribute("org_ok", "run_1", None)
    billing.subscribe("org_gone", "starter", status="canceled")
    billing.attribute("org_gone", "run_1", None)
    billing.subscribe("org_broken", "pro")
    billing.attribute("org_broken", "run_1", None)
    clock.advance(days=7)
    without_pro = billing.config.model_copy(update={"plans": billing.config.plans[:2]})
    billing.accounts.catalog = StaticPlanCatalog(without_pro, clock)
    summary = billing.reset_all_due()
    assert (1, 1, ["org_broken"]) == (summary.processed, summary.skipped, list(summary.errors))


def test_a_late_reset_is_clamped_to_now(billing: Billing, clock: FakeClock) -> None:
    """A reset three weeks late starts the new week now, not in the past."""
    billing.attribute("org_a", "run_1", None)
    clock.advance(days=21, hours=5)
    outcome = billing.reset_week("org_a")
    assert True is outcome["applied"]
    usage = billing.usage("org_a")
    assert (clock.now() + timedelta(days=7)).isoformat() == usage["week_reset_at"]


def test_a_period_start_re_anchors_or_is_clamped(billing: Billing, clock: FakeClock) -> None:
    """A renewal in a later ISO week re-anchors; one inside the current week changes nothing."""
    billing.attribute("org_a", "run_1", None)
    assert False is billing.reset_week("org_a", START - timedelta(days=3))["applied"]
    clock.advance(days=6)
    renewal = START + timedelta(days=5)  # Saturday of the same ISO week
    assert False is billing.reset_week("org_a", renewal)["applied"]
    clock.advance(hours=23, minutes=30)  # Monday 08:30 of W03, before the week's reset_at
    renewal = START + timedelta(days=7, hours=-1)  # Monday 08:00 of W03
    outcome = billing.reset_week("org_a", renewal)
    assert (True, "2026-W03") == (outcome["applied"], outcome["week_key"])
    assert (renewal + timedelta(days=7)).isoformat() == billing.usage("org_a")["week_reset_at"]


def test_plan_upgrade_mid_week_keeps_usage_and_lifts_the_quota(billing: Billing) -> None:
    """starter -> pro keeps the 1,000 used units; the gate sees the pro quota at once."""
    billing.subscribe("org_a", "starter")
    billing.attribute("org_a", "run_1", {"scrap": Decimal("1.000")})
    with pytest.raises(ComputeExhaustedError):
        billing.check_quota("org_a")
    billing.subscribe("org_a", "pro")
    assert 4_000 == billing.check_quota("org_a").remaining
    changed = billing.events.of_type(PlanChanged)  # type: ignore[attr-defined]
    assert [("starter", 1_000), ("pro", 5_000)] == [(e.plan_id, e.quota) for e in changed]


def test_cancel_resets_usage(billing: Billing) -> None:
    """Canceling drops the org to the free quota and clears this week's usage."""
    billing.subscribe("org_a", "starter")
    billing.attribute("org_a", "run_1", {"scrap": Decimal("0.300")})
    billing.subscribe("org_a", "starter", status="canceled")
    usage = billing.usage("org_a")
    assert (0, 0) == (usage["compute_used"], usage["compute_quota"])


def test_subscribing_to_an_unknown_plan_writes_nothing(billing: Billing) -> None:
    """UnknownPlanError (404) and an untouched journal."""
    with pytest.raises(UnknownPlanError):
        billing.subscribe("org_a", "platinum")
    assert [] == list(billing.accounts.store.read_journal("org_a"))


def test_resubscribing_to_the_same_plan_is_a_no_op(billing: Billing) -> None:
    """Same plan version and status: nothing is journaled."""
    billing.subscribe("org_a", "starter")
    assert False is billing.subscribe("org_a", "starter")["applied"]
    assert 1 == len(billing.accounts.store.read_journal("org_a"))


def test_grandfathered_org_keeps_its_plan_version(make_billing: BillingFactory) -> None:
    """After a bump, an org billed under v1 keeps v1's quota; a new subscriber gets v2."""
    billing = make_billing(compute_config())
    billing.subscribe("org_old", "starter")
    bumped = billing.plans.bump_version("starter", {"compute_quota": 2_000})
    billing.subscribe("org_new", "starter")
    assert (2, 1_000, 2_000) == (
        bumped.version,
        billing.usage("org_old")["compute_quota"],
        billing.usage("org_new")["compute_quota"],
    )


def test_reserve_commit_release(billing: Billing) -> None:
    """A hold counts against the gate; commit charges actual costs; release frees the hold."""
    billing.subscribe("org_a", "starter")
    hold = billing.reserve("org_a", 600)
    assert 400 == billing.check_quota("org_a").remaining
    with pytest.raises(ComputeExhaustedError):
        billing.reserve("org_a", 401)
    result = billing.commit(hold, {"scrap": Decimal("0.250")})
    assert (250, 750) == (result.units, billing.check_quota("org_a").remaining)
    with pytest.raises(UnknownReservationError):
        billing.commit(hold, {"scrap": Decimal("0.250")}, run_id="other_run")
    other = billing.reserve("org_a", 700)
    assert 50 == billing.check_quota("org_a").remaining
    assert (True, False) == (billing.release(other), billing.release(other))
    assert 750 == billing.check_quota("org_a").remaining


def test_an_unreleased_reservation_expires_after_its_ttl(
    billing: Billing, clock: FakeClock
) -> None:
    """A 60-second hold stops counting after 60 seconds."""
    billing.subscribe("org_a", "starter")
    billing.reserve("org_a", 1_000, ttl=60)
    with pytest.raises(ComputeExhaustedError):
        billing.check_quota("org_a")
    clock.advance(seconds=60)
    assert 1_000 == billing.check_quota("org_a").remaining


@pytest.mark.parametrize(("units", "ttl"), [(0, None), (-3, None), (5, 0), (True, None)])
def test_reserve_validates_units_and_ttl(billing: Billing, units: int, ttl: int | None) -> None:
    """Units and TTL must be whole numbers >= 1."""
    with pytest.raises(InvalidAmountError):
        billing.reserve("org_a", units, ttl=ttl)


def test_thresholds_fire_once_a_week_even_across_cancel_and_resubscribe(
    billing: Billing,
) -> None:
    """Cancel resets usage but not the week's fired thresholds: 80 % fires once."""
    billing.subscribe("org_a", "starter")
    billing.attribute("org_a", "run_1", {"scrap": Decimal("0.800")})
    billing.subscribe("org_a", "starter", status="canceled")
    billing.subscribe("org_a", "starter")
    billing.attribute("org_a", "run_2", {"scrap": Decimal("0.800")})
    assert [80] == [e.threshold for e in billing.events.of_type(ThresholdCrossed)]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda b: b.extras.debit("org_a", 10**12 + 1, "d1"), "units"),
        (lambda b: b.extras.adjust("org_a", -(10**13), "a1"), "units"),
        (lambda b: b.record_usage("org_a", "documents", "create", amount=10**30), "amount"),
        (lambda b: b.reserve("org_a", 2**70), "units"),
    ],
)
def test_amounts_above_a_trillion_units_are_refused(
    billing: Billing, call: Callable[[Billing], object], field: str
) -> None:
    """Every unit count is capped at 10**12, so stored sums stay 64-bit integers."""
    with pytest.raises(InvalidAmountError) as caught:
        call(billing)
    assert field == caught.value.field
    assert [] == list(billing.accounts.store.read_journal("org_a"))


def test_a_reset_outcome_says_whether_it_was_a_replay(billing: Billing, clock: FakeClock) -> None:
    """A reset that did the work is not marked replayed (racing resets are: see concurrency)."""
    billing.attribute("org_a", "run_1", None)
    clock.advance(days=7)
    first = billing.reset_week("org_a")
    assert (True, False) == (first["applied"], first["replayed"])


def test_orgs_never_subscribed_are_grandfathered_on_their_first_version(
    make_billing: BillingFactory,
) -> None:
    """An org on the default plan keeps the version it was first billed under after a bump."""
    billing = make_billing(compute_config(default_plan="starter"))
    billing.attribute("org_a", "run_1", {"scrap": Decimal("0.100")})
    billing.plans.bump_version("starter", {"compute_quota": 50})
    assert 900 == billing.check_quota("org_a").remaining
    assert 1 == billing.usage("org_a")["plan_version"]


def test_a_renewal_records_the_current_period_start(billing: Billing, clock: FakeClock) -> None:
    """A reset from a Stripe period start stores it on the subscription; a plain one does not."""
    billing.attribute("org_a", "run_1", None)
    clock.advance(days=7)
    billing.reset_week("org_a")
    assert billing.accounts.peek("org_a").subscription.current_period_start is None
    renewal = clock.now() + timedelta(days=7)
    clock.set(renewal + timedelta(hours=1))
    assert True is billing.reset_week("org_a", renewal)["applied"]
    assert renewal == billing.accounts.peek("org_a").subscription.current_period_start


def test_concurrent_start_up_seeds_the_plans_once(clock: FakeClock) -> None:
    """Eight processes starting on one fresh plan store all come up."""
    stores = InMemoryStores(clock)
    failures: list[BaseException] = []

    def start() -> None:
        try:
            Billing(compute_config(), stores=stores, clock=clock)
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [] == failures
