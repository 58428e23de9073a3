"""Deciders for compute usage: attribution (how overflow is charged), reservations, and the
legacy monthly counters.

Pure, like :mod:`compute_pricing.decide` (which registers :data:`DECIDERS`). Every compute
command first brings the week up to date (:func:`~compute_pricing.decide_weeks.roll_week`) in
the same commit. An attribution charges the week's quota first and only the overflow to extras
(:func:`~compute_pricing.rules.overflow.split_charge`); extras fund that overflow unless payment
is past due beyond grace, when it becomes usage debt instead; each threshold fires once a week.
A reservation is granted only within the current headroom (else the 402 the gate names), and a
release of an unknown or spent reservation writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from compute_pricing import commands as cmd
from compute_pricing import events as ev
from compute_pricing.decide_common import (
    Context,
    Decision,
    current_headroom,
    exhausted_error,
    quota_for,
    spend,
)
from compute_pricing.decide_weeks import roll_week
from compute_pricing.errors import UnknownReservationError
from compute_pricing.evolve import fold
from compute_pricing.rules import overflow
from compute_pricing.rules.attribution import units_for
from compute_pricing.rules.gate import dunning_stage
from compute_pricing.rules.legacy import current_count
from compute_pricing.state import Account
from compute_pricing.timekeeping import month_key
from compute_pricing.validation import require_units

__all__ = ["DECIDERS"]


def _attribute(state: Account, c: cmd.Attribute, ctx: Context) -> Decision:
    events = roll_week(state, ctx)
    s = fold(state, events)
    if c.reservation_id is not None and s.reservation(c.reservation_id, ctx.now) is None:
        raise UnknownReservationError(c.reservation_id)
    units = units_for(c.costs, ctx.plan, ctx.config.compute, s.week.breakdown if s.week else None)
    assert s.week is not None  # noqa: S101 - roll_week opened it
    quota = quota_for(s, ctx)
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
        events += spend(s, ctx, from_extras, c.key(s), use_lots=usable)
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


def _record_usage(state: Account, c: cmd.RecordUsage, ctx: Context) -> Decision:
    require_units("amount", c.amount)
    period = month_key(ctx.now)
    total = current_count(state.legacy, c.counter, period) + c.amount
    event = ev.UsageRecorded(
        org=state.org, at=ctx.now, counter=c.counter, period=period, amount=c.amount, total=total
    )
    return Decision((event,), {"applied": True, "counter": c.counter, "current": total})


#: This topic's deciders, by command type (registered in :mod:`compute_pricing.decide`).
DECIDERS: dict[type[Any], Callable[[Account, Any, Context], Decision]] = {
    cmd.Attribute: _attribute,
    cmd.Reserve: _reserve,
    cmd.Release: _release,
    cmd.RecordUsage: _record_usage,
}
