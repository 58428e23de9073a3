"""``decide(state, command, context) -> Decision``: the functional core of every account change.

Pure: no I/O, no clock reads (``context.now`` is the instant), no globals. A decision is the
list of events to journal (folded with :func:`~compute_pricing.evolve.evolve`) and the outcome a
replay of the same key returns. A refused command raises a
:class:`~compute_pricing.errors.BillingError` and writes nothing.

Compute commands first bring the week up to date (open the first week, or roll a due one and
settle overflow debt), inside the same commit, so no charge ever lands on a stale week.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import attrs

from compute_pricing import commands as cmd
from compute_pricing import decide_payments, decide_subscription
from compute_pricing import events as ev
from compute_pricing.config import BillingConfig
from compute_pricing.errors import (
    ComputeExhaustedError,
    PaymentPastDueError,
    UnknownPackError,
    UnknownReservationError,
)
from compute_pricing.evolve import fold
from compute_pricing.money import refund_units
from compute_pricing.plans import Plan
from compute_pricing.rules import ledger, overflow
from compute_pricing.rules.attribution import units_for
from compute_pricing.rules.gate import Headroom, dunning_stage, effective_quota, headroom
from compute_pricing.rules.legacy import current_count
from compute_pricing.rules.watermarks import direct_watermark
from compute_pricing.rules.weeks import WEEK, next_anchor
from compute_pricing.state import Account
from compute_pricing.timekeeping import month_key, to_utc_ms, week_key
from compute_pricing.validation import require_units

__all__ = ["Context", "Decision", "decide", "exhausted_error", "roll_week", "take_back"]


@attrs.frozen
class Context:
    """Everything a decision may depend on besides the account: config, time, plans."""

    config: BillingConfig
    now: datetime
    plan: Plan
    default_plan: Plan


@attrs.frozen
class Decision:
    """Events to commit and the outcome to return (and replay); ``write=False`` is a no-op."""

    events: tuple[ev.AccountEvent, ...]
    outcome: Mapping[str, Any]
    write: bool = True


def _quota(state: Account, ctx: Context) -> int:
    return effective_quota(state, ctx.plan, ctx.default_plan)


def current_headroom(state: Account, ctx: Context, *, excluding: str | None = None) -> Headroom:
    """Headroom of ``state`` (week already current) at ``ctx.now``."""
    stage = dunning_stage(state.subscription, ctx.now, ctx.config.grace_days)
    return headroom(state, _quota(state, ctx), ctx.now, stage, excluding=excluding)


def exhausted_error(state: Account, ctx: Context, room: Headroom) -> Exception:
    """The 402 error for an account with nothing left (payment or compute)."""
    if room.stage == "degraded" and room.extras > 0:
        return PaymentPastDueError(
            state.org,
            past_due_since=state.subscription.past_due_since,
            grace_days=ctx.config.grace_days,
        )
    return ComputeExhaustedError(
        state.org,
        compute_used=room.used,
        compute_quota=room.quota,
        extras_remaining=max(0, room.extras),
        packs_available=[pack.pack_id for pack in ctx.config.packs],
        upgrade_url=ctx.config.upgrade_url,
    )


def roll_week(
    state: Account, ctx: Context, period_start: datetime | None = None
) -> list[ev.AccountEvent]:
    """Events that open the first week or roll a due one (with signup grant and settlement)."""
    anchor = next_anchor(state.week, ctx.now, period_start)
    if anchor is None:
        return []
    renewed = period_start is not None and anchor == to_utc_ms(period_start)
    quota = _quota(state, ctx)
    new_key = week_key(anchor)
    events: list[ev.AccountEvent] = [
        ev.WeekOpened(
            org=state.org,
            at=ctx.now,
            week_key=new_key,
            started_at=anchor,
            reset_at=anchor + WEEK,
            quota=quota,
            plan_id=ctx.plan.plan_id,
            plan_version=ctx.plan.version,
            closed_week_key=state.week.key if state.week else None,
            closed_used=state.week.used if state.week else None,
            period_start=anchor if renewed else None,
        )
    ]
    grant = ctx.plan.signup_grant
    if grant and not state.signup_granted:
        events.append(_credit(state, ctx, lot_id="grant:signup", kind="grant", units=grant))
    # settle what is still owed after the grant, which repays debt first
    settle = min(quota, fold(state, events).usage_debt)
    if settle > 0:
        events.append(ev.DebtSettled(org=state.org, at=ctx.now, week_key=new_key, units=settle))
    return events


def _credit(
    state: Account,
    ctx: Context,
    *,
    lot_id: str,
    kind: str,
    units: int,
    expires_at: datetime | None = None,
    pack_id: str | None = None,
    session_id: str | None = None,
    price_cents: int | None = None,
) -> ev.ExtrasCredited:
    refund, usage = ledger.credit_split(units, state.refund_debt, state.usage_debt)
    return ev.ExtrasCredited(
        org=state.org,
        at=ctx.now,
        lot_id=lot_id,
        kind=kind,
        units=units,
        repaid_refund_debt=refund,
        repaid_usage_debt=usage,
        expires_at=expires_at,
        pack_id=pack_id,
        session_id=session_id,
        price_cents=price_cents,
    )


def _spend(
    state: Account, ctx: Context, units: int, ref: str, *, use_lots: bool
) -> list[ev.AccountEvent]:
    """Debit ``units`` of extras (lots unless ``use_lots`` is off, then debt)."""
    draws, shortfall = ledger.draw(state.lots, units, ctx.now) if use_lots else ((), units)
    events: list[ev.AccountEvent] = [
        ev.ExtrasDebited(
            org=state.org, at=ctx.now, ref=ref, units=units, draws=draws, debt=shortfall
        )
    ]
    before = state.spendable(ctx.now)
    if before > 0 and before - units <= 0:
        events.append(ev.ExtrasExhausted(org=state.org, at=ctx.now, balance=before - units))
    return events


def _attribute(state: Account, c: cmd.Attribute, ctx: Context) -> Decision:
    events = roll_week(state, ctx)
    s = fold(state, events)
    if c.reservation_id is not None and s.reservation(c.reservation_id, ctx.now) is None:
        raise UnknownReservationError(c.reservation_id)
    units = units_for(c.costs, ctx.plan, ctx.config.compute, s.week.breakdown if s.week else None)
    assert s.week is not None  # noqa: S101 - roll_week opened it
    quota = _quota(s, ctx)
    from_quota, from_extras = overflow.split_charge(units.total, quota, s.week.used)
    if units.total:
        events.append(
            ev.ComputeCharged(
                org=s.org,
                at=ctx.now,
                run_id=c.run_id,
                step=c.step,
                week_key=s.week.key,
                units=units.total,
                from_quota=from_quota,
                from_extras=from_extras,
                breakdown=units.breakdown,
                capped=units.capped,
                reservation_id=c.reservation_id,
            )
        )
    if from_extras:
        # extras fund overflow unless payment is past due beyond grace (then it becomes debt)
        usable = dunning_stage(s.subscription, ctx.now, ctx.config.grace_days) != "degraded"
        # the ledger ref of a run's overflow is its journal key (unambiguous, see keys.py)
        events += _spend(s, ctx, from_extras, c.key(s), use_lots=usable)
    used = s.week.used + units.total
    for pct in overflow.crossed_thresholds(
        ctx.config.alerts.threshold_percents, s.week.thresholds_fired, used, quota
    ):
        events.append(
            ev.ThresholdCrossed(
                org=s.org, at=ctx.now, week_key=s.week.key, threshold=pct, used=used, quota=quota
            )
        )
    if c.reservation_id is not None:
        events.append(
            ev.ReservationReleased(
                org=s.org, at=ctx.now, reservation_id=c.reservation_id, reason="committed"
            )
        )
    outcome = {
        "applied": True,
        "units": units.total,
        "from_quota": from_quota,
        "from_extras": from_extras,
        "compute_used": used,
        "capped": units.capped,
        "reason": "charged" if units.total else "zero_cost",
    }
    return Decision(tuple(events), outcome)


def _reserve(state: Account, c: cmd.Reserve, ctx: Context) -> Decision:
    require_units("units", c.units)
    events = roll_week(state, ctx)
    s = fold(state, events)
    room = current_headroom(s, ctx)
    if room.remaining < c.units:
        raise exhausted_error(s, ctx, room)
    expires_at = ctx.now + timedelta(seconds=c.ttl_seconds)
    events.append(
        ev.UnitsReserved(
            org=s.org,
            at=ctx.now,
            reservation_id=c.reservation_id,
            units=c.units,
            expires_at=expires_at,
        )
    )
    outcome = {
        "reservation_id": c.reservation_id,
        "units": c.units,
        "expires_at": expires_at.isoformat(),
    }
    return Decision(tuple(events), outcome)


def _release(state: Account, c: cmd.Release, ctx: Context) -> Decision:
    if state.reservation(c.reservation_id, ctx.now) is None:
        return Decision((), {"released": False}, write=False)
    event = ev.ReservationReleased(
        org=state.org, at=ctx.now, reservation_id=c.reservation_id, reason="released"
    )
    return Decision((event,), {"released": True})


def _credit_pack(state: Account, c: cmd.CreditPack, ctx: Context) -> Decision:
    pack = ctx.config.pack(c.pack_id)
    if pack is None:
        raise UnknownPackError(c.pack_id)
    expires_at = None if pack.expiry_days is None else ctx.now + timedelta(days=pack.expiry_days)
    event = _credit(
        state,
        ctx,
        lot_id=f"pack:{c.session_id}",
        kind="pack",
        units=pack.units,
        expires_at=expires_at,
        pack_id=pack.pack_id,
        session_id=c.session_id,
        price_cents=pack.price_cents,
    )
    outcome = {"applied": True, "units": pack.units, "balance": state.ledger_balance + pack.units}
    return Decision((event,), outcome)


def _adjust(state: Account, c: cmd.Adjust, ctx: Context) -> Decision:
    require_units("units", c.units, signed=True)
    if c.units > 0:
        events: list[ev.AccountEvent] = [
            _credit(state, ctx, lot_id=f"adjust:{c.ref}", kind="adjustment", units=c.units)
        ]
    else:
        events = _spend(state, ctx, -c.units, f"adjust:{c.ref}", use_lots=True)
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
    events = _spend(state, ctx, c.units, c.ref, use_lots=True)
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


def _reset_week(state: Account, c: cmd.ResetWeek, ctx: Context) -> Decision:
    events = roll_week(state, ctx, c.period_start)
    if not events:
        return Decision((), {"applied": False, "reason": "not_due"}, write=False)
    opened = events[0]
    assert isinstance(opened, ev.WeekOpened)  # noqa: S101 - roll_week opens first
    settled = sum(e.units for e in events if isinstance(e, ev.DebtSettled))
    outcome = {
        "applied": True,
        "week_key": opened.week_key,
        "settled": settled,
        "closed_week_key": opened.closed_week_key,
        "closed_used": opened.closed_used,
    }
    return Decision(tuple(events), outcome)


def _change_plan(state: Account, c: cmd.ChangePlan, ctx: Context) -> Decision:
    sub = state.subscription
    if (sub.plan_id, sub.plan_version, sub.status) == (c.plan.plan_id, c.plan.version, c.status):
        return Decision((), {"applied": False, "reason": "unchanged"}, write=False)
    new_ctx = attrs.evolve(ctx, plan=c.plan)
    moved = attrs.evolve(state, subscription=attrs.evolve(sub, status=c.status))
    event = ev.PlanChanged(
        org=state.org,
        at=ctx.now,
        plan_id=c.plan.plan_id,
        plan_version=c.plan.version,
        previous_plan_id=sub.plan_id,
        previous_version=sub.plan_version,
        quota=_quota(moved, new_ctx),
        preserve_usage=c.preserve_usage,
        status=c.status,
    )
    return Decision(
        (event, direct_watermark(state, ctx.now)),
        {"applied": True, "plan_id": c.plan.plan_id, "plan_version": c.plan.version},
    )


def _fail_payment(state: Account, c: cmd.FailPayment, ctx: Context) -> Decision:
    since = state.subscription.past_due_since or ctx.now
    event = ev.PaymentFailed(org=state.org, at=ctx.now, past_due_since=since)
    return Decision((event,), {"applied": True, "past_due_since": since.isoformat()})


def _recover_payment(state: Account, c: cmd.RecoverPayment, ctx: Context) -> Decision:
    event = ev.PaymentRecovered(org=state.org, at=ctx.now)
    return Decision((event,), {"applied": True})


def _expire_subscription(state: Account, c: cmd.ExpireSubscription, ctx: Context) -> Decision:
    sub = state.subscription
    since = sub.past_due_since
    due = since is not None and ctx.now - since >= timedelta(days=ctx.config.dunning_days)
    if sub.status != "past_due" or not due:
        return Decision((), {"applied": False, "reason": "not_due"}, write=False)
    # the plan to put back when payment succeeds: the first sweep of an episode records it
    restore = (sub.restore_plan_id, sub.restore_version)
    if restore[0] is None:
        restore = (sub.plan_id, sub.plan_version)
    expired = ev.SubscriptionExpired(
        org=state.org,
        at=ctx.now,
        plan_id=ctx.default_plan.plan_id,
        plan_version=ctx.default_plan.version,
        restore_plan_id=restore[0],
        restore_version=restore[1],
    )
    return Decision((expired, direct_watermark(state, ctx.now)), {"applied": True})


def _record_usage(state: Account, c: cmd.RecordUsage, ctx: Context) -> Decision:
    require_units("amount", c.amount)
    period = month_key(ctx.now)
    total = current_count(state.legacy, c.counter, period) + c.amount
    event = ev.UsageRecorded(
        org=state.org, at=ctx.now, counter=c.counter, period=period, amount=c.amount, total=total
    )
    return Decision((event,), {"applied": True, "counter": c.counter, "current": total})


_DECIDERS: dict[type[cmd.Command], Callable[[Account, Any, Context], Decision]] = {
    cmd.Attribute: _attribute,
    cmd.Reserve: _reserve,
    cmd.Release: _release,
    cmd.CreditPack: _credit_pack,
    cmd.Adjust: _adjust,
    cmd.Debit: _debit,
    cmd.Refund: _refund,
    cmd.ExpireLot: _expire_lot,
    cmd.ResetWeek: _reset_week,
    cmd.ChangePlan: _change_plan,
    cmd.FailPayment: _fail_payment,
    cmd.RecoverPayment: _recover_payment,
    cmd.ExpireSubscription: _expire_subscription,
    cmd.RecordUsage: _record_usage,
    **decide_payments.DECIDERS,
    **decide_subscription.DECIDERS,
}


def decide(state: Account, command: cmd.Command, ctx: Context) -> Decision:
    """The events ``command`` produces on ``state`` at ``ctx.now``, or a ``BillingError``."""
    return _DECIDERS[type(command)](state, command, ctx)
