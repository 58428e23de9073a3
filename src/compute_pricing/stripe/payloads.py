"""Stripe event payloads: pydantic models of only the fields the library reads.

:func:`parse_envelope` reads the event (``id``, ``type``, ``created``, ``livemode``,
``api_version`` and ``data.object`` as raw JSON); :func:`parse_event` then reads ``data.object``
with the model :data:`OBJECT_MODELS` names for the event type. Unknown fields are ignored,
types are strict (no ``"12"`` for an integer), and ids Stripe may expand (``customer``,
``subscription``, ``payment_intent``, ``charge``) are read from a string or an object's ``id``.
Unix times become aware UTC datetimes at millisecond precision. Any malformed payload raises
:class:`~compute_pricing.errors.WebhookPayloadError` naming the dotted field.

Where Stripe moved a field between API versions both places are read: an invoice's
subscription (top level before 2025-03-31, ``parent.subscription_details.subscription``
since) and a subscription's ``current_period_start`` (top level before, on each item since).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

import attrs
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from compute_pricing.errors import WebhookPayloadError

__all__ = [
    "OBJECT_MODELS",
    "Charge",
    "CheckoutSession",
    "Customer",
    "Dispute",
    "Envelope",
    "Invoice",
    "InvoiceParent",
    "Price",
    "Refund",
    "StripeEvent",
    "StripeObject",
    "Subscription",
    "SubscriptionItem",
    "parse_envelope",
    "parse_event",
]

_MAX_UNIX = 253_402_300_799  # 9999-12-31T23:59:59Z


def _unix_time(value: object) -> object:
    """Unix seconds -> aware UTC datetime; anything else is refused."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_UNIX:
        return datetime.fromtimestamp(value, UTC)
    raise ValueError("must be Unix seconds (a whole number from 0 to year 9999)")


def _expandable(value: object) -> object:
    """An id, or the ``id`` of an expanded object."""
    if isinstance(value, Mapping):
        return value.get("id")
    return value


def _metadata(value: object) -> object:
    """Stripe sends ``null`` metadata on some objects; read it as empty."""
    return {} if value is None else value


UnixTime = Annotated[datetime, BeforeValidator(_unix_time)]
"""Unix seconds read as an aware UTC datetime (whole seconds, so millisecond-exact)."""
ExpandableId = Annotated[str, BeforeValidator(_expandable)]
"""An object id, given as a string or as an expanded object."""
Metadata = Annotated[dict[str, str], BeforeValidator(_metadata)]
"""Stripe metadata: string keys and values; ``null`` reads as empty."""
Amount = Annotated[int, Field(ge=0)]
"""A non-negative amount in the currency's smallest unit (cents)."""


class _Model(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="ignore")


class CheckoutSession(_Model):
    """A Checkout Session (``checkout.session.*``)."""

    id: str
    mode: str
    customer: ExpandableId | None = None
    subscription: ExpandableId | None = None
    payment_intent: ExpandableId | None = None
    payment_status: str
    metadata: Metadata = Field(default_factory=dict)
    client_reference_id: str | None = None


class Price(_Model):
    """A subscription item's price: its id and its metadata (which may name a plan)."""

    id: str
    metadata: Metadata = Field(default_factory=dict)


class SubscriptionItem(_Model):
    """One item of a subscription; current API versions put the billing period here."""

    id: str | None = None
    price: Price
    current_period_start: UnixTime | None = None


class _ItemList(_Model):
    data: list[SubscriptionItem] = Field(default_factory=list)


class Subscription(_Model):
    """A subscription (``customer.subscription.*``)."""

    id: str
    customer: ExpandableId
    status: str
    items: _ItemList = Field(default_factory=_ItemList)
    current_period_start: UnixTime | None = None
    cancel_at: UnixTime | None = None
    cancel_at_period_end: bool = False
    metadata: Metadata = Field(default_factory=dict)

    @property
    def price_ids(self) -> tuple[str, ...]:
        """The price id of every item, in order."""
        return tuple(item.price.id for item in self.items.data)

    @property
    def period_start(self) -> datetime | None:
        """The current period's start: the first item's, else the older top-level field."""
        for item in self.items.data:
            if item.current_period_start is not None:
                return item.current_period_start
        return self.current_period_start


class _SubscriptionDetails(_Model):
    subscription: ExpandableId | None = None
    metadata: Metadata = Field(default_factory=dict)


class InvoiceParent(_Model):
    """What generated an invoice (API versions from 2025-03-31 on)."""

    subscription_details: _SubscriptionDetails | None = None


class Invoice(_Model):
    """An invoice (``invoice.paid``, ``invoice.payment_succeeded``, ``invoice.payment_failed``)."""

    id: str
    customer: ExpandableId | None = None
    subscription: ExpandableId | None = None
    parent: InvoiceParent | None = None
    subscription_details: _SubscriptionDetails | None = None
    metadata: Metadata = Field(default_factory=dict)

    @property
    def subscription_id(self) -> str | None:
        """The invoice's subscription wherever the payload's API version puts it."""
        details = self.parent.subscription_details if self.parent else None
        if details is not None and details.subscription is not None:
            return details.subscription
        return self.subscription

    @property
    def organization_id(self) -> str | None:
        """The org the invoice's own metadata names, else its subscription's metadata snapshot.

        The snapshot is ``parent.subscription_details.metadata`` on current API versions and
        the top-level ``subscription_details.metadata`` on older ones.
        """
        current = self.parent.subscription_details if self.parent else None
        details = [d for d in (current, self.subscription_details) if d is not None]
        for metadata in (self.metadata, *(d.metadata for d in details)):
            if metadata.get("organization_id"):
                return metadata["organization_id"]
        return None


class Refund(_Model):
    """A refund (``refund.*``, and each entry of a charge's ``refunds.data``)."""

    id: str
    amount: Amount
    status: str | None = None
    charge: ExpandableId | None = None
    payment_intent: ExpandableId | None = None


class _RefundList(_Model):
    data: list[Refund] = Field(default_factory=list)
    has_more: bool = False


class Charge(_Model):
    """A charge (``charge.refunded``); ``refunds`` is absent from newer API versions.

    An embedded list holds Stripe's first page only: ``refunds.has_more`` says there are more.
    """

    id: str
    payment_intent: ExpandableId | None = None
    customer: ExpandableId | None = None
    refunds: _RefundList | None = None


class Dispute(_Model):
    """A dispute (``charge.dispute.*``)."""

    id: str
    charge: ExpandableId | None = None
    payment_intent: ExpandableId | None = None
    amount: Amount
    status: str
    reason: str | None = None


class Customer(_Model):
    """A customer (``customer.deleted``)."""

    id: str
    metadata: Metadata = Field(default_factory=dict)


StripeObject = CheckoutSession | Subscription | Invoice | Charge | Refund | Dispute | Customer
"""Any object model the library reads."""

#: The model of ``data.object`` for each event type the library reads.
OBJECT_MODELS: Mapping[str, type[_Model]] = {
    "checkout.session.completed": CheckoutSession,
    "checkout.session.async_payment_succeeded": CheckoutSession,
    "checkout.session.async_payment_failed": CheckoutSession,
    "customer.subscription.created": Subscription,
    "customer.subscription.updated": Subscription,
    "customer.subscription.deleted": Subscription,
    "invoice.payment_failed": Invoice,
    "invoice.paid": Invoice,
    "invoice.payment_succeeded": Invoice,
    "charge.refunded": Charge,
    "refund.created": Refund,
    "refund.updated": Refund,
    "charge.dispute.created": Dispute,
    "charge.dispute.funds_withdrawn": Dispute,
    "charge.dispute.funds_reinstated": Dispute,
    "customer.deleted": Customer,
}


class _Data(_Model):
    object: dict[str, Any]


class Envelope(_Model):
    """The event around ``data.object``, which stays raw JSON until :func:`parse_event`."""

    id: Annotated[str, Field(min_length=1)]
    type: Annotated[str, Field(min_length=1)]
    created: UnixTime
    livemode: bool = False
    api_version: str | None = None
    data: _Data


@attrs.frozen
class StripeEvent:
    """A verified, parsed event; ``object`` is ``None`` for a type without a model."""

    id: str
    type: str
    created: datetime
    livemode: bool
    api_version: str | None
    object: StripeObject | None


def _refused(error: ValidationError, prefix: str) -> WebhookPayloadError:
    first = error.errors(include_url=False)[0]
    parts = [prefix, *(str(part) for part in first["loc"])]
    field = ".".join(part for part in parts if part) or "payload"
    reason = "is not valid JSON" if first["type"] == "json_invalid" else first["msg"]
    return WebhookPayloadError(field, reason)


def parse_envelope(payload: bytes) -> Envelope:
    """Read the event envelope from the raw body; ``WebhookPayloadError`` if malformed."""
    try:
        return Envelope.model_validate_json(payload)
    except ValidationError as exc:
        raise _refused(exc, "") from None


def parse_event(envelope: Envelope) -> StripeEvent:
    """Read ``data.object`` with the model of the event's type (none for unknown types)."""
    model = OBJECT_MODELS.get(envelope.type)
    obj: Any = None
    if model is not None:
        try:
            obj = model.model_validate(envelope.data.object)
        except ValidationError as exc:
            raise _refused(exc, "data.object") from None
    return StripeEvent(
        id=envelope.id,
        type=envelope.type,
        created=envelope.created,
        livemode=envelope.livemode,
        api_version=envelope.api_version,
        object=obj,
    )
