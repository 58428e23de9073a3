"""Properties of the pure core: week keys, config round trip, splits, attribution, refunds."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
import tomli_w
from hypothesis import example, given
from hypothesis import strategies as st

from compute_pricing import BillingConfig, ComputeSettings, InvalidCostError, Plan
from compute_pricing.money import cost_to_units, largest_remainder, parse_cost, refund_units
from compute_pricing.rules.attribution import BASE_CATEGORY, parse_costs, units_for
from compute_pricing.testing import strategies as cps
from compute_pricing.timekeeping import week_key

# -- week keys -----------------------------------------------------------------------------


@given(instant=cps.aware_datetimes(whole_minutes=False))
@example(instant=datetime(2020, 12, 31, 12, tzinfo=UTC))  # 2020 has 53 ISO weeks
@example(instant=datetime(2021, 1, 3, 23, 59, tzinfo=UTC))  # still 2020-W53
@example(instant=datetime(2026, 12, 31, tzinfo=UTC))  # 2026 has 53 ISO weeks
@example(instant=datetime(2027, 1, 4, 0, 30, tzinfo=timezone(timedelta(hours=1))))
@example(instant=datetime(2024, 12, 30, 1, tzinfo=timezone(timedelta(hours=-23, minutes=-59))))
def test_week_key_is_the_utc_iso_calendar_week(instant: datetime) -> None:
    """week_key is the ISO year and week of the instant read in UTC, whatever its offset."""
    year, week, _ = instant.astimezone(UTC).isocalendar()

    assert f"{year:04d}-W{week:02d}" == week_key(instant)


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        (datetime(2020, 12, 28, tzinfo=UTC), "2020-W53"),
        (datetime(2021, 1, 1, tzinfo=UTC), "2020-W53"),
        (datetime(2026, 12, 31, 23, 59, tzinfo=UTC), "2026-W53"),
        (datetime(2027, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))), "2026-W53"),
        (datetime(2015, 12, 31, tzinfo=UTC), "2015-W53"),
    ],
)
def test_week_key_of_53_week_years(instant: datetime, expected: str) -> None:
    """The last days of a 53-week ISO year get week 53, not week 1 of the next year."""
    assert expected == week_key(instant)


@given(instant=cps.aware_datetimes(), days=st.integers(1, 400))
def test_week_keys_are_strictly_increasing(instant: datetime, days: int) -> None:
    """A week later is a later key, so ``reset:<week_key>`` never names two resets."""
    later = instant + timedelta(days=7 * days)

    assert week_key(instant) < week_key(later)


# -- configuration -------------------------------------------------------------------------


@given(config=cps.billing_configs())
def test_config_round_trips_through_toml(config: BillingConfig) -> None:
    """Writing a config with to_toml_dict and reading it with from_toml gives it back."""
    text = tomli_w.dumps(config.to_toml_dict())
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "billing.toml"
        path.write_text(text, encoding="utf-8")
        loaded = BillingConfig.from_toml(path)

    assert config == loaded


# -- money -----------------------------------------------------------------------------------

_parts = st.dictionaries(
    cps.cost_categories(), st.integers(0, 10**9), min_size=1, max_size=6
).filter(lambda parts: sum(parts.values()) > 0)


@given(parts=_parts, total=st.integers(0, 10**9))
@example(parts={"a": 1, "b": 1, "c": 1}, total=10_000)
@example(parts={"a": 7, "b": 0}, total=3)
def test_largest_remainder_sums_to_total_within_one_of_each_share(
    parts: dict[str, int], total: int
) -> None:
    """Every part lands within one unit of its exact share and the parts sum to the total."""
    whole = sum(parts.values())

    shares = largest_remainder(parts, total)

    assert total == sum(shares.values())
    assert set(parts) == set(shares)
    for name, part in parts.items():
        exact = Fraction(part * total, whole)
        assert abs(shares[name] - exact) < 1, name


@given(pack_units=st.integers(1, 10**9), price_cents=st.integers(1, 10**7))
@example(pack_units=500_000, price_cents=4_900)
def test_refund_of_the_full_price_is_the_whole_pack(pack_units: int, price_cents: int) -> None:
    """Refunding every cent a pack cost takes back exactly the pack's units."""
    assert pack_units == refund_units(price_cents, pack_units, price_cents)


@given(
    pack_units=st.integers(1, 10**9),
    price_cents=st.integers(1, 10**7),
    data=st.data(),
)
def test_partial_refunds_never_exceed_the_pack(
    pack_units: int, price_cents: int, data: st.DataObject
) -> None:
    """A partial refund takes back between 0 and the pack's units, rounded half up."""
    amount = data.draw(st.integers(1, price_cents))

    units = refund_units(amount, pack_units, price_cents)

    assert 0 <= units <= pack_units
    assert abs(Fraction(amount * pack_units, price_cents) - units) <= Fraction(1, 2)


# -- attribution -----------------------------------------------------------------------------

_settings = st.builds(
    ComputeSettings,
    run_base_units=st.integers(0, 50),
    dollars_to_compute=st.sampled_from([1, 10, 1000, 1_000_000]),
    max_compute_per_run=st.integers(1, 20_000),
)
_plans = cps.plan_settings().map(Plan.from_settings)


@given(costs=cps.cost_mappings(max_dollars=50), plan=_plans, settings=_settings)
@example(
    costs={"a": Decimal(4), "b": Decimal(4), "c": Decimal(4)},
    plan=Plan(plan_id="p", version=1, compute_quota=0),
    settings=ComputeSettings(max_compute_per_run=10_000),
)
def test_attribution_never_exceeds_the_cap_and_breakdown_sums_to_total(
    costs: dict[str, Decimal], plan: Plan, settings: ComputeSettings
) -> None:
    """Units stay within the per-run cap and the breakdown always sums to the total."""
    uncapped = {
        category: cost_to_units(cost, plan.ratio(category), settings.dollars_to_compute)
        for category, cost in costs.items()
    }

    units = units_for(parse_costs(costs), plan, settings)

    assert min(sum(uncapped.values()), settings.max_compute_per_run) == units.total
    assert units.total == sum(units.breakdown.values())
    assert (sum(uncapped.values()) > settings.max_compute_per_run) == units.capped
    assert all(value > 0 for value in units.breakdown.values())
    if not units.capped:
        assert {k: v for k, v in uncapped.items() if v} == dict(units.breakdown)


@given(plan=_plans, settings=_settings)
def test_attribution_without_costs_charges_the_base_units(
    plan: Plan, settings: ComputeSettings
) -> None:
    """A run reported without costs costs ``run_base_units``, under the ``base`` category."""
    units = units_for(None, plan, settings)

    assert settings.run_base_units == units.total
    assert ({BASE_CATEGORY: units.total} if units.total else {}) == dict(units.breakdown)


@given(category=cps.cost_categories(), value=cps.invalid_costs())
def test_every_invalid_cost_is_refused_naming_its_category(category: str, value: object) -> None:
    """Negative, non-finite and non-numeric costs raise InvalidCostError naming the category."""
    with pytest.raises(InvalidCostError) as raised:
        parse_cost(category, value)

    assert category == raised.value.category


@given(costs=cps.invalid_cost_mappings())
def test_a_mapping_with_an_invalid_cost_is_refused(costs: dict[str, object]) -> None:
    """parse_costs refuses a mapping with any invalid value, naming a category that is bad."""
    with pytest.raises(InvalidCostError) as raised:
        parse_costs(costs)

    with pytest.raises(InvalidCostError):
        parse_cost(raised.value.category, costs[raised.value.category])


@given(category=cps.cost_categories(), value=cps.dollar_costs(max_dollars=10**6))
def test_every_valid_cost_parses_to_itself(category: str, value: Decimal) -> None:
    """A finite non-negative Decimal is accepted unchanged (zero included)."""
    assert value == parse_cost(category, value)
