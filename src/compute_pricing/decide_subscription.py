"""Deciders for the subscription side of an account: Stripe subscriptions and customers.

Pure, like :mod:`compute_pricing.decide` (which registers :data:`DECIDERS`). A subscription event
older than the ``subscription`` watermark changes nothing (outcome ``stale``); an applied one
moves the watermark in the same commit. A plan change emits ``plan.changed`` (a plan id the org
already holds keeps its grandfathered version); unresolved prices keep the last known plan and
emit ``plan.unresolved``; a new billing period start resets the week in the same commit; a
deleted or ``incomplete_expired`` subscription, and a deleted customer, put the org on the
default plan without its usage.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import attrs

from compute_pricing import events as ev
from compute_pricing import provider_commands as pc
from compute_pricing.decide_common import Context, Decision
from compute_pricing.decide_weeks import roll_week
from compute_pricing.evolve import fold
from compute_pricing.plans import Plan
from compute_pricing.rules.gate import effective_quota
from compute_pricing.rules.watermarks import is_stale, moved
from compute_pricing.state import Account
from compute_pricing.timekeeping import to_utc_ms

__all__ = ["DECIDERS"]

#: Statuses that end a subscription: the org falls back to the default plan, usage reset.
_ENDED = frozenset({"incomplete_expired", "canceled"})


def _stale(outcome_of: str) -> Decision:
    return Decision((), {"applied": False, "reason": "stale", "event": outcome_of}, False)


def _plan_change(
    state: Account, ctx: Context, plan: Plan, status: str, *, preserve_usage: bool
) -> ev.PlanChanged:
    """``plan.changed`` to ``plan`` with ``status`` (quota as the gate will see it)."""
    moved_state = attrs.evolve(state, subscription=attrs.evolve(state.subscription, status=status))
    return ev.PlanChanged(
        org=state.org,
        at=ctx.now,
        plan_id=plan.plan_id,
        plan_version=plan.version,
        previous_plan_id=state.subscription.plan_id,
        previous_version=state.subscription.plan_version,
        quota=effective_quota(moved_state, plan, ctx.default_plan),
        preserve_usage=preserve_usage,
        status=status,
    )


def _end(
    state: Account, ctx: Context, status: str, events: list[ev.AccountEvent]
) -> tuple[Plan, list[ev.AccountEvent]]:
    """Events that put the org on the default plan with ``status``, usage not preserved."""
    sub, default = state.subscription, ctx.default_plan
    if (sub.plan_id, sub.plan_version, sub.status) != (default.plan_id, default.version, status):
        events.append(_plan_change(state, ctx, default, status, preserve_usage=False))
    return default, events


def _renewal(
    state: Account, ctx: Context, plan: Plan, period_start: datetime | None
) -> list[ev.AccountEvent]:
    """The week reset a new billing period start brings (compute mode only)."""
    if period_start is None or not ctx.config.compute_mode:
        return []
    start = to_utc_ms(period_start)
    if start == state.subscription.current_period_start:
        return []
    return roll_week(state, attrs.evolve(ctx, plan=plan), start)


def _sync_subscription(state: Account, c: pc.SyncSubscription, ctx: Context) -> Decision:
    sub = state.subscription
    if is_stale(sub, "subscription", c.created, c.event_id):
        return _stale(c.event_id)
    if c.deleted and sub.subscription_id not in (None, c.subscription_id):
        # the end of a subscription the org no longer holds must not end the live one
        return Decision((), {"applied": False, "reason": "other_subscription"}, False)
    events: list[ev.AccountEvent] = [moved(state, ctx.now, "subscription", c.created, c.event_id)]
    status = "canceled" if c.deleted else c.status
    unresolved = False
    if c.deleted or status in _ENDED:
        plan, events = _end(state, ctx, status, events)
    elif c.plan is not None and c.plan.plan_id != sub.plan_id:
        plan = c.plan
        events.append(
            _plan_change(state, ctx, plan, status, preserve_usage=ctx.config.preserve_usage)
        )
    else:
        plan = ctx.plan  # same plan id (grandfathered version kept), or unresolved
        unresolved = c.plan is None
        if unresolved:
            events.append(
                ev.PlanUnresolved(
                    org=state.org,
                    at=ctx.now,
                    subscription_id=c.subscription_id,
                    price_ids=c.price_ids,
                    kept_plan_id=sub.plan_id,
                )
            )
    ended = c.deleted or status in _ENDED
    events.append(
        ev.SubscriptionSynced(
            org=state.org,
            at=ctx.now,
            subscription_id=None if c.deleted else c.subscription_id,
            customer_id=c.customer_id or sub.customer_id,
            status=status,
            cancel_at=None if ended else c.cancel_at,
            cancel_at_period_end=False if ended else c.cancel_at_period_end,
        )
    )
    synced = fold(state, events)
    renewal = [] if ended else _renewal(synced, ctx, plan, c.current_period_start)
    events += renewal
    outcome: dict[str, Any] = {
        "applied": True,
        "plan_id": plan.plan_id,
        "plan_version": plan.version,
        "status": status,
        "plan_unresolved": unresolved,
        "week_reset": bool(renewal),
    }
    return Decision(tuple(events), outcome)


def _delete_customer(state: Account, c: pc.DeleteCustomer, ctx: Context) -> Decision:
    sub = state.subscription
    if is_stale(sub, "subscription", c.created, c.event_id):
        return _stale(c.event_id)
    if sub.customer_id is not None and sub.customer_id != c.customer_id:
        return Decision((), {"applied": False, "reason": "other_customer"}, False)
    events: list[ev.AccountEvent] = [moved(state, ctx.now, "subscription", c.created, c.event_id)]
    plan, events = _end(state, ctx, "canceled", events)
    generation = sub.customer_generation + 1
    events.append(
        ev.CustomerDeleted(
            org=state.org, at=ctx.now, customer_id=c.customer_id, generation=generation
        )
    )
    outcome = {
        "applied": True,
        "plan_id": plan.plan_id,
        "status": "canceled",
        "customer_generation": generation,
    }
    return Decision(tuple(events), outcome)


def _link_customer(state: Account, c: pc.LinkCustomer, ctx: Context) -> Decision:
    sub = state.subscription
    if sub.customer_id is not None or sub.customer_generation != c.generation:
        # linked meanwhile (by a checkout webhook), or the customer was deleted since
        outcome = {"applied": False, "reason": "already_linked", "customer_id": sub.customer_id}
        return Decision((), outcome, write=False)
    event = ev.CustomerLinked(
        org=state.org, at=ctx.now, customer_id=c.customer_id, generation=c.generation
    )
    return Decision((event,), {"applied": True, "customer_id": c.customer_id})


#: This topic's deciders, by command type (registered in :mod:`compute_pricing.decide`).
DECIDERS: dict[type[Any], Callable[[Account, Any, Context], Decision]] = {
    pc.SyncSubscription: _sync_subscription,
    pc.DeleteCustomer: _delete_customer,
    pc.LinkCustomer: _link_customer,
}
