"""``charge.dispute.*``: an alert when opened, a debit when funds are withdrawn, an alert back.

``funds_withdrawn`` takes units back like a refund of the disputed amount, keyed by the
dispute id (once, however often it is delivered); ``created`` and ``funds_reinstated`` journal
an alert. The pack, and its org, are found by the payment intent the credited lot recorded.
"""

from __future__ import annotations

from compute_pricing.stripe.payloads import Dispute, StripeEvent
from compute_pricing.stripe.services import WebhookServices, object_of, result_of

__all__ = ["created", "funds_reinstated", "funds_withdrawn"]


def created(services: WebhookServices, event: StripeEvent) -> str:
    """A charge was disputed: an alert only."""
    dispute = object_of(event, Dispute)
    change = services.subscriptions.dispute_noted(
        dispute.id,
        dispute.payment_intent,
        dispute.amount,
        event_id=event.id,
        reason=dispute.reason,
    )
    return result_of(change)


def funds_withdrawn(services: WebhookServices, event: StripeEvent) -> str:
    """The dispute took the funds: units taken back once per dispute."""
    dispute = object_of(event, Dispute)
    change = services.subscriptions.dispute_funds_withdrawn(
        dispute.id, dispute.payment_intent, dispute.amount
    )
    return result_of(change)


def funds_reinstated(services: WebhookServices, event: StripeEvent) -> str:
    """The disputed funds came back: an alert only."""
    dispute = object_of(event, Dispute)
    change = services.subscriptions.dispute_noted(
        dispute.id, dispute.payment_intent, dispute.amount, event_id=event.id, reinstated=True
    )
    return result_of(change)
