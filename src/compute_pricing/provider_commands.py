"""Commands that Stripe's side of an account asks for: subscriptions, invoices, payments.

Each change a webhook makes is keyed ``journal_key("stripe", event_id)``, so an event delivered
twice is applied once; the ones with an identity of their own are keyed by it instead, so every
path that reports the same fact converges on one entry: a paid pack by its checkout session
(``pack``, the same key as :class:`~compute_pricing.commands.CreditPack`), a lost dispute by
its dispute id (``dispute``), a linked customer by its generation (``customer``). Refunds reuse
:class:`~compute_pricing.commands.Refund` (key ``refund:<refund_id>``).

Watermarked commands (``created`` + ``event_id``) are decided against their family's watermark
(see :mod:`compute_pricing.rules.watermarks`).
"""

from __future__ import annotations

from datetime import datetime

import attrs

from compute_pricing.commands import Command
from compute_pricing.keys import journal_key
from compute_pricing.plans import Plan
from compute_pricing.state import Account

#: Field metadata: a value derived by the use case, left out of the command's replay request.
_DERIVED = {"request": False}

__all__ = [
    "CreditPaidPack",
    "DeleteCustomer",
    "FailInvoice",
    "LinkCustomer",
    "NoteDispute",
    "PayInvoice",
    "SyncSubscription",
    "WithdrawDispute",
]


@attrs.frozen(kw_only=True)
class SyncSubscription(Command):
    """Record a Stripe subscription as reported (created, updated, deleted, or checked out).

    ``plan`` is the configured plan its prices resolve to (``None``: unresolved, the last known
    plan stays); ``deleted`` ends the subscription on the default plan.
    """

    event_id: str
    created: datetime
    subscription_id: str
    # What Stripe reported and what the catalog resolved it to are not part of the request: a
    # redelivered checkout fetches the subscription again, and a plan may have been bumped since;
    # the event id alone names the fact.
    customer_id: str | None = attrs.field(metadata=_DERIVED)
    status: str = attrs.field(metadata=_DERIVED)
    plan: Plan | None = attrs.field(metadata=_DERIVED)
    price_ids: tuple[str, ...] = attrs.field(default=(), metadata=_DERIVED)
    current_period_start: datetime | None = attrs.field(default=None, metadata=_DERIVED)
    cancel_at: datetime | None = attrs.field(default=None, metadata=_DERIVED)
    cancel_at_period_end: bool = attrs.field(default=False, metadata=_DERIVED)
    deleted: bool = False

    def key(self, state: Account) -> str:
        """``stripe:<event_id>``."""
        return journal_key("stripe", self.event_id)


@attrs.frozen(kw_only=True)
class DeleteCustomer(Command):
    """The Stripe customer was deleted."""

    event_id: str
    created: datetime
    customer_id: str

    def key(self, state: Account) -> str:
        """``stripe:<event_id>``."""
        return journal_key("stripe", self.event_id)


@attrs.frozen(kw_only=True)
class LinkCustomer(Command):
    """Link the Stripe customer created for the org's customer ``generation``."""

    customer_id: str
    generation: int

    def key(self, state: Account) -> str:
        """``customer:<generation>``."""
        return journal_key("customer", str(self.generation))


@attrs.frozen(kw_only=True)
class FailInvoice(Command):
    """An invoice payment failed; ``has_subscription`` is false for a one-off invoice."""

    event_id: str
    created: datetime
    has_subscription: bool

    def key(self, state: Account) -> str:
        """``stripe:<event_id>``."""
        return journal_key("stripe", self.event_id)


@attrs.frozen(kw_only=True)
class PayInvoice(Command):
    """An invoice was paid; ``restore`` is the plan the dunning sweep put aside, if any.

    ``direct`` is the admin call (``Billing.payment_succeeded``): ``event_id`` is then the
    caller's ref, the status becomes active whatever it was, and no watermark is read or moved.
    """

    event_id: str
    created: datetime
    # looked up from the account (cleared once restored), so not part of the request
    restore: Plan | None = attrs.field(default=None, metadata=_DERIVED)
    direct: bool = False

    def key(self, state: Account) -> str:
        """``stripe:<event_id>`` (``payment_succeeded:<ref>`` for a direct call)."""
        return journal_key("payment_succeeded" if self.direct else "stripe", self.event_id)


@attrs.frozen(kw_only=True)
class CreditPaidPack(Command):
    """Credit a pack paid through Checkout; the lot records its payment intent."""

    pack_id: str
    session_id: str
    payment_intent: str | None

    def key(self, state: Account) -> str:
        """``pack:<session_id>`` (one credit per session, whichever event reports it)."""
        return journal_key("pack", self.session_id)


@attrs.frozen(kw_only=True)
class WithdrawDispute(Command):
    """A dispute withdrew funds of a pack purchase: take back its units like a refund."""

    dispute_id: str
    payment_intent: str
    session_id: str
    amount_cents: int
    pack_units: int
    pack_price_cents: int

    def key(self, state: Account) -> str:
        """``dispute:<dispute_id>``."""
        return journal_key("dispute", self.dispute_id)


@attrs.frozen(kw_only=True)
class NoteDispute(Command):
    """Journal a dispute alert: opened, or (``reinstated``) its funds given back."""

    event_id: str
    dispute_id: str
    payment_intent: str
    amount_cents: int
    reason: str | None = None
    reinstated: bool = False

    def key(self, state: Account) -> str:
        """``stripe:<event_id>``."""
        return journal_key("stripe", self.event_id)
