"""Deciders for an account's plan and dunning made directly (admin, the dunning sweep).

Pure, like :mod:`compute_pricing.decide` (which registers :data:`DECIDERS`); the Stripe-driven
counterparts live in :mod:`~compute_pricing.decide_subscription` and
:mod:`~compute_pricing.decide_payments`. A plan change to the plan, version and status the org
already holds writes nothing; an applied one carries the quota the gate will see. A failed
payment sets ``past_due_since`` only if unset. The dunning sweep expires a subscription only
once it has been past due for ``dunning_days``, moving the org to the default plan and recording
the plan to put back (the first sweep of an episode) when payment succeeds. Direct plan changes
and expiries move the subscription watermark, so an older Stripe event cannot undo them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import attrs

from compute_pricing import commands as cmd
from compute_pricing import events as ev
from compute_pricing.decide_common import Context, Decision, quota_for
from compute_pricing.rules.watermarks import direct_watermark
from compute_pricing.state import Account

__all__ = ["DECIDERS"]


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
        quota=quota_for(moved, new_ctx),
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


#: This topic's deciders, by command type (registered in :mod:`compute_pricing.decide`).
DECIDERS: dict[type[Any], Callable[[Account, Any, Context], Decision]] = {
    cmd.ChangePlan: _change_plan,
    cmd.FailPayment: _fail_payment,
    cmd.RecoverPayment: _recover_payment,
    cmd.ExpireSubscription: _expire_subscription,
}
