"""``invoice.payment_failed``, ``invoice.paid``, ``invoice.payment_succeeded``: dunning.

A failed invoice of a subscription starts dunning (the subscription id is read wherever the
payload's API version puts it; a one-off invoice does not); a paid one clears it and restores
the plan a dunning sweep put aside. The org is the one the invoice's metadata or its
subscription's metadata snapshot names, else the customer's.
"""

from __future__ import annotations

from compute_pricing.stripe.payloads import Invoice, StripeEvent
from compute_pricing.stripe.services import WebhookServices, object_of, result_of

__all__ = ["paid", "payment_failed"]


def payment_failed(services: WebhookServices, event: StripeEvent) -> str:
    """An invoice payment failed: past due (subscriptions only)."""
    invoice = object_of(event, Invoice)
    change = services.subscriptions.invoice_payment_failed(
        invoice.organization_id,
        customer_id=invoice.customer,
        has_subscription=invoice.subscription_id is not None,
        event_id=event.id,
        event_created=event.created,
    )
    return result_of(change)


def paid(services: WebhookServices, event: StripeEvent) -> str:
    """An invoice was paid: dunning cleared, the plan restored."""
    invoice = object_of(event, Invoice)
    change = services.subscriptions.invoice_paid(
        invoice.organization_id,
        customer_id=invoice.customer,
        event_id=event.id,
        event_created=event.created,
    )
    return result_of(change)
