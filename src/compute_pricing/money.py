"""Money and unit conversions: one named rounding rule per conversion, never a float.

- dollars (``Decimal``) -> units: :func:`cost_to_units` floors (a run is never over-charged
  by rounding).
- cents -> units of a pack, for refunds: :func:`refund_units` rounds half up in integer
  arithmetic, so 4,900 cents of a 4,900-cent / 500,000-unit pack is exactly 500,000 units.
- splitting a total over parts: :func:`largest_remainder` keeps the parts summing to the total.

Decimal arithmetic runs in :data:`EXACT`, a context of this module passed explicitly to every
operation, never in the caller's thread context: a caller that set ``prec=4`` or another
rounding mode gets the same units as everyone else. ``EXACT`` has the largest precision and
exponent range the decimal module allows, so a product of a cost, a ratio and a whole number
is exact, and traps ``Inexact``/``Rounded`` so that were one ever not exact it would raise
instead of rounding. The only rounding is the named one of each conversion.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import (
    MAX_EMAX,
    MAX_PREC,
    MIN_EMIN,
    ROUND_FLOOR,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    Rounded,
)

from compute_pricing.errors import InvalidCostError

__all__ = [
    "EXACT",
    "MAX_COST",
    "cost_to_units",
    "largest_remainder",
    "parse_cost",
    "refund_units",
    "to_decimal",
]

#: The decimal context of every money operation (see the module docstring).
EXACT = Context(
    prec=MAX_PREC,
    rounding=ROUND_FLOOR,
    Emax=MAX_EMAX,
    Emin=MIN_EMIN,
    traps=[InvalidOperation, DivisionByZero, Overflow, Inexact, Rounded],
)

#: Costs at or above this many dollars are refused: no run step costs that much, and
#: converting ``Decimal("1e999999")`` to units would overflow the decimal context.
MAX_COST = EXACT.power(10, 15)


def to_decimal(value: float | str | Decimal) -> Decimal:
    """Exact decimal of a config ratio: ``0.1`` becomes ``Decimal("0.1")``, not its binary twin."""
    if isinstance(value, Decimal):
        return value
    return Decimal(str(value))


def parse_cost(category: str, value: object) -> Decimal:
    """Validate one category's dollar cost; raise :class:`InvalidCostError` naming it.

    Accepts ``Decimal``, ``int`` and finite ``float`` (taken by its shortest repr, so ``0.1``
    is ten cents of a dollar, not 0.1000000000000000055...). Rejects ``bool``, strings,
    ``None``, NaN, infinities, negatives and anything from :data:`MAX_COST` up.
    """
    if type(value) is Decimal and value.is_finite() and 0 <= value < MAX_COST:
        return value  # the common case, checked without the general chain below
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise InvalidCostError(category, value, "must be a number of dollars")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidCostError(category, value, "must be finite")
    try:
        cost = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:  # pragma: no cover - int/float always convert
        raise InvalidCostError(category, value, "must be a number of dollars") from exc
    if not cost.is_finite():
        raise InvalidCostError(category, value, "must be finite")
    if cost < 0:
        raise InvalidCostError(category, value, "must not be negative")
    if cost >= MAX_COST:
        raise InvalidCostError(category, value, f"must be below {MAX_COST:,} dollars")
    return cost


def cost_to_units(cost: Decimal, ratio: Decimal, dollars_to_compute: int) -> int:
    """``floor(cost * ratio * dollars_to_compute)``, exact whatever the caller's context.

    The product is computed in :data:`EXACT` (explicitly, not through the thread's context),
    so ``Decimal("1.99999999999999999999999999999")`` dollars at 1,000 units a dollar is
    1,999 units, never 2,000.
    """
    product = EXACT.multiply(EXACT.multiply(cost, ratio), dollars_to_compute)
    units = int(product)  # truncates toward zero, exactly and in no context: the floor when >= 0
    if product.is_signed() and units != product:
        units -= 1
    return units


def refund_units(amount_cents: int, pack_units: int, pack_price_cents: int) -> int:
    """Units bought by ``amount_cents`` of a pack, rounded half up, in integers only.

    Integer arithmetic is exact, so no decimal context is involved at all.
    """
    return (2 * amount_cents * pack_units + pack_price_cents) // (2 * pack_price_cents)


def largest_remainder(parts: Mapping[str, int], total: int) -> dict[str, int]:
    """Scale non-negative ``parts`` to sum exactly to ``total`` (largest-remainder method).

    Each part gets ``floor(part * total / whole)``; the units still missing go one each to
    the parts with the largest remainders (ties: the larger part, then the name), so the
    result is deterministic and sums to ``total``.
    """
    whole = sum(parts.values())
    if whole == 0:
        return dict.fromkeys(parts, 0)
    shares = {name: part * total // whole for name, part in parts.items()}
    remainders = {name: part * total % whole for name, part in parts.items()}
    missing = total - sum(shares.values())
    order = sorted(parts, key=lambda name: (-remainders[name], -parts[name], name))
    for name in order[:missing]:
        shares[name] += 1
    return shares
