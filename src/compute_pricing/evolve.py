"""``evolve(state, event) -> state``: how each journaled fact changes an :class:`Account`.

Pure and total over :data:`~compute_pricing.events.ACCOUNT_EVENTS`. All arithmetic was done by
``decide``; evolve only applies what the event says, so replaying a journal always rebuilds the
same account.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import reduce
from typing import Any

import attrs

from compute_pricing import events as ev
from compute_pricing.state import Account, LegacyUsage, Lot, Reservation, Watermark, Week

__all__ = ["evolve", "fold"]


def _draw(lots: tuple[Lot, ...], draws: ev.Draws) -> tuple[Lot, ...]:
    taken = dict(draws)
    drawn = (lot.drawn(taken[lot.lot_id]) if lot.lot_id in taken else lot for lot in lots)
    # a spent lot that never expires is dead weight: dropping it keeps the snapshot bounded
    # (spent lots with an expiry stay until the sweep writes their zero marker)
    return tuple(lot for lot in drawn if lot.remaining > 0 or lot.expires_at is not None)


def _week_opened(state: Account, e: ev.WeekOpened) -> Account:
    week = Week(
        key=e.week_key,
        started_at=e.started_at,
        reset_at=e.reset_at,
        quota=e.quota,
        plan_id=e.plan_id,
        plan_version=e.plan_version,
    )
    live = tuple(r for r in state.reservations if r.expires_at > e.started_at)
    sub = state.subscription
    if sub.plan_version is None:  # first billed: pin the version (grandfathering)
        sub = attrs.evolve(sub, plan_id=e.plan_id, plan_version=e.plan_version)
    if e.period_start is not None:
        sub = attrs.evolve(sub, current_period_start=e.period_start)
    return attrs.evolve(state, week=week, reservations=live, subscription=sub)


def _debt_settled(state: Account, e: ev.DebtSettled) -> Account:
    week = state.week
    assert week is not None  # noqa: S101 - decide settles only into an open week
    return attrs.evolve(
        state,
        usage_debt=state.usage_debt - e.units,
        week=attrs.evolve(week, used=week.used + e.units),
        ledger_lines=state.ledger_lines + 1,
    )


def _charged(state: Account, e: ev.ComputeCharged) -> Account:
    week = state.week
    assert week is not None  # noqa: S101 - decide charges only into an open week
    return state.with_week(week.charged(e.units, e.breakdown))


def _debited(state: Account, e: ev.ExtrasDebited) -> Account:
    return state.with_debit(_draw(state.lots, e.draws), e.debt)


def _threshold(state: Account, e: ev.ThresholdCrossed) -> Account:
    week = state.week
    assert week is not None  # noqa: S101 - thresholds exist only inside a week
    fired = tuple(sorted({*week.thresholds_fired, e.threshold}))
    return attrs.evolve(state, week=attrs.evolve(week, thresholds_fired=fired))


def _credited(state: Account, e: ev.ExtrasCredited) -> Account:
    remaining = e.units - e.repaid_refund_debt - e.repaid_usage_debt
    lots = state.lots
    if remaining > 0:
        lot = Lot(
            lot_id=e.lot_id,
            kind=e.kind,
            units=e.units,
            remaining=remaining,
            created_at=e.at,
            expires_at=e.expires_at,
            pack_id=e.pack_id,
            session_id=e.session_id,
            payment_intent=e.payment_intent,
        )
        lots = (*lots, lot)
    return attrs.evolve(
        state,
        lots=lots,
        refund_debt=state.refund_debt - e.repaid_refund_debt,
        usage_debt=state.usage_debt - e.repaid_usage_debt,
        signup_granted=state.signup_granted or e.kind == "grant",
        ledger_lines=state.ledger_lines + 1,
    )


def _refunded(state: Account, e: ev.RefundApplied) -> Account:
    return attrs.evolve(
        state,
        lots=_draw(state.lots, e.draws),
        refund_debt=state.refund_debt + e.debt,
        ledger_lines=state.ledger_lines + 1,
    )


def _expired(state: Account, e: ev.LotExpired) -> Account:
    return attrs.evolve(
        state,
        lots=tuple(lot for lot in state.lots if lot.lot_id != e.lot_id),
        ledger_lines=state.ledger_lines + (1 if e.units else 0),
    )


def _plan_changed(state: Account, e: ev.PlanChanged) -> Account:
    subscription = attrs.evolve(
        state.subscription,
        plan_id=e.plan_id,
        plan_version=e.plan_version,
        status=e.status,
        past_due_since=state.subscription.past_due_since if e.status == "past_due" else None,
        restore_plan_id=None,  # a plan set on purpose supersedes the one dunning put aside
        restore_version=None,
    )
    week = state.week
    if week is not None:
        week = attrs.evolve(
            week,
            quota=e.quota,
            plan_id=e.plan_id,
            plan_version=e.plan_version,
            used=week.used if e.preserve_usage else 0,
            breakdown=week.breakdown if e.preserve_usage else {},
        )
    return attrs.evolve(state, subscription=subscription, week=week)


def _payment_failed(state: Account, e: ev.PaymentFailed) -> Account:
    sub = attrs.evolve(state.subscription, status="past_due", past_due_since=e.past_due_since)
    return attrs.evolve(state, subscription=sub)


def _payment_recovered(state: Account, _: ev.PaymentRecovered) -> Account:
    sub = attrs.evolve(state.subscription, status="active", past_due_since=None)
    return attrs.evolve(state, subscription=sub)


def _subscription_expired(state: Account, e: ev.SubscriptionExpired) -> Account:
    sub = attrs.evolve(
        state.subscription,
        status="unpaid",
        plan_id=e.plan_id,
        plan_version=e.plan_version,
        restore_plan_id=e.restore_plan_id,
        restore_version=e.restore_version,
    )
    return attrs.evolve(state, subscription=sub)


def _watermark_moved(state: Account, e: ev.WatermarkMoved) -> Account:
    mark = Watermark(created=e.created, event_id=e.event_id)
    sub = state.subscription
    if e.family == "invoice":
        sub = attrs.evolve(sub, invoice_mark=max(mark, sub.invoice_mark or mark))
    else:
        sub = attrs.evolve(sub, subscription_mark=max(mark, sub.subscription_mark or mark))
    return attrs.evolve(state, subscription=sub)


def _subscription_synced(state: Account, e: ev.SubscriptionSynced) -> Account:
    sub = attrs.evolve(
        state.subscription,
        subscription_id=e.subscription_id,
        customer_id=e.customer_id,
        status=e.status,
        cancel_at=e.cancel_at,
        cancel_at_period_end=e.cancel_at_period_end,
        past_due_since=state.subscription.past_due_since if e.status == "past_due" else None,
    )
    return attrs.evolve(state, subscription=sub)


def _customer_linked(state: Account, e: ev.CustomerLinked) -> Account:
    sub = attrs.evolve(
        state.subscription, customer_id=e.customer_id, customer_generation=e.generation
    )
    return attrs.evolve(state, subscription=sub)


def _customer_deleted(state: Account, e: ev.CustomerDeleted) -> Account:
    sub = attrs.evolve(
        state.subscription,
        customer_id=None,
        subscription_id=None,
        customer_generation=e.generation,
        status="canceled",
        past_due_since=None,
        cancel_at=None,
        cancel_at_period_end=False,
        restore_plan_id=None,
        restore_version=None,
    )
    return attrs.evolve(state, subscription=sub)


def _reserved(state: Account, e: ev.UnitsReserved) -> Account:
    live = tuple(r for r in state.reservations if r.expires_at > e.at)
    held = Reservation(reservation_id=e.reservation_id, units=e.units, expires_at=e.expires_at)
    return attrs.evolve(state, reservations=(*live, held))


def _released(state: Account, e: ev.ReservationReleased) -> Account:
    kept = tuple(r for r in state.reservations if r.reservation_id != e.reservation_id)
    return attrs.evolve(state, reservations=kept)


def _usage_recorded(state: Account, e: ev.UsageRecorded) -> Account:
    counts = dict(state.legacy.counts) if state.legacy.period == e.period else {}
    counts[e.counter] = e.total
    return attrs.evolve(state, legacy=LegacyUsage(period=e.period, counts=counts))


def _unchanged(state: Account, _: Any) -> Account:
    return state


_HANDLERS: dict[type[ev.AccountEvent], Callable[[Account, Any], Account]] = {
    ev.WeekOpened: _week_opened,
    ev.DebtSettled: _debt_settled,
    ev.ComputeCharged: _charged,
    ev.ExtrasDebited: _debited,
    ev.ThresholdCrossed: _threshold,
    ev.ExtrasExhausted: _unchanged,
    ev.ExtrasCredited: _credited,
    ev.RefundApplied: _refunded,
    ev.LotExpired: _expired,
    ev.PlanChanged: _plan_changed,
    ev.PaymentFailed: _payment_failed,
    ev.PaymentRecovered: _payment_recovered,
    ev.SubscriptionExpired: _subscription_expired,
    ev.UnitsReserved: _reserved,
    ev.ReservationReleased: _released,
    ev.UsageRecorded: _usage_recorded,
    ev.WatermarkMoved: _watermark_moved,
    ev.SubscriptionSynced: _subscription_synced,
    ev.PlanUnresolved: _unchanged,
    ev.CustomerLinked: _customer_linked,
    ev.CustomerDeleted: _customer_deleted,
    ev.DisputeOpened: _unchanged,
    ev.DisputeLost: _unchanged,
    ev.DisputeReinstated: _unchanged,
}


def evolve(state: Account, event: ev.AccountEvent) -> Account:
    """The account after ``event``."""
    return _HANDLERS[type(event)](state, event)


def fold(state: Account, events: Iterable[ev.AccountEvent]) -> Account:
    """The account after each of ``events`` in order."""
    return reduce(evolve, events, state)
