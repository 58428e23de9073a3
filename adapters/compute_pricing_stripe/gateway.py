"""``StripePaymentGateway``: the ``PaymentGateway`` port over the official ``stripe`` SDK.

It takes a ready :class:`stripe.StripeClient` and calls its ``v1`` services only. Every write
carries the caller's idempotency key in the request options, so a retried call (by the SDK or by
the library) is answered by Stripe with the first result; every Stripe error leaves through the
closed table in :mod:`compute_pricing_stripe.errors`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import stripe

from compute_pricing.payments import CheckoutRequest, CheckoutSession, RefundInfo, SubscriptionInfo
from compute_pricing_stripe.errors import translated
from compute_pricing_stripe.responses import checkout_session, refund_info, subscription_info

__all__ = ["StripePaymentGateway", "checkout_params"]

#: Page size when listing refunds (Stripe's maximum).
REFUND_PAGE_SIZE = 100


def checkout_params(request: CheckoutRequest) -> dict[str, Any]:
    """The ``checkout.sessions.create`` parameters of ``request``.

    The metadata goes on the session and on the object the session creates (the payment intent
    of a payment, the subscription of a subscription), so later charges, refunds and
    subscription events can be traced to the org without a lookup.
    """
    metadata = dict(request.metadata)
    params: dict[str, Any] = {
        "mode": request.mode,
        "customer": request.customer_id,
        "line_items": [{"price": request.price_id, "quantity": 1}],
        "success_url": request.success_url,
        "cancel_url": request.cancel_url,
        "client_reference_id": request.client_reference_id,
        "metadata": metadata,
    }
    if request.mode == "payment":
        intent_metadata = request.payment_intent_metadata
        params["payment_intent_data"] = {
            "metadata": dict(metadata if intent_metadata is None else intent_metadata)
        }
    elif request.mode == "subscription":
        params["subscription_data"] = {"metadata": metadata}
    if request.automatic_tax:
        params["automatic_tax"] = {"enabled": True}
    return params


class StripePaymentGateway:
    """Implements ``PaymentGateway`` with a :class:`stripe.StripeClient` (``v1`` namespace)."""

    def __init__(self, client: stripe.StripeClient) -> None:
        self._v1 = client.v1

    def create_customer(self, *, org: str, idempotency_key: str) -> str:
        """Create the customer of ``org`` (``metadata.organization_id``); return its id."""
        with translated("customer creation"):
            customer = self._v1.customers.create(
                params={"metadata": {"organization_id": org}},
                options={"idempotency_key": idempotency_key},
            )
            return str(customer.id)

    def create_checkout_session(
        self, request: CheckoutRequest, *, idempotency_key: str
    ) -> CheckoutSession:
        """Create a hosted Checkout Session (see :func:`checkout_params`)."""
        with translated("checkout session creation"):
            session = self._v1.checkout.sessions.create(
                params=checkout_params(request),  # type: ignore[arg-type]  # built as a dict
                options={"idempotency_key": idempotency_key},
            )
            return checkout_session(session.to_dict())

    def create_refund(
        self,
        *,
        payment_intent: str,
        amount_cents: int | None,
        reason: str | None,
        idempotency_key: str,
    ) -> RefundInfo:
        """Refund ``amount_cents`` (all that is left when ``None``) of ``payment_intent``."""
        params: dict[str, Any] = {"payment_intent": payment_intent}
        if amount_cents is not None:
            params["amount"] = amount_cents
        if reason is not None:
            params["reason"] = reason
        with translated("refund"):
            refund = self._v1.refunds.create(
                params=params,  # type: ignore[arg-type]  # built as a dict
                options={"idempotency_key": idempotency_key},
            )
            return refund_info(refund.to_dict())

    def retrieve_subscription(self, subscription_id: str) -> SubscriptionInfo:
        """The subscription now, with its prices (embedded in each item) and their metadata."""
        with translated("subscription retrieval"):
            subscription = self._v1.subscriptions.retrieve(subscription_id)
            return subscription_info(subscription.to_dict())

    def list_refunds(self, charge_id: str) -> Sequence[RefundInfo]:
        """Every refund of ``charge_id``, newest first, following every page."""
        with translated("refund listing"):
            page = self._v1.refunds.list(params={"charge": charge_id, "limit": REFUND_PAGE_SIZE})
            return [refund_info(refund.to_dict()) for refund in page.auto_paging_iter()]
