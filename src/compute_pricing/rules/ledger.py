"""Extras ledger rules (docs/rules.md "Extras ledger"): lots, burn order, credits, refunds.

- Debits draw from spendable lots: earliest expiry first, then oldest, lots without expiry
  last; what no lot covers becomes debt. Every draw is recorded (provenance).
- A credit repays debt first (refund debt, then overflow debt); the rest is a new lot.
- A refund draws from its pack's lot first, then like a debit; the rest is refund debt.
- Ledger lines are derived from journaled events; zero expiration markers are hidden.
  Signs: topup and positive adjustment > 0; debit and refund < 0; expiration <= 0.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import attrs

from compute_pricing import events as ev
from compute_pricing.state import Lot

__all__ = [
    "LedgerLine",
    "burn_order",
    "credit_split",
    "draw",
    "ledger_line_count",
    "ledger_lines",
]

_FAR_FUTURE = datetime.max.replace(tzinfo=UTC)


@attrs.frozen
class LedgerLine:
    """One visible ledger line: ``units`` is signed; ``ref`` names what caused it."""

    kind: str
    units: int
    ref: str
    at: datetime
    lot_id: str | None = None
    draws: ev.Draws = ()


def burn_order(lots: Iterable[Lot], now: datetime) -> list[Lot]:
    """Spendable lots in the order debits draw from them."""
    spendable = [lot for lot in lots if lot.spendable_at(now)]
    if len(spendable) > 1:
        spendable.sort(key=_burn_key)
    return spendable


def _burn_key(lot: Lot) -> tuple[bool, datetime, datetime, str]:
    """Soonest expiry first, never-expiring last; then oldest, then by id."""
    return (lot.expires_at is None, lot.expires_at or _FAR_FUTURE, lot.created_at, lot.lot_id)


def draw(
    lots: Iterable[Lot], units: int, now: datetime, *, first: Lot | None = None
) -> tuple[ev.Draws, int]:
    """Draw ``units``: ``(draws, shortfall)``; ``first`` (a refund's own lot) goes first."""
    ordered = burn_order(lots, now)
    if first is not None:
        ordered = [first, *(lot for lot in ordered if lot.lot_id != first.lot_id)]
    draws: list[tuple[str, int]] = []
    left = units
    for lot in ordered:
        if left == 0:
            break
        take = min(left, lot.remaining)
        if take > 0:
            draws.append((lot.lot_id, take))
            left -= take
    return tuple(draws), left


def credit_split(units: int, refund_debt: int, usage_debt: int) -> tuple[int, int]:
    """``(repaid_refund_debt, repaid_usage_debt)`` when ``units`` are credited."""
    refund = min(units, refund_debt)
    usage = min(units - refund, usage_debt)
    return refund, usage


def ledger_lines(event: ev.AccountEvent) -> list[LedgerLine]:
    """The visible ledger lines an event writes (most write none)."""
    match event:
        case ev.ExtrasCredited():
            kind = "adjustment" if event.kind == "adjustment" else "topup"
            return [
                LedgerLine(
                    kind,
                    event.units,
                    event.session_id or event.lot_id,
                    event.at,
                    lot_id=event.lot_id,
                )
            ]
        case ev.ExtrasDebited():
            return [LedgerLine("debit", -event.units, event.ref, event.at, draws=event.draws)]
        case ev.RefundApplied():
            return [
                LedgerLine("refund", -event.units, event.refund_id, event.at, draws=event.draws)
            ]
        case ev.LotExpired() if event.units:
            return [
                LedgerLine("expiration", -event.units, event.lot_id, event.at, lot_id=event.lot_id)
            ]
        case ev.DebtSettled():
            return [LedgerLine("adjustment", event.units, f"settle:{event.week_key}", event.at)]
        case _:
            return []


_ALWAYS_ONE_LINE = (ev.ExtrasCredited, ev.ExtrasDebited, ev.RefundApplied, ev.DebtSettled)


def ledger_line_count(event: ev.AccountEvent) -> int:
    """``len(ledger_lines(event))`` without building the lines (the commit path counts them)."""
    if isinstance(event, _ALWAYS_ONE_LINE):
        return 1
    return 1 if isinstance(event, ev.LotExpired) and event.units else 0
