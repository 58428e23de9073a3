"""Money rounding is independent of the caller's decimal context."""

from __future__ import annotations

import decimal
import math
from decimal import Decimal, localcontext
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from compute_pricing.money import cost_to_units, parse_cost, refund_units

ROUNDINGS = [
    decimal.ROUND_CEILING,
    decimal.ROUND_DOWN,
    decimal.ROUND_FLOOR,
    decimal.ROUND_HALF_DOWN,
    decimal.ROUND_HALF_EVEN,
    decimal.ROUND_HALF_UP,
    decimal.ROUND_UP,
    decimal.ROUND_05UP,
]

caller_contexts = st.builds(
    lambda prec, rounding, trap: decimal.Context(
        prec=prec, rounding=rounding, traps=[decimal.Inexact, decimal.Rounded] if trap else []
    ),
    st.integers(min_value=1, max_value=40),
    st.sampled_from(ROUNDINGS),
    st.booleans(),
)
"""Contexts a caller might have set: any precision, any rounding, strict traps or none."""

digits = st.text(alphabet="0123456789", min_size=1, max_size=40)


def _decimal(whole: str, fraction: str) -> Decimal:
    return Decimal(f"{whole[:15]}.{fraction}")


def test_many_nines_floor_to_1999_units_in_the_default_context() -> None:
    """29 nines after the point are below 2 dollars: 1,999 units, not 2,000."""
    assert 1_999 == cost_to_units(Decimal("1.99999999999999999999999999999"), Decimal(1), 1_000)


def test_a_four_digit_caller_context_does_not_round_the_cost() -> None:
    """With the caller at ``prec=4``, 1.9999 dollars is still 1,999 units."""
    with localcontext(decimal.Context(prec=4, rounding=decimal.ROUND_HALF_UP)):
        assert 1_999 == cost_to_units(Decimal("1.9999"), Decimal(1), 1_000)
        assert 4_999 == cost_to_units(Decimal("1.99999"), Decimal("2.5"), 1_000)


@given(
    context=caller_contexts,
    cost=st.builds(_decimal, digits, digits),
    ratio=st.builds(_decimal, st.text(alphabet="0123456789", min_size=1, max_size=3), digits),
    dollars_to_compute=st.integers(min_value=1, max_value=10**6),
)
def test_units_equal_the_exact_integer_floor_in_any_caller_context(
    context: decimal.Context, cost: Decimal, ratio: Decimal, dollars_to_compute: int
) -> None:
    """cost_to_units == floor of the exact rational product, whatever context the caller set."""
    expected = math.floor(Fraction(cost) * Fraction(ratio) * dollars_to_compute)
    with localcontext(context):
        checked = parse_cost("llm", cost)
        assert expected == cost_to_units(checked, ratio, dollars_to_compute)


@given(
    context=caller_contexts,
    amount=st.integers(min_value=0, max_value=10**9),
    units=st.integers(min_value=1, max_value=10**12),
    price=st.integers(min_value=1, max_value=10**9),
)
def test_refund_units_round_half_up_exactly_in_any_caller_context(
    context: decimal.Context, amount: int, units: int, price: int
) -> None:
    """refund_units == round-half-up of amount * units / price, computed on fractions."""
    exact = Fraction(amount * units, price)
    expected = math.floor(exact + Fraction(1, 2))
    with localcontext(context):
        assert expected == refund_units(amount, units, price)
