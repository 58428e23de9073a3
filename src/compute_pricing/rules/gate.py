"""Quota gate arithmetic (docs/rules.md "Quota gate") and dunning stages (docs/rules.md "Dunning").

``remaining = max(0, quota - used) + extras - held``, where ``quota`` is the live plan quota
(the default plan's when the subscription is in a fail-closed status), ``extras`` is the
spendable balance (ignored once payment is past due beyond the grace period) and ``held`` is
what live reservations hold.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

import attrs

from compute_pricing.plans import Plan
from compute_pricing.state import FAIL_CLOSED_STATUSES, Account, Subscription

__all__ = ["Headroom", "Stage", "dunning_stage", "effective_quota", "headroom"]

Stage = Literal["ok", "grace", "degraded"]


@attrs.frozen
class Headroom:
    """What an account may still spend this week, and why."""

    quota: int
    used: int
    extras: int
    held: int
    stage: Stage

    @property
    def week_left(self) -> int:
        """Unused weekly quota."""
        return max(0, self.quota - self.used)

    @property
    def extras_usable(self) -> bool:
        """Extras fund usage unless payment is past due beyond the grace period."""
        return self.stage != "degraded"

    @property
    def remaining(self) -> int:
        """Units the gate would still admit."""
        extras = self.extras if self.extras_usable else min(0, self.extras)
        return self.week_left + extras - self.held


def effective_quota(account: Account, plan: Plan, default_plan: Plan) -> int:
    """The live weekly quota: the plan's, or the default plan's in a fail-closed status."""
    if account.subscription.status in FAIL_CLOSED_STATUSES:
        return default_plan.compute_quota
    return plan.compute_quota


def dunning_stage(subscription: Subscription, now: datetime, grace_days: int) -> Stage:
    """``ok``; ``grace`` while past due for under ``grace_days``; ``degraded`` after."""
    since = subscription.past_due_since
    if subscription.status != "past_due" or since is None:
        return "ok"
    return "grace" if now - since < timedelta(days=grace_days) else "degraded"


def headroom(
    account: Account, quota: int, now: datetime, stage: Stage, *, excluding: str | None = None
) -> Headroom:
    """The headroom of ``account`` (whose week is current at ``now``)."""
    used = account.week.used if account.week is not None else 0
    return Headroom(
        quota=quota,
        used=used,
        extras=account.spendable(now),
        held=account.held(now, excluding=excluding),
        stage=stage,
    )
