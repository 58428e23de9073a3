"""Attribution through the facade: idempotency, zero costs, caps, thresholds, bad input."""

from __future__ import annotations

from decimal import Decimal

import pytest

from compute_pricing import (
    Billing,
    FakeClock,
    InvalidCostError,
    InvalidNameError,
    InvalidStepError,
    OrganizationRequiredError,
    ThresholdCrossed,
)
from compute_pricing.errors import IdempotencyConflictError
from tests.conftest import BillingFactory, compute_config


def journal_length(billing: Billing, org: str) -> int:
    """How many entries the org's journal holds."""
    return len(billing.accounts.store.read_journal(org))


def test_replay_returns_the_first_outcome_and_charges_once(billing: Billing) -> None:
    """The same run and step sent again (same costs, any spelling) replays the first outcome."""
    billing.subscribe("org_a", "starter")
    first = billing.attribute("org_a", "run_1", {"scrap": Decimal("0.010")})
    again = billing.attribute("org_a", "run_1", {"scrap": Decimal("0.01")})
    assert (10, False) == (first.units, first.replayed)
    assert (10, True) == (again.units, again.replayed)
    assert 10 == billing.usage("org_a")["compute_used"]


def test_steps_of_one_run_are_charged_separately(billing: Billing) -> None:
    """Each step key is its own delta: initial and retry both charge."""
    billing.attribute("org_a", "run_1", {"scrap": Decimal("0.010")})
    billing.attribute("org_a", "run_1", {"scrap": Decimal("0.005")}, step="retry:1")
    assert 15 == billing.usage("org_a")["compute_used"]


def test_no_costs_charge_the_run_base_units(billing: Billing) -> None:
    """``costs=None`` charges ``run_base_units`` (1) under the ``base`` category."""
    result = billing.attribute("org_a", "run_1", None)
    assert (1, "charged") == (result.units, result.reason)
    assert {"base": 1} == billing.usage("org_a")["compute_breakdown"]


@pytest.mark.parametrize("costs", [{}, {"scrap": Decimal(0)}, {"scrap": 0, "gpu": 0.0}])
def test_empty_or_zero_costs_consume_the_key_without_charging(
    billing: Billing, costs: dict[str, object]
) -> None:
    """``{}`` or all-zero costs charge 0 units, outcome ``zero_cost``, and the key is used."""
    result = billing.attribute("org_a", "run_1", costs)
    assert (0, "zero_cost") == (result.units, result.reason)
    assert True is billing.attribute("org_a", "run_1", costs).replayed
    with pytest.raises(IdempotencyConflictError):
        billing.attribute("org_a", "run_1", {"scrap": 1})
    assert 0 == billing.usage("org_a")["compute_used"]


def test_cap_scales_the_breakdown_to_the_charged_total(make_billing: BillingFactory) -> None:
    """A run above ``max_compute_per_run`` is charged the cap; its breakdown sums to it."""
    billing = make_billing(compute_config(compute={"max_compute_per_run": 100}))
    result = billing.attribute("org_a", "run_1", {"a": Decimal("0.200"), "b": Decimal("0.100")})
    assert (100, True) == (result.units, result.capped)
    assert {"a": 67, "b": 33} == billing.usage("org_a")["compute_breakdown"]


def test_float_costs_are_read_by_their_decimal_text(billing: Billing) -> None:
    """0.1 + 0.2 dollars as floats are 100 + 200 units, not 300.00000000000004 floored."""
    result = billing.attribute("org_a", "run_1", {"a": 0.1, "b": 0.2})
    assert 300 == result.units


@pytest.mark.parametrize(
    ("costs", "category"),
    [
        ({"scrap": Decimal(-1)}, "scrap"),
        ({"gpu": float("nan")}, "gpu"),
        ({"gpu": float("inf")}, "gpu"),
        ({"llm": Decimal("NaN")}, "llm"),
        ({"llm": "0.5"}, "llm"),
        ({"llm": True}, "llm"),
        ({"ok": 1, "llm": None}, "llm"),
    ],
)
def test_bad_costs_name_the_category_and_write_nothing(
    billing: Billing, costs: dict[str, object], category: str
) -> None:
    """Negative, non-finite or non-numeric costs raise InvalidCostError naming the category."""
    with pytest.raises(InvalidCostError) as caught:
        billing.attribute("org_a", "run_1", costs)
    assert category == caught.value.category
    assert 400 == caught.value.status
    assert 0 == journal_length(billing, "org_a")


@pytest.mark.parametrize("step", ["", "a b", "x" * 65, "é", None])
def test_malformed_step_keys_are_refused(billing: Billing, step: object) -> None:
    """Step keys must match ^[A-Za-z0-9:_-]{1,64}$; nothing is written otherwise."""
    with pytest.raises(InvalidStepError):
        billing.attribute("org_a", "run_1", None, step=step)  # type: ignore[arg-type]
    assert 0 == journal_length(billing, "org_a")


def test_missing_org_is_403_and_malformed_run_id_is_400(billing: Billing) -> None:
    """No org context raises OrganizationRequiredError; an odd run id InvalidNameError."""
    with pytest.raises(OrganizationRequiredError) as missing:
        billing.attribute("", "run_1", None)
    assert 403 == missing.value.status
    with pytest.raises(InvalidNameError) as bad:
        billing.attribute("org_a", "run 1", None)
    assert "run_id" == bad.value.field


def test_thresholds_fire_once_each_and_one_charge_can_cross_several(
    billing: Billing, clock: FakeClock
) -> None:
    """80 % and 100 % fire in one big charge, never again that week, and again next week."""
    billing.subscribe("org_a", "starter")
    billing.attribute("org_a", "run_1", {"scrap": Decimal("1.000")})
    billing.attribute("org_a", "run_2", {"scrap": Decimal("0.100")})
    crossed = [e for e in billing.events.published if isinstance(e, ThresholdCrossed)]  # type: ignore[attr-defined]
    assert [(80, 1000, 1000), (100, 1000, 1000)] == [
        (e.threshold, e.used, e.quota) for e in crossed
    ]
    clock.advance(days=7)
    billing.attribute("org_a", "run_3", {"scrap": Decimal("0.850")})
    crossed = [e for e in billing.events.published if isinstance(e, ThresholdCrossed)]  # type: ignore[attr-defined]
    assert [80, 100, 80] == [e.threshold for e in crossed]


def test_compute_mode_off_makes_attribution_a_no_op(make_billing: BillingFactory) -> None:
    """With compute mode off, attribute says so and writes nothing."""
    billing = make_billing(compute_config(compute_mode=False))
    result = billing.attribute("org_a", "run_1", {"scrap": Decimal(1)})
    assert (False, "compute_mode_off", 0) == (result.applied, result.reason, result.units)
    assert 0 == journal_length(billing, "org_a")


def test_a_late_attribution_rolls_the_week_first(billing: Billing, clock: FakeClock) -> None:
    """A charge after ``reset_at`` lands in a new week even if the cron has not run."""
    billing.attribute("org_a", "run_1", {"scrap": Decimal("0.010")})
    first_week = billing.usage("org_a")["week_key"]
    clock.advance(days=8)
    billing.attribute("org_a", "run_2", {"scrap": Decimal("0.003")})
    usage = billing.usage("org_a")
    assert (3, True) == (usage["compute_used"], usage["week_key"] > first_week)
