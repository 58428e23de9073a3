"""Deciders for the payment side of an account: invoices, paid packs, disputes.

Pure, like :mod:`compute_pricing.decide` (which registers :data:`DECIDERS`). Invoice events are
ordered by the ``invoice`` watermark (an older one is ``stale``). A failed invoice of a
subscription starts dunning (``past_due_since`` only if unset); a one-off invoice does not. A
paid invoice clears dunning and puts back the plan the dunning sweep had put aside. A lost
dispute takes back units exactly like a refund of the same amount.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from compute_pricing import events as ev
from compute_pricing import provider_commands as pc
from compute_pricing.decide_common import Context, Decision
from compute_pricing.decide_extras import pack_credit, take_back
from compute_pricing.errors import ConcurrencyConflictError
from compute_pricing.rules.watermarks import is_stale, moved
from compute_pricing.state import Account

__all__ = ["DECIDERS"]

#: Statuses a paid invoice brings back to ``active``.
_DUNNING = frozenset({"past_due", "unpaid"})


def _fail_invoice(state: Account, c: pc.FailInvoice, ctx: Context) -> Decision:
    sub = state.subscription
    if is_stale(sub, "invoice", c.created, c.event_id):
        return Decision((), {"applied": False, "reason": "stale"}, write=False)
    mark = moved(state, ctx.now, "invoice", c.created, c.event_id)
    if not c.has_subscription:  # a one-off invoice does not start dunning
        return Decision((mark,), {"applied": False, "reason": "one_off_invoice"})
    since = sub.past_due_since or ctx.now
    failed = ev.PaymentFailed(org=state.org, at=ctx.now, past_due_since=since)
    return Decision((mark, failed), {"applied": True, "past_due_since": since.isoformat()})


def _pay_invoice(state: Account, c: pc.PayInvoice, ctx: Context) -> Decision:
    sub = state.subscription
    if not c.direct and is_stale(sub, "invoice", c.created, c.event_id):
        return Decision((), {"applied": False, "reason": "stale"}, write=False)
    events: list[ev.AccountEvent] = []
    if not c.direct:
        events.append(moved(state, ctx.now, "invoice", c.created, c.event_id))
    recovering = c.direct or sub.status in _DUNNING or sub.past_due_since is not None
    if recovering:
        events.append(ev.PaymentRecovered(org=state.org, at=ctx.now))
    restored = None
    if sub.restore_plan_id is not None:
        plan = c.restore
        wanted = sub.restore_version  # None: put aside before first billed, any version
        if (
            plan is None
            or plan.plan_id != sub.restore_plan_id
            or wanted not in (None, plan.version)
        ):
            # the caller looked the plan up on an older state: let it look again
            raise ConcurrencyConflictError(state.org, 1)
        events.append(
            ev.PlanChanged(
                org=state.org,
                at=ctx.now,
                plan_id=plan.plan_id,
                plan_version=plan.version,
                previous_plan_id=sub.plan_id,
                previous_version=sub.plan_version,
                quota=plan.compute_quota,
                preserve_usage=True,
                status="active",
            )
        )
        restored = plan.plan_id
    outcome = {"applied": recovering, "restored_plan_id": restored}
    return Decision(tuple(events), outcome)


def _credit_paid_pack(state: Account, c: pc.CreditPaidPack, ctx: Context) -> Decision:
    return pack_credit(state, ctx, c.pack_id, c.session_id, c.payment_intent)


def _withdraw_dispute(state: Account, c: pc.WithdrawDispute, ctx: Context) -> Decision:
    taken = take_back(
        state,
        ctx,
        refund_id=c.dispute_id,
        session_id=c.session_id,
        amount_cents=c.amount_cents,
        pack_units=c.pack_units,
        pack_price_cents=c.pack_price_cents,
    )
    units = taken.units
    lost = ev.DisputeLost(
        org=state.org,
        at=ctx.now,
        dispute_id=c.dispute_id,
        payment_intent=c.payment_intent,
        amount_cents=c.amount_cents,
        units=units,
    )
    outcome = {"applied": True, "units": units, "balance": state.ledger_balance - units}
    return Decision((taken, lost), outcome)


def _note_dispute(state: Account, c: pc.NoteDispute, ctx: Context) -> Decision:
    alert: ev.AccountEvent
    if c.reinstated:
        alert = ev.DisputeReinstated(
            org=state.org,
            at=ctx.now,
            dispute_id=c.dispute_id,
            payment_intent=c.payment_intent,
            amount_cents=c.amount_cents,
        )
    else:
        alert = ev.DisputeOpened(
            org=state.org,
            at=ctx.now,
            dispute_id=c.dispute_id,
            payment_intent=c.payment_intent,
            amount_cents=c.amount_cents,
            reason=c.reason,
        )
    return Decision((alert,), {"applied": True, "alert": alert.name})


#: This topic's deciders, by command type (registered in :mod:`compute_pricing.decide`).
DECIDERS: dict[type[Any], Callable[[Account, Any, Context], Decision]] = {
    pc.FailInvoice: _fail_invoice,
    pc.PayInvoice: _pay_invoice,
    pc.CreditPaidPack: _credit_paid_pack,
    pc.WithdrawDispute: _withdraw_dispute,
    pc.NoteDispute: _note_dispute,
}
