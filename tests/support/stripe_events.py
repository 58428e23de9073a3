"""Signed Stripe webhook deliveries for the service tests: event bodies and the signer.

Bodies are built as Stripe sends them (only the fields the library reads, plus ``object``);
:func:`deliver` signs a body with the ``stripe`` SDK's own helper at the billing clock's time
and hands it to ``billing.handle_stripe_webhook``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import stripe
from pydantic import SecretStr

from compute_pricing import Billing, BillingConfig, StripeSettings
from compute_pricing.stripe.pipeline import WebhookOutcome
from tests.conftest import BillingFactory
from tests.support.stripe_accounts import stripe_billing, stripe_config

SECRET = "whsec_glue_tests"  # noqa: S105 - the test endpoint's signing secret
ORG_META = {"organization_id": "org_a"}


def webhook_config(**overrides: object) -> BillingConfig:
    """:func:`stripe_config` with the test signing secret."""
    return stripe_config(stripe=StripeSettings(webhook_secret=SecretStr(SECRET)), **overrides)


def webhook_billing(make_billing: BillingFactory, **overrides: object) -> Billing:
    """Billing on the current store kind with priced plans, a fake gateway and the secret."""
    secret = StripeSettings(webhook_secret=SecretStr(SECRET))
    return stripe_billing(make_billing, stripe=secret, **overrides)


def unix(at: datetime) -> int:
    """Unix seconds of ``at``."""
    return int(at.timestamp())


def event(event_id: str, event_type: str, obj: Mapping[str, Any], created: datetime) -> bytes:
    """An event body (API version 2025-03-31.basil)."""
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": event_type,
            "created": unix(created),
            "livemode": False,
            "api_version": "2025-03-31.basil",
            "data": {"object": dict(obj)},
        }
    ).encode()


def sign(payload: bytes, at: datetime, secret: str = SECRET) -> str:
    """A ``Stripe-Signature`` header made by the stripe SDK at ``at``."""
    header = stripe.WebhookSignature.generate_signature_header(payload.decode(), secret, unix(at))
    return str(header)


def deliver(billing: Billing, payload: bytes) -> WebhookOutcome:
    """Sign ``payload`` at the billing clock's time and deliver it."""
    return billing.handle_stripe_webhook(payload, sign(payload, billing.clock.now()))


def pack_session(
    session_id: str,
    payment_intent: str | None,
    *,
    pack_id: str = "small",
    payment_status: str = "paid",
    org: str = "org_a",
) -> dict[str, Any]:
    """A payment-mode Checkout Session for an extras pack."""
    return {
        "id": session_id,
        "object": "checkout.session",
        "mode": "payment",
        "payment_status": payment_status,
        "payment_intent": payment_intent,
        "customer": "cus_1",
        "client_reference_id": org,
        "metadata": {"organization_id": org, "pack_id": pack_id, "kind": "extras"},
    }


def subscription_session(
    session_id: str = "cs_sub", subscription_id: str = "sub_1", customer: str = "cus_1"
) -> dict[str, Any]:
    """A subscription-mode Checkout Session."""
    return {
        "id": session_id,
        "object": "checkout.session",
        "mode": "subscription",
        "payment_status": "paid",
        "customer": customer,
        "subscription": subscription_id,
        "metadata": {**ORG_META, "kind": "subscription"},
    }


def subscription(
    status: str = "active",
    *,
    price: str = "price_starter_m",
    price_metadata: Mapping[str, str] | None = None,
    period_start: datetime | None = None,
    item_period: bool = True,
    cancel_at: datetime | None = None,
    cancel_at_period_end: bool = False,
    metadata: Mapping[str, str] | None = ORG_META,
    subscription_id: str = "sub_1",
) -> dict[str, Any]:
    """A subscription; the period start on its item (current API) or on itself (older)."""
    item: dict[str, Any] = {
        "id": "si_1",
        "object": "subscription_item",
        "price": {"id": price, "object": "price", "metadata": dict(price_metadata or {})},
    }
    body: dict[str, Any] = {
        "id": subscription_id,
        "object": "subscription",
        "customer": "cus_1",
        "status": status,
        "items": {"object": "list", "data": [item]},
        "cancel_at": None if cancel_at is None else unix(cancel_at),
        "cancel_at_period_end": cancel_at_period_end,
        "metadata": dict(metadata or {}),
    }
    if period_start is not None:
        target = item if item_period else body
        target["current_period_start"] = unix(period_start)
    return body


def invoice(
    invoice_id: str = "in_1",
    *,
    subscription_id: str | None = "sub_1",
    current_api: bool = True,
    org_metadata: bool = True,
) -> dict[str, Any]:
    """An invoice; its subscription (and its metadata snapshot) where the API version puts it."""
    body: dict[str, Any] = {"id": invoice_id, "object": "invoice", "customer": "cus_1"}
    if subscription_id is None:
        return body
    details = {"subscription": subscription_id, "metadata": ORG_META if org_metadata else {}}
    if current_api:
        body["parent"] = {"type": "subscription_details", "subscription_details": details}
    else:
        body["subscription"] = subscription_id
        body["subscription_details"] = {"metadata": details["metadata"]}
    return body


def refund(
    refund_id: str, amount: int, payment_intent: str = "pi_1", status: str = "succeeded"
) -> dict[str, Any]:
    """A refund of ``amount`` cents."""
    return {
        "id": refund_id,
        "object": "refund",
        "amount": amount,
        "status": status,
        "charge": "ch_1",
        "payment_intent": payment_intent,
    }


def charge(
    payment_intent: str = "pi_1",
    refunds: list[dict[str, Any]] | None = None,
    *,
    charge_id: str = "ch_1",
    has_more: bool = False,
    amount_refunded: int = 0,
) -> dict[str, Any]:
    """A refunded charge; ``refunds=None`` leaves them out as current API versions do."""
    body: dict[str, Any] = {
        "id": charge_id,
        "object": "charge",
        "payment_intent": payment_intent,
        "customer": "cus_1",
        "amount_refunded": amount_refunded,
    }
    if refunds is not None:
        body["refunds"] = {"object": "list", "data": refunds, "has_more": has_more}
    return body


def dispute(dispute_id: str, amount: int, payment_intent: str = "pi_1") -> dict[str, Any]:
    """A dispute of ``amount`` cents."""
    return {
        "id": dispute_id,
        "object": "dispute",
        "charge": "ch_1",
        "payment_intent": payment_intent,
        "amount": amount,
        "status": "needs_response",
        "reason": "fraudulent",
    }


def customer(customer_id: str = "cus_1") -> dict[str, Any]:
    """A (deleted) customer."""
    return {"id": customer_id, "object": "customer", "deleted": True, "metadata": ORG_META}
