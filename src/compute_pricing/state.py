"""The account aggregate: everything about one org that must change together.

An :class:`Account` is an immutable value rebuilt by folding journal events with
:func:`compute_pricing.evolve.evolve`. It stays bounded as history grows: it keeps the
current week only, live lots only, live reservations only, and this month's legacy counters.

Balance identity kept by every transition::

    ledger_balance == sum(lot.remaining for lot in lots) - usage_debt - refund_debt
                   == sum of every ledger line ever written for the org
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import attrs

__all__ = [
    "BREAKDOWN_CEILING",
    "FAIL_CLOSED_STATUSES",
    "OTHER_CATEGORY",
    "Account",
    "LegacyUsage",
    "Lot",
    "Reservation",
    "Subscription",
    "Watermark",
    "Week",
    "fold_breakdown",
]

#: The breakdown category that counts every category past a week's bound.
OTHER_CATEGORY = "other"
#: Most categories a week's breakdown ever holds, ``other`` included (the fold's hard ceiling;
#: ``compute.max_breakdown_categories`` sets the usual, lower bound when charging).
BREAKDOWN_CEILING = 256

#: Subscription statuses gated at the default plan's quota (docs/rules.md "Quota gate").
FAIL_CLOSED_STATUSES = frozenset(
    {"paused", "unpaid", "incomplete", "incomplete_expired", "canceled"}
)


def fold_breakdown(
    week: Mapping[str, int], charge: Mapping[str, int], limit: int = BREAKDOWN_CEILING
) -> dict[str, int]:
    """``charge`` with every category the week cannot take counted under ``other`` instead.

    A category stays as itself if the week already holds it, or if the week with the categories
    kept so far holds fewer than ``limit - 1`` others (one place is left for ``other``). So the
    week never holds more than ``limit`` categories, and the total is unchanged.
    """
    if len(week) + len(charge) < limit:  # room for every category: nothing can fold
        return dict(charge)
    kept = {category for category in week if category != OTHER_CATEGORY}
    folded: dict[str, int] = {}
    for category, units in charge.items():
        into = category
        if category not in kept and category != OTHER_CATEGORY:
            if len(kept) >= limit - 1:
                into = OTHER_CATEGORY
            else:
                kept.add(category)
        folded[into] = folded.get(into, 0) + units
    return folded


@attrs.frozen
class Lot:
    """A credit of extras units; spendable while ``remaining > 0`` and before ``expires_at``."""

    lot_id: str
    kind: str
    units: int
    remaining: int
    created_at: datetime
    expires_at: datetime | None = None
    pack_id: str | None = None
    session_id: str | None = None
    payment_intent: str | None = None

    def drawn(self, units: int) -> Lot:
        """This lot with ``units`` fewer remaining (built directly, like :meth:`Week.charged`)."""
        return Lot(  # positional, in field order: see Week.charged
            self.lot_id,
            self.kind,
            self.units,
            self.remaining - units,
            self.created_at,
            self.expires_at,
            self.pack_id,
            self.session_id,
            self.payment_intent,
        )

    def spendable_at(self, now: datetime) -> bool:
        """Whether this lot may fund a debit at ``now`` (never at or after its expiry)."""
        return self.remaining > 0 and (self.expires_at is None or now < self.expires_at)


@attrs.frozen
class Week:
    """The current usage week: ``[started_at, reset_at)`` with its key and counters."""

    key: str
    started_at: datetime
    reset_at: datetime
    quota: int
    plan_id: str
    plan_version: int
    used: int = 0
    breakdown: Mapping[str, int] = attrs.field(factory=dict)
    thresholds_fired: tuple[int, ...] = ()

    def charged(self, units: int, breakdown: Mapping[str, int]) -> Week:
        """This week with ``units`` more used and ``breakdown`` added per category.

        Categories past :data:`BREAKDOWN_CEILING` count under ``other`` (the charge already
        arrives folded to ``compute.max_breakdown_categories``; this is the hard stop). Built
        directly rather than with ``attrs.evolve``: it runs once per attribution, and
        evolve's per-call introspection costs about a microsecond; and with positional
        arguments in field order, because a keyword call to a class packs a dict of them on
        every call (CPython 3.11). A test pins each such builder to its ``attrs.evolve`` twin.
        """
        merged = dict(self.breakdown)
        if len(merged) + len(breakdown) > BREAKDOWN_CEILING:
            breakdown = fold_breakdown(merged, breakdown)
        for category, part in breakdown.items():
            merged[category] = merged.get(category, 0) + part
        return Week(
            self.key,
            self.started_at,
            self.reset_at,
            self.quota,
            self.plan_id,
            self.plan_version,
            self.used + units,
            merged,
            self.thresholds_fired,
        )


@attrs.frozen(order=True)
class Watermark:
    """The newest Stripe event applied in one ordering family: ``(created, event_id)``.

    Ordered by ``created``, ties broken by ``event_id``; a direct writer (the dunning sweep, an
    admin plan change) marks its own instant with an empty ``event_id``.
    """

    created: datetime
    event_id: str = ""


@attrs.frozen
class Subscription:
    """Plan, payment status and the Stripe links of one org.

    ``plan_version`` is ``None`` until the org is first billed; from then on it is the version
    the org stays on (grandfathered) until a plan change moves it. ``current_period_start`` is
    the billing period start of the last re-anchoring reset (a Stripe renewal).

    ``customer_id`` / ``subscription_id`` link the Stripe customer and subscription;
    ``customer_generation`` counts deleted customers, so the customer created after a deletion
    is a new one. ``cancel_at`` / ``cancel_at_period_end`` hold a pending cancellation.
    ``restore_plan_id`` / ``restore_version`` are the plan held before the dunning sweep moved
    the org to the default plan, put back when payment succeeds. ``subscription_mark`` and
    ``invoice_mark`` are the ordering watermarks of the two Stripe event families.
    """

    plan_id: str
    plan_version: int | None = None
    status: str = "none"
    past_due_since: datetime | None = None
    current_period_start: datetime | None = None
    customer_id: str | None = None
    subscription_id: str | None = None
    customer_generation: int = 0
    cancel_at: datetime | None = None
    cancel_at_period_end: bool = False
    restore_plan_id: str | None = None
    restore_version: int | None = None
    subscription_mark: Watermark | None = None
    invoice_mark: Watermark | None = None


@attrs.frozen
class Reservation:
    """Units held for a run until committed, released, or ``expires_at``."""

    reservation_id: str
    units: int
    expires_at: datetime


@attrs.frozen
class LegacyUsage:
    """Legacy monthly counters (``"resource.action" -> count``) for ``period`` (YYYY-MM)."""

    period: str | None = None
    counts: Mapping[str, int] = attrs.field(factory=dict)


@attrs.frozen
class Account:
    """One org's billing state; see the module docstring for the balance identity."""

    org: str
    subscription: Subscription
    week: Week | None = None
    lots: tuple[Lot, ...] = ()
    usage_debt: int = 0
    refund_debt: int = 0
    reservations: tuple[Reservation, ...] = ()
    legacy: LegacyUsage = attrs.field(factory=LegacyUsage)
    signup_granted: bool = False
    ledger_lines: int = 0

    @classmethod
    def new(cls, org: str, plan_id: str) -> Account:
        """A fresh account on ``plan_id`` that has never been billed."""
        return cls(org=org, subscription=Subscription(plan_id=plan_id))

    def with_week(self, week: Week) -> Account:
        """This account with ``week`` as its current week (built directly: a hot path)."""
        return Account(  # positional, in field order: see Week.charged
            self.org,
            self.subscription,
            week,
            self.lots,
            self.usage_debt,
            self.refund_debt,
            self.reservations,
            self.legacy,
            self.signup_granted,
            self.ledger_lines,
        )

    def with_debit(self, lots: tuple[Lot, ...], debt: int) -> Account:
        """This account after a debit: drawn ``lots``, ``debt`` more overflow debt, one line."""
        return Account(  # positional, in field order: see Week.charged
            self.org,
            self.subscription,
            self.week,
            lots,
            self.usage_debt + debt,
            self.refund_debt,
            self.reservations,
            self.legacy,
            self.signup_granted,
            self.ledger_lines + 1,
        )

    @property
    def debt(self) -> int:
        """Units owed: overflow debt plus refund debt."""
        return self.usage_debt + self.refund_debt

    @property
    def ledger_balance(self) -> int:
        """Sum of every ledger line: live lot remainders (expired or not) minus debt."""
        return sum(lot.remaining for lot in self.lots) - self.debt

    def spendable(self, now: datetime) -> int:
        """Extras that can fund usage at ``now``: unexpired lot remainders minus debt."""
        return sum(lot.remaining for lot in self.lots if lot.spendable_at(now)) - self.debt

    def held(self, now: datetime, *, excluding: str | None = None) -> int:
        """Units held by live reservations at ``now`` (optionally leaving one out)."""
        return sum(
            r.units
            for r in self.reservations
            if r.expires_at > now and r.reservation_id != excluding
        )

    def lot(self, lot_id: str) -> Lot | None:
        """The live lot with this id, if any."""
        return next((lot for lot in self.lots if lot.lot_id == lot_id), None)

    def reservation(self, reservation_id: str, now: datetime) -> Reservation | None:
        """The live (unexpired) reservation with this id, if any."""
        return next(
            (
                r
                for r in self.reservations
                if r.reservation_id == reservation_id and r.expires_at > now
            ),
            None,
        )

    @property
    def next_expiry(self) -> datetime | None:
        """Earliest ``expires_at`` among live lots (what the expiry sweep looks for)."""
        expiries = [lot.expires_at for lot in self.lots if lot.expires_at is not None]
        return min(expiries, default=None)
