"""Stripe response objects (as plain dicts) turned into the core's payment values.

Only the fields the library uses are read. A response missing one of them is a provider fault,
reported as :class:`~compute_pricing.errors.PaymentProviderError` naming the field, never a
``KeyError`` deep in a handler.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from compute_pricing.errors import PaymentProviderError
from compute_pricing.payments import CheckoutSession, RefundInfo, SubscriptionInfo

__all__ = ["checkout_session", "refund_info", "subscription_info"]


def _required_str(data: Mapping[str, Any], field: str, what: str) -> str:
    value = data.get(field)
    if not isinstance(value, str) or not value:
        raise PaymentProviderError(f"Stripe {what} has no {field!r}: {value!r}")
    return value


def _optional_id(value: Any) -> str | None:
    """An id that Stripe sends as a string, or as the expanded object carrying it."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def _instant(value: Any) -> datetime | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, tz=UTC)
    return None


def _string_map(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(key): str(item) for key, item in value.items() if item is not None}


def checkout_session(data: Mapping[str, Any]) -> CheckoutSession:
    """A created Checkout Session: its id and hosted URL."""
    return CheckoutSession(
        session_id=_required_str(data, "id", "checkout session"),
        url=_required_str(data, "url", "checkout session"),
    )


def refund_info(data: Mapping[str, Any]) -> RefundInfo:
    """One refund object."""
    amount = data.get("amount")
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise PaymentProviderError(f"Stripe refund has no integer 'amount': {amount!r}")
    return RefundInfo(
        refund_id=_required_str(data, "id", "refund"),
        amount_cents=amount,
        status=_required_str(data, "status", "refund"),
        payment_intent=_optional_id(data.get("payment_intent")),
        charge_id=_optional_id(data.get("charge")),
    )


def subscription_info(data: Mapping[str, Any]) -> SubscriptionInfo:
    """A subscription; each item's ``price`` is the embedded price object.

    ``current_period_start`` is read from the first item that has one (current API versions
    keep the period there) and only then from the subscription itself (older versions).
    """
    items = data.get("items")
    rows = items.get("data") if isinstance(items, Mapping) else None
    price_ids: list[str] = []
    plan_ids: dict[str, str] = {}
    period_start: datetime | None = None
    for item in rows if isinstance(rows, list) else []:
        if not isinstance(item, Mapping):
            continue
        price = item.get("price")
        price_id = _optional_id(price)
        if price_id is not None:
            price_ids.append(price_id)
            plan_id = _string_map(price.get("metadata") if isinstance(price, Mapping) else None)
            if plan_id.get("plan_id"):
                plan_ids[price_id] = plan_id["plan_id"]
        period_start = period_start or _instant(item.get("current_period_start"))
    status = data.get("status")
    return SubscriptionInfo(
        subscription_id=_required_str(data, "id", "subscription"),
        customer_id=_optional_id(data.get("customer")),
        status=status if isinstance(status, str) and status else None,
        price_ids=tuple(price_ids),
        price_plan_ids=plan_ids,
        current_period_start=period_start or _instant(data.get("current_period_start")),
        cancel_at=_instant(data.get("cancel_at")),
        cancel_at_period_end=data.get("cancel_at_period_end") is True,
        metadata=_string_map(data.get("metadata")),
    )
