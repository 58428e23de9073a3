"""``customer.subscription.created|updated|deleted``: the subscription as Stripe reports it.

The payload becomes a :class:`~compute_pricing.payments.SubscriptionInfo`: every item's price
id, each price's ``metadata.plan_id`` (the fallback of the configured price map), the period
start read from the first item that has one (current API versions) else the subscription,
``cancel_at`` and ``cancel_at_period_end``. The org is ``metadata.organization_id``, else the
customer's.
"""

from __future__ import annotations

from compute_pricing.payments import SubscriptionInfo
from compute_pricing.stripe.payloads import StripeEvent, Subscription
from compute_pricing.stripe.services import WebhookServices, object_of, result_of

__all__ = ["changed", "deleted", "subscription_info"]


def subscription_info(subscription: Subscription) -> SubscriptionInfo:
    """The plain values of a subscription payload."""
    return SubscriptionInfo(
        subscription_id=subscription.id,
        customer_id=subscription.customer,
        status=subscription.status,
        price_ids=subscription.price_ids,
        price_plan_ids={
            item.price.id: item.price.metadata["plan_id"]
            for item in subscription.items.data
            if item.price.metadata.get("plan_id")
        },
        current_period_start=subscription.period_start,
        cancel_at=subscription.cancel_at,
        cancel_at_period_end=subscription.cancel_at_period_end,
        metadata=subscription.metadata,
    )


def _sync(services: WebhookServices, event: StripeEvent, *, deleted: bool) -> str:
    subscription = object_of(event, Subscription)
    change = services.subscriptions.subscription_changed(
        subscription.metadata.get("organization_id"),
        subscription_info(subscription),
        deleted=deleted,
        event_id=event.id,
        event_created=event.created,
    )
    return result_of(change)


def changed(services: WebhookServices, event: StripeEvent) -> str:
    """A subscription was created or updated: plan, status, period, cancellation."""
    return _sync(services, event, deleted=False)


def deleted(services: WebhookServices, event: StripeEvent) -> str:
    """A subscription ended: the default plan, usage not preserved."""
    return _sync(services, event, deleted=True)
