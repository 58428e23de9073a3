"""``checkout.session.*``: a subscription checkout links; a paid extras checkout credits.

- ``checkout.session.completed`` in mode ``subscription`` links the customer and subscription;
  the status is fetched through the gateway, so a provider outage raises and Stripe retries.
- In mode ``payment`` with ``metadata.kind == "extras"`` and ``payment_status == "paid"`` it
  credits ``metadata.pack_id`` once per session, the lot recording the payment intent.
  ``checkout.session.async_payment_succeeded`` credits the same way (same session key, so both
  converge on one credit); ``async_payment_failed`` and an unpaid session change nothing.
"""

from __future__ import annotations

from compute_pricing.stripe.payloads import CheckoutSession, StripeEvent
from compute_pricing.stripe.services import WebhookServices, object_of, result_of

__all__ = ["async_payment_failed", "async_payment_succeeded", "completed"]


def _credit(services: WebhookServices, session: CheckoutSession) -> str:
    metadata = session.metadata
    pack_id = metadata.get("pack_id")
    if metadata.get("kind") != "extras" or not pack_id or session.payment_status != "paid":
        return "ignored"
    subscriptions = services.subscriptions
    org = subscriptions.resolve_org(metadata.get("organization_id"), session.customer)
    if org is None:
        return "ignored"
    return result_of(subscriptions.pack_paid(org, pack_id, session.id, session.payment_intent))


def completed(services: WebhookServices, event: StripeEvent) -> str:
    """A finished checkout: link a subscription, or credit a paid extras pack."""
    session = object_of(event, CheckoutSession)
    if session.mode != "subscription":
        return _credit(services, session)
    if session.customer is None or session.subscription is None:
        return "ignored"
    change = services.subscriptions.checkout_completed(
        session.metadata.get("organization_id"),
        session.customer,
        session.subscription,
        event_id=event.id,
        event_created=event.created,
    )
    return result_of(change)


def async_payment_succeeded(services: WebhookServices, event: StripeEvent) -> str:
    """A delayed payment of an extras checkout succeeded: credit the pack."""
    return _credit(services, object_of(event, CheckoutSession))


def async_payment_failed(services: WebhookServices, event: StripeEvent) -> str:
    """A delayed payment failed: nothing was paid, nothing is credited."""
    object_of(event, CheckoutSession)
    return "ignored"
