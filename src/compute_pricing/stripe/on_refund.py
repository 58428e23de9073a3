"""``charge.refunded``, ``refund.created``, ``refund.updated``: each refund once, by its id.

Every path reports a refund by its own id and amount (never a charge's cumulative
``amount_refunded``) and the account change is keyed by the refund id, so the same refund
reported by ``charge.refunded`` and by ``refund.updated`` takes its units back once, and two
refunds of the same amount take them back twice.

- ``charge.refunded`` applies each refund of ``refunds.data``; when the payload carries no
  refunds (current API versions) or only their first page, they are listed through the
  gateway (a provider outage raises, so Stripe retries).
- ``refund.created`` / ``refund.updated`` apply the refund once its status is ``succeeded``.

Only succeeded refunds count (an embedded refund without a status counts: older payloads).
"""

from __future__ import annotations

from compute_pricing.errors import PaymentConfigurationError
from compute_pricing.stripe.payloads import Charge, Refund, StripeEvent
from compute_pricing.stripe.services import WebhookServices, object_of, result_of
from compute_pricing.subscriptions import AccountChange

__all__ = ["SUCCEEDED", "charge_refunded", "refund_changed"]

#: The refund status that takes units back.
SUCCEEDED = "succeeded"

_Entry = tuple[str, int, str | None]
"""A refund as plain values: id, amount in cents, payment intent."""


def _listed(services: WebhookServices, charge: Charge) -> list[_Entry]:
    gateway = services.gateway()
    if gateway is None:
        raise PaymentConfigurationError("no payment gateway is configured to list refunds")
    return [
        (refund.refund_id, refund.amount_cents, refund.payment_intent)
        for refund in gateway.list_refunds(charge.id)
        if refund.status == SUCCEEDED
    ]


def _embedded(charge: Charge) -> list[_Entry] | None:
    if charge.refunds is None or charge.refunds.has_more:
        return None
    return [
        (refund.id, refund.amount, refund.payment_intent)
        for refund in charge.refunds.data
        if refund.status in (None, SUCCEEDED)
    ]


def charge_refunded(services: WebhookServices, event: StripeEvent) -> str:
    """A charge was (partly) refunded: every succeeded refund of it, each by its own id."""
    charge = object_of(event, Charge)
    entries = _embedded(charge)
    if entries is None:
        entries = _listed(services, charge)
    changes: list[AccountChange] = [
        services.subscriptions.payment_refunded(
            payment_intent or charge.payment_intent, refund_id, amount
        )
        for refund_id, amount, payment_intent in entries
    ]
    return result_of(*changes)


def refund_changed(services: WebhookServices, event: StripeEvent) -> str:
    """A refund was created or updated: applied once it succeeded."""
    refund = object_of(event, Refund)
    if refund.status != SUCCEEDED:
        return "ignored"
    change = services.subscriptions.payment_refunded(
        refund.payment_intent, refund.id, refund.amount
    )
    return result_of(change)
