"""What every decider shares: the :class:`Context` in, the :class:`Decision` out, and the gate
and ledger steps more than one topic takes.

Pure, like every ``decide_*`` module: no I/O, no clock reads (``ctx.now`` is the instant), no
globals. The invariants kept here hold for every topic: the quota is the one the gate sees
(:func:`quota_for`: the plan's, the default plan's in a fail-closed status); a credit repays
refund debt, then usage debt, before it adds spendable extras (:func:`credit`); a debit draws
live lots in burn order and leaves any shortfall as usage debt, never a negative lot
(:func:`spend`). The deciders live by topic in :mod:`~compute_pricing.decide_usage`,
:mod:`~compute_pricing.decide_extras`, :mod:`~compute_pricing.decide_weeks`,
:mod:`~compute_pricing.decide_plans`, :mod:`~compute_pricing.decide_payments` and
:mod:`~compute_pricing.decide_subscription`; :mod:`compute_pricing.decide` registers them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from compute_pricing import events as ev
from compute_pricing.config import BillingConfig
from compute_pricing.errors import ComputeExhaustedError, PaymentPastDueError
from compute_pricing.plans import Plan
from compute_pricing.rules import ledger
from compute_pricing.rules.gate import Headroom, dunning_stage, effective_quota, headroom
from compute_pricing.state import Account

__all__ = [
    "Context",
    "Decision",
    "credit",
    "current_headroom",
    "exhausted_error",
    "quota_for",
    "spend",
]


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


def quota_for(state: Account, ctx: Context) -> int:
    """The weekly quota the gate applies: ``ctx.plan``'s, the default plan's when fail-closed."""
    return effective_quota(state, ctx.plan, ctx.default_plan)


def current_headroom(state: Account, ctx: Context, *, excluding: str | None = None) -> Headroom:
    """Headroom of ``state`` (week already current) at ``ctx.now``."""
    stage = dunning_stage(state.subscription, ctx.now, ctx.config.grace_days)
    return headroom(state, quota_for(state, ctx), ctx.now, stage, excluding=excluding)


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


def credit(
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
    payment_intent: str | None = None,
) -> ev.ExtrasCredited:
    """A new lot of ``units`` extras, which repays refund debt, then usage debt, first."""
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
        payment_intent=payment_intent,
    )


def spend(
    state: Account, ctx: Context, units: int, ref: str, *, use_lots: bool
) -> list[ev.AccountEvent]:
    """Debit ``units`` of extras (lots unless ``use_lots`` is off, then debt).

    Lots are drawn in burn order and a shortfall becomes usage debt; ``extras.exhausted`` is
    emitted once, when this debit takes a positive spendable balance to zero or below.
    """
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
