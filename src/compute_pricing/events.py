"""Domain events: frozen, past-tense facts (docs/rules.md "Events").

Account events are both what the journal stores and what :func:`~compute_pricing.evolve.evolve`
folds into the account; every one is published to listeners after its commit. ``name`` is the
stable dotted name listeners and logs use. Catalog events (:class:`PlanVersionBumped`) are
published but not journaled on an account.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import ClassVar

import attrs

__all__ = [
    "ACCOUNT_EVENTS",
    "AccountDiverged",
    "AccountEvent",
    "ComputeCharged",
    "CronRunFinished",
    "CustomerDeleted",
    "CustomerLinked",
    "DebtSettled",
    "DisputeLost",
    "DisputeOpened",
    "DisputeReinstated",
    "DisputeUnresolved",
    "Event",
    "ExtrasCredited",
    "ExtrasDebited",
    "ExtrasExhausted",
    "LotExpired",
    "PaymentFailed",
    "PaymentRecovered",
    "PlanChanged",
    "PlanUnresolved",
    "PlanVersionBumped",
    "RefundApplied",
    "RefundUnresolved",
    "ReservationReleased",
    "SubscriptionExpired",
    "SubscriptionSynced",
    "SubscriptionUnresolved",
    "ThresholdCrossed",
    "UnitsReserved",
    "UsageRecorded",
    "WatermarkMoved",
    "WeekOpened",
]

Draws = tuple[tuple[str, int], ...]
"""Provenance of a debit: ``(lot_id, units)`` pairs, in burn order."""


def _draws(value: object) -> Draws:
    return tuple((str(lot_id), int(units)) for lot_id, units in value)  # type: ignore[attr-defined]


@attrs.frozen(kw_only=True)
class Event:
    """Base of every published event; ``name`` is its stable dotted name."""

    name: ClassVar[str] = "event"


@attrs.frozen(kw_only=True)
class AccountEvent(Event):
    """An event of one account's journal: ``org`` it happened to, ``at`` when."""

    org: str
    at: datetime


@attrs.frozen(kw_only=True)
class WeekOpened(AccountEvent):
    """A usage week started (the previous one, if any, is closed with ``closed_used``)."""

    name = "compute.week_reset"
    week_key: str
    started_at: datetime
    reset_at: datetime
    quota: int
    plan_id: str
    plan_version: int
    closed_week_key: str | None = None
    closed_used: int | None = None
    period_start: datetime | None = None


@attrs.frozen(kw_only=True)
class DebtSettled(AccountEvent):
    """Overflow debt repaid from a new week's headroom and charged to that week."""

    name = "compute.debt_settled"
    week_key: str
    units: int


@attrs.frozen(kw_only=True)
class ComputeCharged(AccountEvent):
    """A run step's units were charged: ``units == from_quota + from_extras``."""

    name = "compute.attributed"
    run_id: str
    step: str
    week_key: str
    units: int
    from_quota: int
    from_extras: int
    breakdown: Mapping[str, int] = attrs.field(factory=dict)
    capped: bool = False
    reservation_id: str | None = None


@attrs.frozen(kw_only=True)
class ExtrasDebited(AccountEvent):
    """Extras spent: ``draws`` from lots, the rest (``debt``) owed. Ledger kind ``debit``."""

    name = "extras.debited"
    ref: str
    units: int
    draws: Draws = attrs.field(default=(), converter=_draws)
    debt: int = 0


@attrs.frozen(kw_only=True)
class ThresholdCrossed(AccountEvent):
    """Weekly usage first reached ``threshold`` percent of the quota this week."""

    name = "compute.threshold_crossed"
    week_key: str
    threshold: int
    used: int
    quota: int


@attrs.frozen(kw_only=True)
class ExtrasExhausted(AccountEvent):
    """A debit took the spendable extras from positive to zero or below."""

    name = "extras.exhausted"
    balance: int


@attrs.frozen(kw_only=True)
class ExtrasCredited(AccountEvent):
    """Units credited (pack, grant, adjustment): debt repaid first, the rest is a new lot."""

    name = "extras.credited"
    lot_id: str
    kind: str
    units: int
    repaid_refund_debt: int = 0
    repaid_usage_debt: int = 0
    expires_at: datetime | None = None
    pack_id: str | None = None
    session_id: str | None = None
    price_cents: int | None = None
    payment_intent: str | None = None


@attrs.frozen(kw_only=True)
class RefundApplied(AccountEvent):
    """A Stripe refund took back ``units``, drawn from the pack's lot first."""

    name = "extras.refunded"
    refund_id: str
    session_id: str
    amount_cents: int
    units: int
    draws: Draws = attrs.field(default=(), converter=_draws)
    debt: int = 0


@attrs.frozen(kw_only=True)
class LotExpired(AccountEvent):
    """A lot reached its expiry; its unspent ``units`` left the balance."""

    name = "extras.expired"
    lot_id: str
    units: int


@attrs.frozen(kw_only=True)
class PlanChanged(AccountEvent):
    """The org moved to another plan version (``preserve_usage`` keeps this week's usage)."""

    name = "plan.changed"
    plan_id: str
    plan_version: int
    previous_plan_id: str
    previous_version: int | None
    quota: int
    preserve_usage: bool
    status: str


@attrs.frozen(kw_only=True)
class PaymentFailed(AccountEvent):
    """An invoice payment failed; the account is past due since ``past_due_since``."""

    name = "payment.failed"
    past_due_since: datetime


@attrs.frozen(kw_only=True)
class PaymentRecovered(AccountEvent):
    """An invoice was paid: past-due cleared and the subscription active again."""

    name = "payment.succeeded"


@attrs.frozen(kw_only=True)
class SubscriptionExpired(AccountEvent):
    """Dunning ran out: status ``unpaid`` on the default plan.

    ``restore_plan_id`` / ``restore_version`` name the plan held before, put back when payment
    succeeds (the first sweep of a past-due episode records it; a later one keeps it).
    """

    name = "subscription.expired"
    plan_id: str
    plan_version: int
    restore_plan_id: str | None = None
    restore_version: int | None = None


@attrs.frozen(kw_only=True)
class UnitsReserved(AccountEvent):
    """``units`` held for a run until ``expires_at``."""

    name = "compute.reserved"
    reservation_id: str
    units: int
    expires_at: datetime


@attrs.frozen(kw_only=True)
class ReservationReleased(AccountEvent):
    """A reservation ended: ``reason`` is ``committed`` or ``released``."""

    name = "compute.reservation_released"
    reservation_id: str
    reason: str


@attrs.frozen(kw_only=True)
class UsageRecorded(AccountEvent):
    """Legacy mode: a monthly ``resource.action`` counter grew by ``amount`` to ``total``."""

    name = "usage.recorded"
    counter: str
    period: str
    amount: int
    total: int


@attrs.frozen(kw_only=True)
class PlanVersionBumped(Event):
    """A plan published a new version; every process drops its cached copy."""

    name = "plan.version_bumped"
    plan_id: str
    version: int
    previous_version: int


@attrs.frozen(kw_only=True)
class WatermarkMoved(AccountEvent):
    """The ordering watermark of a Stripe event ``family`` (``subscription``/``invoice``) moved.

    ``created`` and ``event_id`` are the Stripe event's (a direct writer's instant and ``""``).
    """

    name = "stripe.watermark_moved"
    family: str
    created: datetime
    event_id: str


@attrs.frozen(kw_only=True)
class SubscriptionSynced(AccountEvent):
    """The Stripe subscription's links, status and pending cancellation were recorded."""

    name = "subscription.synced"
    subscription_id: str | None
    customer_id: str | None
    status: str
    cancel_at: datetime | None = None
    cancel_at_period_end: bool = False


@attrs.frozen(kw_only=True)
class PlanUnresolved(AccountEvent):
    """No configured plan matches the subscription's prices: ``kept_plan_id`` stays."""

    name = "plan.unresolved"
    subscription_id: str
    price_ids: tuple[str, ...]
    kept_plan_id: str


@attrs.frozen(kw_only=True)
class CustomerLinked(AccountEvent):
    """A Stripe customer was created for the org (its ``generation``) and linked."""

    name = "customer.linked"
    customer_id: str
    generation: int


@attrs.frozen(kw_only=True)
class CustomerDeleted(AccountEvent):
    """The Stripe customer was deleted: links cleared, status ``canceled``, next generation."""

    name = "customer.deleted"
    customer_id: str
    generation: int


@attrs.frozen(kw_only=True)
class DisputeOpened(AccountEvent):
    """A charge of the org was disputed (an alert; nothing is taken yet)."""

    name = "dispute.opened"
    dispute_id: str
    payment_intent: str
    amount_cents: int
    reason: str | None = None


@attrs.frozen(kw_only=True)
class DisputeLost(AccountEvent):
    """A dispute withdrew ``amount_cents``; ``units`` were taken back like a refund."""

    name = "dispute.lost"
    dispute_id: str
    payment_intent: str
    amount_cents: int
    units: int


@attrs.frozen(kw_only=True)
class DisputeReinstated(AccountEvent):
    """Disputed funds were reinstated (an alert; units taken back are not re-credited)."""

    name = "dispute.reinstated"
    dispute_id: str
    payment_intent: str
    amount_cents: int


@attrs.frozen(kw_only=True)
class SubscriptionUnresolved(Event):
    """A subscription event could not be applied (no status, or no org); nothing was written."""

    name = "subscription.unresolved"
    org: str | None
    subscription_id: str
    reason: str


@attrs.frozen(kw_only=True)
class RefundUnresolved(Event):
    """A refund names a payment no account holds (or no pack price); nothing was written."""

    name = "refund.unresolved"
    refund_id: str
    payment_intent: str | None
    amount_cents: int
    reason: str


@attrs.frozen(kw_only=True)
class DisputeUnresolved(Event):
    """A dispute names a payment no account holds; nothing was written."""

    name = "dispute.unresolved"
    dispute_id: str
    payment_intent: str | None
    amount_cents: int


@attrs.frozen(kw_only=True)
class AccountDiverged(Event):
    """Reconciliation found ``org``'s snapshot differing from its journal (never journaled).

    ``fields`` names what differs (``balance``, ``lots``, ``week``, ``subscription``...);
    ``version`` is the snapshot's version the journal was folded up to.
    """

    name = "account.diverged"
    org: str
    at: datetime
    version: int
    fields: tuple[str, ...]


@attrs.frozen(kw_only=True)
class CronRunFinished(Event):
    """A cron job run ended; the same figures as its JSON summary line (never journaled)."""

    name = "cron.run_finished"
    job: str
    at: datetime
    processed: int
    skipped: int
    errors: int
    duration_s: float
    dry_run: bool


#: Events an account journal may hold, by class name (the codec's closed table).
ACCOUNT_EVENTS: Mapping[str, type[AccountEvent]] = {
    cls.__name__: cls
    for cls in (
        WeekOpened,
        DebtSettled,
        ComputeCharged,
        ExtrasDebited,
        ThresholdCrossed,
        ExtrasExhausted,
        ExtrasCredited,
        RefundApplied,
        LotExpired,
        PlanChanged,
        PaymentFailed,
        PaymentRecovered,
        SubscriptionExpired,
        UnitsReserved,
        ReservationReleased,
        UsageRecorded,
        WatermarkMoved,
        SubscriptionSynced,
        PlanUnresolved,
        CustomerLinked,
        CustomerDeleted,
        DisputeOpened,
        DisputeLost,
        DisputeReinstated,
    )
}
