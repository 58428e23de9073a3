"""Stripe payloads: the envelope and the objects of every handled event type, and refusals."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from compute_pricing.errors import WebhookPayloadError
from compute_pricing.stripe.payloads import (
    OBJECT_MODELS,
    Charge,
    CheckoutSession,
    Customer,
    Dispute,
    Invoice,
    Refund,
    StripeEvent,
    Subscription,
    parse_envelope,
    parse_event,
)

CREATED = 1_772_443_815  # 2026-03-02T09:30:15Z


def event(event_type: str, obj: dict[str, Any], **envelope: Any) -> bytes:
    """A Stripe event body as Stripe sends it (with fields the library does not read)."""
    body: dict[str, Any] = {
        "id": "evt_1",
        "object": "event",
        "type": event_type,
        "created": CREATED,
        "livemode": False,
        "api_version": "2025-03-31.basil",
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "data": {"object": obj, "previous_attributes": {}},
    }
    body.update(envelope)
    return json.dumps(body).encode()


def parsed(event_type: str, obj: dict[str, Any], **envelope: Any) -> StripeEvent:
    """Parse envelope and object."""
    return parse_event(parse_envelope(event(event_type, obj, **envelope)))


def field_refused(payload: bytes) -> str | None:
    """The dotted field a payload is refused at, or ``None`` when it parses."""
    try:
        parse_event(parse_envelope(payload))
    except WebhookPayloadError as exc:
        return exc.field
    return None


def refused_field(payload: bytes) -> str:
    """The dotted field a malformed payload is refused at."""
    with pytest.raises(WebhookPayloadError) as caught:
        parse_event(parse_envelope(payload))
    return caught.value.field


SUBSCRIPTION: dict[str, Any] = {
    "id": "sub_1",
    "object": "subscription",
    "customer": "cus_1",
    "status": "active",
    "cancel_at": None,
    "cancel_at_period_end": False,
    "metadata": {"organization_id": "org_1"},
    "items": {
        "object": "list",
        "data": [
            {
                "id": "si_1",
                "current_period_start": CREATED,
                "current_period_end": CREATED + 30 * 86_400,
                "price": {"id": "price_team_monthly", "metadata": {"plan_id": "team"}},
            }
        ],
    },
}


def test_the_envelope_reads_id_type_created_and_versions() -> None:
    """``created`` becomes an aware UTC datetime; unknown fields are ignored."""
    result = parsed("customer.subscription.updated", SUBSCRIPTION)
    assert ("evt_1", "customer.subscription.updated", False, "2025-03-31.basil") == (
        result.id,
        result.type,
        result.livemode,
        result.api_version,
    )
    assert datetime(2026, 3, 2, 9, 30, 15, tzinfo=UTC) == result.created


def test_a_subscription_reads_prices_period_and_cancellation() -> None:
    """Item prices with their metadata and the item's period start (current API versions)."""
    sub = parsed("customer.subscription.updated", SUBSCRIPTION).object
    assert isinstance(sub, Subscription)
    assert ("sub_1", "cus_1", "active", ("price_team_monthly",)) == (
        sub.id,
        sub.customer,
        sub.status,
        sub.price_ids,
    )
    assert {"plan_id": "team"} == sub.items.data[0].price.metadata
    assert datetime(2026, 3, 2, 9, 30, 15, tzinfo=UTC) == sub.period_start
    assert (None, False, {"organization_id": "org_1"}) == (
        sub.cancel_at,
        sub.cancel_at_period_end,
        sub.metadata,
    )


def test_an_older_subscription_reads_the_top_level_period_start() -> None:
    """Before 2025-03-31 the period start is on the subscription itself."""
    legacy = {
        **SUBSCRIPTION,
        "current_period_start": CREATED - 86_400,
        "cancel_at": CREATED + 86_400,
        "cancel_at_period_end": True,
        "items": {"data": [{"id": "si_1", "price": {"id": "price_x", "metadata": {}}}]},
    }
    sub = parsed("customer.subscription.deleted", legacy).object
    assert isinstance(sub, Subscription)
    assert datetime(2026, 3, 1, 9, 30, 15, tzinfo=UTC) == sub.period_start
    assert (datetime(2026, 3, 3, 9, 30, 15, tzinfo=UTC), True) == (
        sub.cancel_at,
        sub.cancel_at_period_end,
    )


def test_a_subscription_without_items_has_no_period() -> None:
    """No items and no top-level field: no period start, no prices."""
    bare = {"id": "sub_1", "customer": {"id": "cus_9", "object": "customer"}, "status": "past_due"}
    sub = parsed("customer.subscription.created", bare).object
    assert isinstance(sub, Subscription)
    assert (None, (), "cus_9") == (sub.period_start, sub.price_ids, sub.customer)


def test_a_checkout_session_reads_mode_payment_and_metadata() -> None:
    """An extras checkout: mode, payment intent, status, metadata, client reference."""
    session = {
        "id": "cs_1",
        "object": "checkout.session",
        "mode": "payment",
        "customer": "cus_1",
        "subscription": None,
        "payment_intent": "pi_1",
        "payment_status": "paid",
        "client_reference_id": "org_1",
        "metadata": {"organization_id": "org_1", "pack_id": "small", "kind": "extras"},
        "amount_total": 4900,
    }
    for event_type in (
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "checkout.session.async_payment_failed",
    ):
        obj = parsed(event_type, session).object
        assert (
            CheckoutSession(
                id="cs_1",
                mode="payment",
                customer="cus_1",
                subscription=None,
                payment_intent="pi_1",
                payment_status="paid",
                metadata={"organization_id": "org_1", "pack_id": "small", "kind": "extras"},
                client_reference_id="org_1",
            )
            == obj
        )


@pytest.mark.parametrize(
    ("invoice", "subscription"),
    [
        ({"id": "in_1", "customer": "cus_1", "subscription": "sub_old"}, "sub_old"),
        (
            {
                "id": "in_1",
                "customer": "cus_1",
                "parent": {
                    "type": "subscription_details",
                    "subscription_details": {"subscription": "sub_new", "metadata": {}},
                },
            },
            "sub_new",
        ),
        ({"id": "in_1", "customer": "cus_1", "parent": None}, None),
        ({"id": "in_1", "parent": {"type": "quote_details", "quote_details": {}}}, None),
    ],
)
def test_an_invoice_finds_its_subscription_in_either_place(
    invoice: dict[str, Any], subscription: str | None
) -> None:
    """Top-level ``subscription`` (older versions) or ``parent.subscription_details``."""
    for event_type in ("invoice.paid", "invoice.payment_succeeded", "invoice.payment_failed"):
        obj = parsed(event_type, invoice).object
        assert isinstance(obj, Invoice)
        assert subscription == obj.subscription_id


def test_a_refunded_charge_lists_each_refund() -> None:
    """``refunds.data`` entries keep their own id and amount (never ``amount_refunded``)."""
    charge = {
        "id": "ch_1",
        "payment_intent": "pi_1",
        "customer": "cus_1",
        "amount_refunded": 2000,
        "refunds": {
            "object": "list",
            "data": [
                {"id": "re_1", "amount": 1000, "status": "succeeded", "charge": "ch_1"},
                {"id": "re_2", "amount": 1000, "status": "succeeded", "charge": "ch_1"},
            ],
        },
    }
    obj = parsed("charge.refunded", charge).object
    assert isinstance(obj, Charge)
    assert obj.refunds is not None
    assert [("re_1", 1000), ("re_2", 1000)] == [(r.id, r.amount) for r in obj.refunds.data]


def test_a_refunded_charge_without_embedded_refunds() -> None:
    """Newer API versions leave ``refunds`` out: it reads as ``None``."""
    obj = parsed("charge.refunded", {"id": "ch_1", "payment_intent": "pi_1"}).object
    assert Charge(id="ch_1", payment_intent="pi_1", customer=None, refunds=None) == obj


def test_refund_dispute_and_customer_objects() -> None:
    """``refund.*``, ``charge.dispute.*`` and ``customer.deleted`` read their fields."""
    refund = {"id": "re_1", "amount": 4900, "status": "pending", "payment_intent": "pi_1"}
    for event_type in ("refund.created", "refund.updated"):
        assert (
            Refund(id="re_1", amount=4900, status="pending", charge=None, payment_intent="pi_1")
            == parsed(event_type, refund).object
        )
    dispute = {"id": "dp_1", "charge": "ch_1", "payment_intent": "pi_1", "amount": 4900}
    for status, event_type in (
        ("needs_response", "charge.dispute.created"),
        ("lost", "charge.dispute.funds_withdrawn"),
        ("won", "charge.dispute.funds_reinstated"),
    ):
        assert (
            Dispute(id="dp_1", charge="ch_1", payment_intent="pi_1", amount=4900, status=status)
            == parsed(event_type, {**dispute, "status": status}).object
        )
    customer = {"id": "cus_1", "deleted": True, "metadata": None}
    assert Customer(id="cus_1", metadata={}) == parsed("customer.deleted", customer).object


def test_every_handled_type_has_a_model() -> None:
    """The table covers the event types the library handles, and nothing is mapped twice."""
    assert 16 == len(OBJECT_MODELS)
    assert {"customer.subscription.updated", "charge.refunded"} <= set(OBJECT_MODELS)


def test_an_unknown_type_keeps_no_object() -> None:
    """A type the library does not read parses its envelope and keeps ``object`` empty."""
    assert parsed("payout.paid", {"id": "po_1", "amount": "weird"}).object is None


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (b"not json", "payload"),
        (b"\xff\xfe\x00", "payload"),
        (b"[1, 2]", "payload"),
        (b'{"type": "invoice.paid", "created": 1, "data": {"object": {}}}', "id"),
        (b'{"id": "evt", "created": 1, "data": {"object": {}}}', "type"),
        (b'{"id": "evt", "type": "invoice.paid", "data": {"object": {}}}', "created"),
        (b'{"id": "", "type": "invoice.paid", "created": 1, "data": {"object": {}}}', "id"),
        (b'{"id": 7, "type": "invoice.paid", "created": 1, "data": {"object": {}}}', "id"),
        (b'{"id": "e", "type": "invoice.paid", "created": "1", "data": {"object": {}}}', "created"),
        (b'{"id": "e", "type": "invoice.paid", "created": 1.5, "data": {"object": {}}}', "created"),
        (b'{"id": "e", "type": "invoice.paid", "created": -1, "data": {"object": {}}}', "created"),
        (
            b'{"id": "e", "type": "invoice.paid", "created": true, "data": {"object": {}}}',
            "created",
        ),
        (b'{"id": "e", "type": "invoice.paid", "created": 1}', "data"),
        (
            b'{"id": "e", "type": "invoice.paid", "created": 1, "data": {"object": []}}',
            "data.object",
        ),
        (b'{"id": "e", "type": "x", "created": 1, "data": {}, "livemode": "no"}', "livemode"),
    ],
)
def test_a_malformed_envelope_names_its_field(payload: bytes, field: str) -> None:
    """Not JSON, missing or mistyped envelope fields: refused naming the dotted field."""
    assert field == refused_field(payload)


@pytest.mark.parametrize(
    ("event_type", "obj", "field"),
    [
        ("invoice.paid", {"customer": "cus_1"}, "data.object.id"),
        ("invoice.paid", {"id": "in_1", "customer": 5}, "data.object.customer"),
        (
            "customer.subscription.updated",
            {**SUBSCRIPTION, "items": {"data": [{"price": {"id": 5}}]}},
            "data.object.items.data.0.price.id",
        ),
        (
            "customer.subscription.updated",
            {**SUBSCRIPTION, "cancel_at": "2026-03-02"},
            "data.object.cancel_at",
        ),
        ("customer.subscription.updated", {**SUBSCRIPTION, "status": None}, "data.object.status"),
        (
            "charge.refunded",
            {"id": "ch_1", "refunds": {"data": [{"id": "re_1", "amount": -5}]}},
            "data.object.refunds.data.0.amount",
        ),
        (
            "charge.dispute.funds_withdrawn",
            {"id": "dp_1", "amount": "4900", "status": "lost"},
            "data.object.amount",
        ),
        (
            "checkout.session.completed",
            {"id": "cs_1", "mode": "payment", "payment_status": "paid", "metadata": {"a": 1}},
            "data.object.metadata.a",
        ),
    ],
)
def test_a_malformed_object_names_its_dotted_field(
    event_type: str, obj: dict[str, Any], field: str
) -> None:
    """A used field missing or of the wrong type is refused at its dotted path."""
    assert field == refused_field(event(event_type, obj))


@given(st.binary(max_size=200))
def test_arbitrary_bytes_raise_only_payload_errors(payload: bytes) -> None:
    """Any body either parses or raises WebhookPayloadError."""
    field = field_refused(payload)
    assert field is None or "" != field


@given(
    st.sampled_from(sorted(OBJECT_MODELS)),
    st.dictionaries(
        st.sampled_from(["id", "customer", "status", "amount", "items", "refunds", "parent"]),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=5),
            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner),
            max_leaves=8,
        ),
    ),
)
def test_arbitrary_objects_raise_only_payload_errors(event_type: str, obj: dict[str, Any]) -> None:
    """Any JSON object under a handled type either parses or is refused with a field."""
    field = field_refused(event(event_type, obj))
    assert field is None or field.startswith("data.object")
