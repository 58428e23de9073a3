"""Each shortcut the attribution hot path takes agrees with the general rule it skips."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction
from typing import Any

import attrs
from hypothesis import given
from hypothesis import strategies as st

from compute_pricing import commands as cmd
from compute_pricing.errors import InvalidCostError
from compute_pricing.money import MAX_COST, cost_to_units, parse_cost
from compute_pricing.state import OTHER_CATEGORY, Account, Lot, Week, fold_breakdown

categories = st.sampled_from(["a", "b", "c", "d", "e", "f", OTHER_CATEGORY])
breakdowns = st.dictionaries(categories, st.integers(min_value=1, max_value=10**6), max_size=7)
decimals = st.decimals(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [Decimal("-0"), Decimal("0E-30"), MAX_COST, MAX_COST - Decimal("1e-20"), Decimal("sNaN")]
)


def _fold_reference(week: dict[str, int], charge: dict[str, int], limit: int) -> dict[str, int]:
    """The rule as docs/rules.md states it, with no shortcut."""
    kept = {category for category in week if category != OTHER_CATEGORY}
    folded: dict[str, int] = {}
    for category, units in charge.items():
        into = category
        if category not in kept and category != OTHER_CATEGORY:
            if len(kept) >= limit - 1:
                into = OTHER_CATEGORY
            else:
                kept.add(category)
        folded[into] = folded.get(into, 0) + units
    return folded


@given(week=breakdowns, charge=breakdowns, limit=st.integers(min_value=2, max_value=9))
def test_fold_breakdown_matches_the_rule(
    week: dict[str, int], charge: dict[str, int], limit: int
) -> None:
    """The room-for-everything shortcut gives what the category-by-category rule gives."""
    assert _fold_reference(week, charge, limit) == fold_breakdown(week, charge, limit)


@given(
    run_id=st.text(min_size=1, max_size=8),
    step=st.text(min_size=1, max_size=8),
    costs=st.none() | st.dictionaries(st.text(max_size=4), st.decimals(allow_nan=False)),
    reservation=st.none() | st.just("res_1"),
)
def test_attribute_request_matches_the_generic_fingerprint(
    run_id: str, step: str, costs: dict[str, Decimal] | None, reservation: str | None
) -> None:
    """Attribute's spelled-out request equals the generic one built from its fields."""
    command = cmd.Attribute(run_id, step, costs, reservation_id=reservation)
    assert cmd.Command.request(command) == command.request()


@given(value=decimals)
def test_parse_cost_fast_path_accepts_exactly_the_valid_decimals(value: Decimal) -> None:
    """A Decimal is taken as it is iff finite, not negative and below MAX_COST; else refused."""
    valid = value.is_finite() and not value < 0 and value < MAX_COST
    try:
        parsed = parse_cost("llm", value)
    except InvalidCostError:
        assert not valid
    else:
        assert valid
        assert value is parsed


def _decimal_text_reference(value: Decimal) -> str:
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


@given(value=st.decimals(allow_nan=False, allow_infinity=False))
def test_canonical_decimal_text_matches_fixed_point_formatting(value: Decimal) -> None:
    """Decimals read by str() when it has no exponent give the same text as format(.., 'f')."""
    assert _decimal_text_reference(value) == cmd.canonical(value)


def _distinct(cls: type, **numbers: object) -> Any:
    """An instance of ``cls`` whose every field holds a value no other field holds."""
    values = {f.name: numbers.get(f.name, f"<{f.name}>") for f in attrs.fields(cls)}
    return cls(**values)


def test_positional_builders_put_every_field_in_its_place() -> None:
    """with_week, with_debit, Week.charged and Lot.drawn equal attrs.evolve field by field."""
    state = _distinct(Account, usage_debt=11, ledger_lines=13)
    assert attrs.evolve(state, week="<new week>") == state.with_week("<new week>")
    debited = attrs.evolve(state, lots=(), usage_debt=15, ledger_lines=14)
    assert debited == state.with_debit((), 4)
    week = _distinct(Week, used=5, breakdown={"a": 1})
    assert attrs.evolve(week, used=7, breakdown={"a": 3}) == week.charged(2, {"a": 2})
    lot = _distinct(Lot, remaining=9)
    assert attrs.evolve(lot, remaining=6) == lot.drawn(3)


@given(
    cost=st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**6), max_value=10**6),
    ratio=st.decimals(allow_nan=False, allow_infinity=False, min_value=-10, max_value=10),
    dollars_to_compute=st.integers(min_value=0, max_value=10**6),
)
def test_cost_to_units_is_the_exact_floor_of_any_sign(
    cost: Decimal, ratio: Decimal, dollars_to_compute: int
) -> None:
    """Truncation corrected below zero: the floor of the exact product, negatives included."""
    expected = math.floor(Fraction(cost) * Fraction(ratio) * dollars_to_compute)
    assert expected == cost_to_units(cost, ratio, dollars_to_compute)
