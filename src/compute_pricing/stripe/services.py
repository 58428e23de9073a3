"""What the webhook translators need, and how an account change becomes a pipeline result.

:class:`WebhookServices` bundles the account use cases (:class:`~compute_pricing.subscriptions.
SubscriptionService`) and the payment gateway (read when a ``charge.refunded`` payload no longer
embeds its refunds). :func:`result_of` maps the ``AccountChange`` statuses a translator got to
the handler result the pipeline answers: ``applied`` and ``duplicate`` are ``applied`` (a
duplicate is a fact already reflected), ``stale`` is ``stale``, and ``ignored``, ``unresolved``
and ``skipped`` are ``ignored`` (200: nothing to change, and no retry could change that).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import attrs

from compute_pricing.ports import PaymentGateway
from compute_pricing.stripe.payloads import StripeEvent, StripeObject
from compute_pricing.subscriptions import AccountChange, SubscriptionService

__all__ = ["WebhookServices", "object_of", "result_of"]

_O = TypeVar("_O", bound=StripeObject)


@attrs.frozen
class WebhookServices:
    """The use cases and the gateway the translators call (``gateway()``: ``None`` if unset)."""

    subscriptions: SubscriptionService
    gateway: Callable[[], PaymentGateway | None]


def object_of(event: StripeEvent, model: type[_O]) -> _O:
    """``event.object`` as ``model`` (the pipeline parsed it with that model)."""
    obj = event.object
    if not isinstance(obj, model):
        raise TypeError(f"{event.type} carries {type(obj).__name__}, not {model.__name__}")
    return obj


def result_of(*changes: AccountChange) -> str:
    """The handler result of the changes one event made (``ignored`` when there were none)."""
    statuses = {change.status for change in changes}
    if statuses & {"applied", "duplicate"}:
        return "applied"
    if "stale" in statuses:
        return "stale"
    return "ignored"
