"""Deciders for the extras ledger: pack credits, adjustments, debits, refunds, lot expiry.

Pure, like :mod:`compute_pricing.decide` (which registers :data:`DECIDERS`). Every credit
repays refund debt, then usage debt, before it adds spendable units, and every debit draws live
lots in burn order (:mod:`~compute_pricing.decide_common`). A direct debit is refused once
payment is degraded. A refund takes back the integer units the refunded cents paid for, from the
purchase's own lot first, a shortfall left as refund debt (:func:`take_back`, which a lost
dispute uses too). A lot expires only once its ``expires_at`` has passed; an early or repeated
expiry writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from compute_pricing import commands as cmd
from compute_pricing import events as ev
from compute_pricing.decide_common import Context, Decision, credit, current_headroom, spend
from compute_pricing.errors import PaymentPastDueError, UnknownPackError
from compute_pricing.money import refund_units
from compute_pricing.rules import ledger
from compute_pricing.state import Account
from compute_pricing.validation import require_units

__all__ = ["DECIDERS", "pack_credit", "take_back"]


def pack_credit(
    state: Account, ctx: Context, pack_id: str, session_id: str, payment_intent: str | None = None
) -> Decision:
    """Credit a configured pack bought in ``session_id``: its lot expires ``expiry_days`` on.

    The one rule behind an admin credit and a paid Stripe checkout (which also records the
    payment intent, so a later refund finds the lot).
    """
    pack = ctx.config.pack(pack_id)
    if pack is None:
        raise UnknownPackError(pack_id)
    expires_at = None if pack.expiry_days is None else ctx.now + timedelta(days=pack.expiry_days)
    event = credit(
        state,
        ctx,
        lot_id=f"pack:{session_id}",
        kind="pack",
        units=pack.units,
        expires_at=expires_at,
        pack_id=pack.pack_id,
        session_id=session_id,
        price_cents=pack.price_cents,
        payment_intent=payment_intent,
    )
    outcome = {"applied": True, "units": pack.units, "balance": state.ledger_balance + pack.units}
    return Decision((event,), outcome)


def _credit_pack(state: Account, c: cmd.CreditPack, ctx: Context) -> Decision:
    return pack_credit(state, ctx, c.pack_id, c.session_id)


def _adjust(state: Account, c: cmd.Adjust, ctx: Context) -> Decision:
    require_units("units", c.units, signed=True)
    if c.units > 0:
        events: list[ev.AccountEvent] = [
            credit(state, ctx, lot_id=f"adjust:{c.ref}", kind="adjustment", units=c.units)
        ]
    else:
        events = spend(state, ctx, -c.units, f"adjust:{c.ref}", use_lots=True)
    outcome: dict[str, Any] = {
        "applied": True,
        "units": c.units,
        "balance": state.ledger_balance + c.units,
    }
    if c.reason is not None:
        outcome["reason"] = c.reason
    return Decision(tuple(events), outcome)


def _debit(state: Account, c: cmd.Debit, ctx: Context) -> Decision:
    require_units("units", c.units)
    room = current_headroom(state, ctx)
    if not room.extras_usable:  # extras spending is refused once payment is degraded
        raise PaymentPastDueError(
            state.org,
            past_due_since=state.subscription.past_due_since,
            grace_days=ctx.config.grace_days,
        )
    events = spend(state, ctx, c.units, c.ref, use_lots=True)
    return Decision(
        tuple(events),
        {"applied": True, "units": c.units, "balance": state.ledger_balance - c.units},
    )


def take_back(
    state: Account,
    ctx: Context,
    *,
    refund_id: str,
    session_id: str,
    amount_cents: int,
    pack_units: int,
    pack_price_cents: int,
) -> ev.RefundApplied:
    """Units ``amount_cents`` of a pack purchase paid for, drawn from that pack's lot first.

    The one rule behind refunds and lost disputes: integer units by :func:`refund_units`, the
    purchase's own lot drawn before any other, a shortfall left as refund debt.
    """
    require_units("amount_cents", amount_cents)
    units = refund_units(amount_cents, pack_units, pack_price_cents)
    draws, shortfall = ledger.draw(
        state.lots, units, ctx.now, first=state.lot(f"pack:{session_id}")
    )
    return ev.RefundApplied(
        org=state.org,
        at=ctx.now,
        refund_id=refund_id,
        session_id=session_id,
        amount_cents=amount_cents,
        units=units,
        draws=draws,
        debt=shortfall,
    )


def _refund(state: Account, c: cmd.Refund, ctx: Context) -> Decision:
    event = take_back(
        state,
        ctx,
        refund_id=c.refund_id,
        session_id=c.session_id,
        amount_cents=c.amount_cents,
        pack_units=c.pack_units,
        pack_price_cents=c.pack_price_cents,
    )
    return Decision(
        (event,),
        {"applied": True, "units": event.units, "balance": state.ledger_balance - event.units},
    )


def _expire_lot(state: Account, c: cmd.ExpireLot, ctx: Context) -> Decision:
    lot = state.lot(c.lot_id)
    if lot is None or lot.expires_at is None or ctx.now < lot.expires_at:
        return Decision((), {"applied": False}, write=False)
    event = ev.LotExpired(org=state.org, at=ctx.now, lot_id=lot.lot_id, units=lot.remaining)
    return Decision((event,), {"applied": True, "units": lot.remaining})


#: This topic's deciders, by command type (registered in :mod:`compute_pricing.decide`).
DECIDERS: dict[type[Any], Callable[[Account, Any, Context], Decision]] = {
    cmd.CreditPack: _credit_pack,
    cmd.Adjust: _adjust,
    cmd.Debit: _debit,
    cmd.Refund: _refund,
    cmd.ExpireLot: _expire_lot,
}
