"""Pure rules, by example: money, attribution, overflow, ledger, weeks, gate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from compute_pricing.config import ComputeSettings
from compute_pricing.errors import InvalidCostError, InvalidInputError
from compute_pricing.money import cost_to_units, largest_remainder, parse_cost, refund_units
from compute_pricing.plans import Plan
from compute_pricing.rules.attribution import parse_costs, units_for
from compute_pricing.rules.gate import Headroom, dunning_stage
from compute_pricing.rules.ledger import burn_order, credit_split, draw
from compute_pricing.rules.overflow import crossed_thresholds, split_charge
from compute_pricing.rules.weeks import next_anchor
from compute_pricing.state import BREAKDOWN_CEILING, OTHER_CATEGORY, Lot, Subscription, Week
from compute_pricing.timekeeping import week_key

T = datetime(2026, 1, 5, 9, tzinfo=UTC)


def lot(lot_id: str, remaining: int, *, expires: int | None, created: int = 0) -> Lot:
    """A lot created ``created`` hours after T, expiring ``expires`` days after T."""
    return Lot(
        lot_id=lot_id,
        kind="pack",
        units=remaining,
        remaining=remaining,
        created_at=T + timedelta(hours=created),
        expires_at=None if expires is None else T + timedelta(days=expires),
    )


def test_cost_to_units_floors_exactly() -> None:
    """$0.0019 at ratio 1 is 1 unit; $0.001 at ratio 2.5 is 2 units."""
    assert 1 == cost_to_units(Decimal("0.0019"), Decimal(1), 1000)
    assert 2 == cost_to_units(Decimal("0.001"), Decimal("2.5"), 1000)


def test_refund_units_rounds_half_up_in_integers() -> None:
    """1 cent of a 3-cent 2-unit pack is 0.67 -> 1 unit; half a unit rounds up."""
    assert 1 == refund_units(1, 2, 3)
    assert 1 == refund_units(1, 1, 2)
    assert 500_000 == refund_units(4_900, 500_000, 4_900)


def test_largest_remainder_keeps_the_total() -> None:
    """Scaling 1:1:1 to 10 gives 4/3/3, ties broken by name."""
    assert {"a": 4, "b": 3, "c": 3} == largest_remainder({"a": 1, "b": 1, "c": 1}, 10)
    assert {"a": 0} == largest_remainder({"a": 0}, 5)


@pytest.mark.parametrize("value", [Decimal("-0.01"), float("nan"), "1", None, True, [1]])
def test_parse_cost_refuses_and_names_the_category(value: object) -> None:
    """Each refusal is an InvalidCostError naming the category."""
    with pytest.raises(InvalidCostError) as caught:
        parse_cost("gpu", value)
    assert "gpu" == caught.value.category


def test_parse_costs_needs_a_mapping_of_named_categories() -> None:
    """A list, or an empty category name, is refused."""
    with pytest.raises(InvalidInputError):
        parse_costs([("gpu", 1)])
    with pytest.raises(InvalidInputError):
        parse_costs({"": 1})


def test_ratio_falls_back_to_default_then_one() -> None:
    """Unknown categories use ratios['default'], and 1 when there is no default."""
    with_default = Plan("p", 1, 0, ratios={"default": Decimal(3)})
    without = Plan("p", 1, 0, ratios={"gpu": Decimal(2)})
    assert (Decimal(3), Decimal(1), Decimal(2)) == (
        with_default.ratio("llm"),
        without.ratio("llm"),
        without.ratio("gpu"),
    )


def test_units_for_drops_zero_categories_from_the_breakdown() -> None:
    """A category whose cost floors to 0 units does not appear in the breakdown."""
    units = units_for(
        {"a": Decimal("0.0005"), "b": Decimal("0.002")}, Plan("p", 1, 0), ComputeSettings()
    )
    assert (2, {"b": 2}) == (units.total, dict(units.breakdown))


def test_split_charge_examples() -> None:
    """950 of 1,000 used: +100 is 50 + 50; quota 0 is all extras; over quota is all extras."""
    assert (50, 50) == split_charge(100, 1000, 950)
    assert (0, 7) == split_charge(7, 0, 0)
    assert (0, 5) == split_charge(5, 1000, 1200)


def test_crossed_thresholds_skip_fired_ones_and_quota_zero() -> None:
    """Several can cross at once; fired ones and a zero quota cross nothing."""
    assert [80, 100] == crossed_thresholds([50, 80, 100], [50], 1000, 1000)
    assert [] == crossed_thresholds([80], [], 10, 0)
    assert [] == crossed_thresholds([80], [], 799, 1000)


def test_burn_order_is_expiry_then_age_with_never_expiring_last() -> None:
    """Earliest expiry first, then the older lot, lots without expiry last; expired skipped."""
    lots = [
        lot("never", 5, expires=None),
        lot("late", 5, expires=300),
        lot("soon_new", 5, expires=30, created=2),
        lot("soon_old", 5, expires=30, created=1),
        lot("gone", 5, expires=-1),
    ]
    assert ["soon_old", "soon_new", "late", "never"] == [x.lot_id for x in burn_order(lots, T)]


def test_draw_records_provenance_and_shortfall() -> None:
    """Drawing 12 from lots of 5 and 5 takes both and leaves 2 short."""
    lots = [lot("a", 5, expires=10), lot("b", 5, expires=None)]
    assert ((("a", 5), ("b", 5)), 2) == draw(lots, 12, T)
    assert ((("b", 3),), 0) == draw(lots, 3, T, first=lots[1])


def test_credit_split_repays_refund_debt_then_usage_debt() -> None:
    """A 100-unit credit against 30 refund debt and 100 usage debt repays 30 then 70."""
    assert (30, 70) == credit_split(100, 30, 100)
    assert (0, 0) == credit_split(100, 0, 0)


def week(started: datetime) -> Week:
    """A week starting at ``started``."""
    return Week(
        key=week_key(started),
        started_at=started,
        reset_at=started + timedelta(days=7),
        quota=10,
        plan_id="p",
        plan_version=1,
    )


def test_next_anchor_rules() -> None:
    """First week at now; due week at reset_at; very late at now; not due -> None."""
    current = week(T)
    assert T == next_anchor(None, T)
    assert next_anchor(current, T + timedelta(days=6)) is None
    assert T + timedelta(days=7) == next_anchor(current, T + timedelta(days=8))
    late = T + timedelta(days=15)
    assert late == next_anchor(current, late)


def test_next_anchor_with_a_period_start() -> None:
    """Past starts are clamped to the current week; a start in a later ISO week re-anchors."""
    current = week(T)
    assert next_anchor(current, T + timedelta(days=1), T - timedelta(days=2)) is None
    monday = T + timedelta(days=7, hours=-2)
    now = T + timedelta(days=6, hours=20)
    assert next_anchor(current, now, monday) is None  # in the future
    assert monday == next_anchor(current, T + timedelta(days=7, hours=-1), monday)
    assert T - timedelta(days=1) == next_anchor(None, T, T - timedelta(days=1))


def test_dunning_stages() -> None:
    """ok when current; grace for under 7 days past due; degraded from 7 days."""
    since = T
    past_due = Subscription(plan_id="p", status="past_due", past_due_since=since)
    assert "ok" == dunning_stage(Subscription(plan_id="p"), T, 7)
    assert "grace" == dunning_stage(past_due, T + timedelta(days=6, hours=23), 7)
    assert "degraded" == dunning_stage(past_due, T + timedelta(days=7), 7)


def test_headroom_ignores_positive_extras_when_degraded_but_not_debt() -> None:
    """Degraded: extras do not add headroom, but debt still subtracts."""
    assert 10 == Headroom(quota=100, used=90, extras=50, held=0, stage="degraded").remaining
    assert 5 == Headroom(quota=100, used=90, extras=-5, held=0, stage="degraded").remaining
    assert 58 == Headroom(quota=100, used=90, extras=50, held=2, stage="ok").remaining


def test_the_week_fold_stops_at_the_breakdown_ceiling() -> None:
    """Week.charged (the evolve fold) never holds more than BREAKDOWN_CEILING categories."""
    full = {f"c{index}": 1 for index in range(BREAKDOWN_CEILING - 1)}
    week = Week(
        key="2026-W02",
        started_at=datetime(2026, 1, 5, tzinfo=UTC),
        reset_at=datetime(2026, 1, 12, tzinfo=UTC),
        quota=10,
        plan_id="free",
        plan_version=1,
        used=BREAKDOWN_CEILING - 1,
        breakdown=full,
    )

    charged = week.charged(5, {"new_a": 2, "new_b": 2, "c0": 1})

    assert BREAKDOWN_CEILING == len(charged.breakdown)
    assert (4, 2, BREAKDOWN_CEILING + 4) == (
        charged.breakdown[OTHER_CATEGORY],
        charged.breakdown["c0"],
        charged.used,
    )
