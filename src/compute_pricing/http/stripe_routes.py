"""The Stripe routes as framework-neutral handlers: the webhook and the two checkouts.

- ``POST /billing/webhook``: the raw body and the ``Stripe-Signature`` header go unchanged to
  :meth:`~compute_pricing.billing.Billing.handle_stripe_webhook`; there is no principal (Stripe
  is the caller and the signature is its proof). The outcome's own status is the answer.
- ``POST /billing/checkout {price_id, success_url, cancel_url}``: a subscription checkout.
- ``POST /billing/extras/checkout {pack_id, success_url, cancel_url}``: an extras pack
  checkout; the ``Idempotency-Key`` header is its intent id, so a double click (the same key
  twice) creates one checkout session.

Both checkouts act on the principal's org (a ``billing_admin`` may name another with
``?org=``); the body, the key and the org are checked before anything is called.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from compute_pricing.http.principal import target_org
from compute_pricing.http.routes import (
    IDEMPOTENCY_HEADER,
    RouteSpec,
    guarded,
    idempotency_key,
    parse_body,
    parse_query,
)
from compute_pricing.http.schemas import CheckoutBody, ExtrasCheckoutBody, OrgQuery
from compute_pricing.http.values import HttpRequest, HttpResponse

__all__ = ["SIGNATURE_HEADER", "CheckoutLinkBody", "StripeHandlers", "WebhookOutcomeBody"]

#: The header Stripe signs each webhook delivery with.
SIGNATURE_HEADER = "Stripe-Signature"

_KEY_PARAM = {IDEMPOTENCY_HEADER: {"type": "string", "pattern": "^[A-Za-z0-9_.:-]{1,64}$"}}
_ORG_PARAM = {"org": {"type": "string", "pattern": "^[A-Za-z0-9_.:-]{1,128}$"}}


class CheckoutLinkBody(BaseModel):
    """A created Checkout Session: its id and where to send the customer."""

    model_config = ConfigDict(extra="allow")

    session_id: str
    url: str


class WebhookOutcomeBody(BaseModel):
    """What a webhook delivery did (``applied``, ``duplicate``, ``ignored``...)."""

    model_config = ConfigDict(extra="allow")


class StripeHandlers:
    """The Stripe routes of one :class:`~compute_pricing.billing.Billing`."""

    def __init__(self, billing: Any) -> None:
        self._billing = billing

    def webhook(self, request: HttpRequest) -> HttpResponse:
        """``POST /billing/webhook``: verify and handle one delivery (raw body, signature)."""
        signature = request.headers.get(SIGNATURE_HEADER, "")
        outcome = self._billing.handle_stripe_webhook(request.body, signature)
        return HttpResponse(int(outcome.status), outcome.to_dict())

    def checkout(self, request: HttpRequest) -> HttpResponse:
        """``POST /billing/checkout``: a subscription Checkout Session for ``price_id``."""
        body = parse_body(CheckoutBody, request)
        idempotency_key(request)  # validated; the session key derives from org and price
        org = target_org(request.principal, parse_query(OrgQuery, request).org)
        link = self._billing.create_subscription_checkout(
            org, body.price_id, body.success_url, body.cancel_url
        )
        return HttpResponse(200, link.to_dict())

    def extras_checkout(self, request: HttpRequest) -> HttpResponse:
        """``POST /billing/extras/checkout``: an extras pack Checkout Session, once per key."""
        body = parse_body(ExtrasCheckoutBody, request)
        key = idempotency_key(request)
        org = target_org(request.principal, parse_query(OrgQuery, request).org)
        link = self._billing.create_extras_checkout(
            org, body.pack_id, body.success_url, body.cancel_url, intent_id=key
        )
        return HttpResponse(200, link.to_dict())

    def routes(self) -> list[RouteSpec]:
        """The Stripe routes, each handler :func:`guarded`."""
        checkout_errors = (400, 402, 403, 404, 409, 422, 500, 503)
        return [
            RouteSpec(
                method="POST",
                path="/billing/webhook",
                name="billing_webhook",
                summary="Stripe webhook (raw body, Stripe-Signature)",
                handler=guarded(self.webhook),
                response=WebhookOutcomeBody,
                errors=(400, 500, 503),
                needs_principal=False,
                headers={SIGNATURE_HEADER: {"type": "string"}},
                raw_body=True,
            ),
            RouteSpec(
                method="POST",
                path="/billing/checkout",
                name="billing_checkout",
                summary="A subscription Checkout Session",
                handler=guarded(self.checkout),
                response=CheckoutLinkBody,
                errors=checkout_errors,
                query=_ORG_PARAM,
                headers=_KEY_PARAM,
                body=CheckoutBody,
            ),
            RouteSpec(
                method="POST",
                path="/billing/extras/checkout",
                name="billing_extras_checkout",
                summary="An extras pack Checkout Session (Idempotency-Key: one per click)",
                handler=guarded(self.extras_checkout),
                response=CheckoutLinkBody,
                errors=checkout_errors,
                query=_ORG_PARAM,
                headers=_KEY_PARAM,
                body=ExtrasCheckoutBody,
            ),
        ]
