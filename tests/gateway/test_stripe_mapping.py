"""The Stripe adapter's pure parts: the closed error table, response parsing, checkout params."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import attrs
import pytest
import stripe

from compute_pricing.errors import (
    PaymentConfigurationError,
    PaymentProviderError,
    PaymentProviderUnavailableError,
    PaymentRequestError,
)
from compute_pricing.testing.gateway import checkout_request
from compute_pricing_stripe import checkout_params, translate, translated
from compute_pricing_stripe.responses import checkout_session, refund_info, subscription_info


def _make(cls: Callable[..., stripe.StripeError], *args: Any, **kwargs: Any) -> stripe.StripeError:
    """An SDK error built as the SDK builds it (its constructors are untyped)."""
    return cls(*args, **kwargs)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (_make(stripe.APIConnectionError, "down"), PaymentProviderUnavailableError),
        (stripe.RateLimitError("slow down", http_status=429), PaymentProviderUnavailableError),
        (stripe.APIError("boom", http_status=502), PaymentProviderUnavailableError),
        (stripe.APIError("no status"), PaymentProviderUnavailableError),
        (stripe.APIError("conflict", http_status=409), PaymentProviderError),
        (_make(stripe.InvalidRequestError, "bad", param="amount"), PaymentRequestError),
        (
            _make(stripe.CardError, "declined", param="card", code="card_declined"),
            PaymentRequestError,
        ),
        (stripe.IdempotencyError("reused"), PaymentRequestError),
        (stripe.AuthenticationError("bad key"), PaymentConfigurationError),
        (stripe.PermissionError("restricted key"), PaymentConfigurationError),
        (_make(stripe.SignatureVerificationError, "bad sig", "t=1"), PaymentProviderError),
    ],
)
def test_every_stripe_error_has_one_library_error(
    error: stripe.StripeError, expected: type[PaymentProviderError]
) -> None:
    """The table sends each SDK error class to exactly one library class."""
    assert expected is type(translate(error, "refund"))


def test_request_errors_keep_the_param_and_the_message() -> None:
    """A refused parameter is named; the message names the operation and Stripe's words."""
    error = translate(_make(stripe.InvalidRequestError, "Amount too big", param="amount"), "refund")
    assert isinstance(error, PaymentRequestError)
    assert ("amount", "Stripe refund failed: Amount too big") == (error.param, str(error))


def test_an_idempotency_error_names_the_key() -> None:
    """Stripe gives no param for a reused key; the library names ``idempotency_key``."""
    error = translate(stripe.IdempotencyError("Keys for idempotent requests..."), "refund")
    assert isinstance(error, PaymentRequestError)
    assert "idempotency_key" == error.param


def test_translated_chains_the_sdk_error_and_lets_bugs_through() -> None:
    """``translated`` raises ``from`` the SDK error; a non-Stripe error passes untouched."""
    cause = _make(stripe.APIConnectionError, "reset by peer")
    with pytest.raises(PaymentProviderUnavailableError) as raised, translated("refund"):
        raise cause
    assert cause is raised.value.__cause__
    with pytest.raises(KeyError), translated("refund"):
        raise KeyError("bug")


def test_subscription_period_and_plan_ids_come_from_the_items() -> None:
    """Item period start wins; each price's ``metadata.plan_id`` maps it; others are skipped."""
    info = subscription_info(
        {
            "id": "sub_1",
            "customer": {"id": "cus_1", "object": "customer"},
            "status": "past_due",
            "current_period_start": 1_000,
            "cancel_at": 1_800_000_000,
            "cancel_at_period_end": True,
            "metadata": {"organization_id": "org_1"},
            "items": {
                "data": [
                    {"price": {"id": "price_a", "metadata": {"plan_id": "team"}}},
                    {
                        "price": {"id": "price_b", "metadata": {}},
                        "current_period_start": 1_700_000_000,
                    },
                    "not an item",
                ]
            },
        }
    )
    assert ("cus_1", "past_due", ("price_a", "price_b")) == (
        info.customer_id,
        info.status,
        info.price_ids,
    )
    assert {"price_a": "team"} == dict(info.price_plan_ids)
    assert datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC) == info.current_period_start
    assert datetime(2027, 1, 15, 8, 0, tzinfo=UTC) == info.cancel_at
    assert info.cancel_at_period_end
    assert {"organization_id": "org_1"} == dict(info.metadata)


def test_subscription_without_items_falls_back_to_its_own_period() -> None:
    """Older API versions keep the period on the subscription; no status reads as None."""
    info = subscription_info({"id": "sub_1", "customer": "cus_1", "current_period_start": 0})
    assert (None, (), datetime(1970, 1, 1, tzinfo=UTC)) == (
        info.status,
        info.price_ids,
        info.current_period_start,
    )


@pytest.mark.parametrize(
    ("parse", "payload", "field"),
    [
        (checkout_session, {"id": "cs_1", "url": None}, "'url'"),
        (refund_info, {"id": "re_1", "amount": "100", "status": "succeeded"}, "'amount'"),
        (refund_info, {"id": "re_1", "amount": 100}, "'status'"),
        (subscription_info, {"status": "active"}, "'id'"),
    ],
)
def test_a_response_missing_a_field_is_a_provider_error(
    parse: object, payload: dict[str, object], field: str
) -> None:
    """A malformed Stripe answer is a PaymentProviderError naming the field."""
    assert callable(parse)
    with pytest.raises(PaymentProviderError, match=field):
        parse(payload)


def test_refund_info_reads_expanded_ids() -> None:
    """``charge`` and ``payment_intent`` may be ids or expanded objects."""
    info = refund_info(
        {
            "id": "re_1",
            "amount": 100,
            "status": "pending",
            "charge": {"id": "ch_1"},
            "payment_intent": "pi_1",
        }
    )
    assert ("ch_1", "pi_1", "pending") == (info.charge_id, info.payment_intent, info.status)


def test_payment_checkout_params_carry_metadata_twice() -> None:
    """Payment mode: metadata on the session and in ``payment_intent_data``; tax only if asked."""
    params = checkout_params(checkout_request("cus_1", "price_1"))
    metadata = {"organization_id": "org_1", "pack_id": "pack", "kind": "extras"}
    assert {
        "mode": "payment",
        "customer": "cus_1",
        "line_items": [{"price": "price_1", "quantity": 1}],
        "success_url": "https://app.example.com/billing/ok",
        "cancel_url": "https://app.example.com/billing/cancel",
        "client_reference_id": "org_1",
        "metadata": metadata,
        "payment_intent_data": {"metadata": metadata},
    } == params


def test_subscription_checkout_params_tag_the_subscription() -> None:
    """Subscription mode puts the metadata on the subscription; automatic tax when asked."""
    request = checkout_request("cus_1", "price_m", mode="subscription")
    params = checkout_params(attrs.evolve(request, automatic_tax=True))
    assert {"metadata": {"organization_id": "org_1"}} == params["subscription_data"]
    assert {"enabled": True} == params["automatic_tax"]
    assert "payment_intent_data" not in params
