"""The dispatch table: every Stripe event type the library handles -> its translator.

:func:`handlers` binds each translator (``on_*`` modules, one per event family) to the
:class:`~compute_pricing.stripe.services.WebhookServices` and returns the table the
:class:`~compute_pricing.stripe.pipeline.WebhookProcessor` dispatches on. Each translator reads
plain values from the parsed payload, calls one account use case and answers ``applied``,
``stale`` or ``ignored``. Types missing here are answered ``ignored`` by the pipeline.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial

from compute_pricing.stripe import (
    on_checkout,
    on_customer,
    on_dispute,
    on_invoice,
    on_refund,
    on_subscription,
)
from compute_pricing.stripe.payloads import StripeEvent
from compute_pricing.stripe.pipeline import Handler
from compute_pricing.stripe.services import WebhookServices

__all__ = ["TRANSLATORS", "Translator", "handlers"]

Translator = Callable[[WebhookServices, StripeEvent], str]
"""Reads one event, calls one use case, answers ``applied``, ``stale`` or ``ignored``."""

#: The translator of every handled event type.
TRANSLATORS: Mapping[str, Translator] = {
    "checkout.session.completed": on_checkout.completed,
    "checkout.session.async_payment_succeeded": on_checkout.async_payment_succeeded,
    "checkout.session.async_payment_failed": on_checkout.async_payment_failed,
    "customer.subscription.created": on_subscription.changed,
    "customer.subscription.updated": on_subscription.changed,
    "customer.subscription.deleted": on_subscription.deleted,
    "invoice.payment_failed": on_invoice.payment_failed,
    "invoice.paid": on_invoice.paid,
    "invoice.payment_succeeded": on_invoice.paid,
    "charge.refunded": on_refund.charge_refunded,
    "refund.created": on_refund.refund_changed,
    "refund.updated": on_refund.refund_changed,
    "charge.dispute.created": on_dispute.created,
    "charge.dispute.funds_withdrawn": on_dispute.funds_withdrawn,
    "charge.dispute.funds_reinstated": on_dispute.funds_reinstated,
    "customer.deleted": on_customer.deleted,
}


def handlers(services: WebhookServices) -> Mapping[str, Handler]:
    """Every translator bound to ``services``: the processor's dispatch table."""
    return {event_type: partial(fn, services) for event_type, fn in TRANSLATORS.items()}
