"""Values exchanged with the payment provider through the ``PaymentGateway`` port.

The core never sees a Stripe object: the Stripe adapter turns its responses into these frozen
values, and the in-memory ``FakePaymentGateway`` builds the same values. Amounts are integer
cents; instants are aware UTC datetimes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import attrs

__all__ = ["CheckoutRequest", "CheckoutSession", "RefundInfo", "SubscriptionInfo"]


@attrs.frozen(kw_only=True)
class CheckoutRequest:
    """A Checkout Session to create.

    ``mode`` is ``"subscription"`` (``price_id`` a plan price) or ``"payment"`` (a pack price);
    ``metadata`` goes on the session and, for payments, ``payment_intent_metadata`` on the
    payment intent, so a later charge or refund can be traced back to the org and pack.
    """

    mode: str
    customer_id: str
    price_id: str
    success_url: str
    cancel_url: str
    client_reference_id: str
    metadata: Mapping[str, str] = attrs.field(factory=dict)
    payment_intent_metadata: Mapping[str, str] | None = None
    automatic_tax: bool = False


@attrs.frozen(kw_only=True)
class CheckoutSession:
    """A created Checkout Session: its id and the URL to send the customer to."""

    session_id: str
    url: str


@attrs.frozen(kw_only=True)
class RefundInfo:
    """One refund as the provider reports it (``status`` e.g. ``succeeded``, ``pending``)."""

    refund_id: str
    amount_cents: int
    status: str
    payment_intent: str | None = None
    charge_id: str | None = None


@attrs.frozen(kw_only=True)
class SubscriptionInfo:
    """A subscription as the provider reports it; ``status`` is ``None`` when it has none.

    ``price_plan_ids`` maps each price id to the ``metadata.plan_id`` its price carries (only
    prices that carry one), the fallback when the configured price map does not know a price.
    """

    subscription_id: str
    customer_id: str | None
    status: str | None
    price_ids: tuple[str, ...] = ()
    price_plan_ids: Mapping[str, str] = attrs.field(factory=dict)
    current_period_start: datetime | None = None
    cancel_at: datetime | None = None
    cancel_at_period_end: bool = False
    metadata: Mapping[str, str] = attrs.field(factory=dict)
