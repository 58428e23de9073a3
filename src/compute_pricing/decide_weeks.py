"""Deciders for the weekly cycle: opening the first week, rolling a due one, ``reset_week``.

Pure, like :mod:`compute_pricing.decide` (which registers :data:`DECIDERS`). A week opens on
the anchor :func:`~compute_pricing.rules.weeks.next_anchor` gives (a newer billing period start
re-anchors it), with the quota the gate will see; the signup grant is credited once per org;
usage debt still owed after the grant is settled from the new week's quota in the same commit.
Every compute command calls :func:`roll_week` first, so no charge ever lands on a stale week; a
reset that is not due writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from compute_pricing import commands as cmd
from compute_pricing import events as ev
from compute_pricing.decide_common import Context, Decision, credit, quota_for
from compute_pricing.evolve import fold
from compute_pricing.rules.weeks import WEEK, next_anchor
from compute_pricing.state import Account
from compute_pricing.timekeeping import to_utc_ms, week_key

__all__ = ["DECIDERS", "roll_week"]


def roll_week(
    state: Account, ctx: Context, period_start: datetime | None = None
) -> list[ev.AccountEvent]:
    """Events that open the first week or roll a due one (with signup grant and settlement)."""
    anchor = next_anchor(state.week, ctx.now, period_start)
    if anchor is None:
        return []
    renewed = period_start is not None and anchor == to_utc_ms(period_start)
    quota = quota_for(state, ctx)
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
        events.append(credit(state, ctx, lot_id="grant:signup", kind="grant", units=grant))
    # settle what is still owed after the grant, which repays debt first
    settle = min(quota, fold(state, events).usage_debt)
    if settle > 0:
        events.append(ev.DebtSettled(org=state.org, at=ctx.now, week_key=new_key, units=settle))
    return events


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


#: This topic's deciders, by command type (registered in :mod:`compute_pricing.decide`).
DECIDERS: dict[type[Any], Callable[[Account, Any, Context], Decision]] = {
    cmd.ResetWeek: _reset_week,
}
