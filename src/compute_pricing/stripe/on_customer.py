"""``customer.deleted``: the customer is unlinked and the org falls back to the default plan."""

from __future__ import annotations

from compute_pricing.stripe.payloads import Customer, StripeEvent
from compute_pricing.stripe.services import WebhookServices, object_of, result_of

__all__ = ["deleted"]


def deleted(services: WebhookServices, event: StripeEvent) -> str:
    """The Stripe customer was deleted (org: its ``metadata.organization_id``, else the index)."""
    customer = object_of(event, Customer)
    change = services.subscriptions.customer_deleted(
        customer.metadata.get("organization_id"),
        customer.id,
        event_id=event.id,
        event_created=event.created,
    )
    return result_of(change)
