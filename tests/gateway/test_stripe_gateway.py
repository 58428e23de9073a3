"""StripePaymentGateway over the real SDK and the local Stripe test server: what Stripe stores."""

from __future__ import annotations

import socket

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
from compute_pricing_stripe import StripePaymentGateway
from tests.gateway.conftest import make_client
from tests.gateway.provider import StripeProviderSetup


def _fail_next(client: stripe.StripeClient, status: int, kind: str, count: int = 1) -> None:
    """Make the test server answer the next ``count`` API calls with an error."""
    client.raw_request("post", "/_test/fail", status=str(status), type=kind, count=str(count))


def test_customer_carries_the_org_in_its_metadata(
    stripe_gateway: StripePaymentGateway, stripe_client: stripe.StripeClient
) -> None:
    """The created customer has ``metadata.organization_id``."""
    customer_id = stripe_gateway.create_customer(org="org_42", idempotency_key="cus:org_42:a")
    customer = stripe_client.v1.customers.retrieve(customer_id)
    assert {"organization_id": "org_42"} == customer.to_dict()["metadata"]


def test_extras_checkout_sends_metadata_tax_and_reference(
    stripe_gateway: StripePaymentGateway,
    stripe_client: stripe.StripeClient,
    stripe_provider: StripeProviderSetup,
) -> None:
    """A payment session has the extras metadata, on its payment intent too, and tax on."""
    customer = stripe_gateway.create_customer(org="org_1", idempotency_key="cus:org_1:x1")
    request = checkout_request(customer, stripe_provider.one_time_price(4_900))
    request = attrs.evolve(request, automatic_tax=True)
    created = stripe_gateway.create_checkout_session(request, idempotency_key="extras:x1")
    session = stripe_client.v1.checkout.sessions.retrieve(created.session_id)
    expected = {"organization_id": "org_1", "pack_id": "pack", "kind": "extras"}
    assert ("payment", customer, "org_1") == (
        session.mode,
        session.customer,
        session.client_reference_id,
    )
    assert expected == session.to_dict()["metadata"]
    assert created.url == session.url
    assert session.automatic_tax.enabled is True
    assert session.payment_intent is not None
    intent_id = session.payment_intent
    intent = stripe_client.v1.payment_intents.retrieve(
        intent_id if isinstance(intent_id, str) else intent_id.id
    )
    assert expected == intent.to_dict()["metadata"]
    assert 4_900 == intent.amount


def test_subscription_checkout_has_metadata_and_no_tax_by_default(
    stripe_gateway: StripePaymentGateway,
    stripe_client: stripe.StripeClient,
    stripe_provider: StripeProviderSetup,
) -> None:
    """A subscription session has the org metadata, no payment intent, tax off."""
    customer = stripe_gateway.create_customer(org="org_2", idempotency_key="cus:org_2:s1")
    price = stripe_provider.recurring_price(2_900, "team")
    request = checkout_request(customer, price, mode="subscription", org="org_2")
    created = stripe_gateway.create_checkout_session(request, idempotency_key="sub:s1")
    session = stripe_client.v1.checkout.sessions.retrieve(created.session_id)
    assert "subscription" == session.mode
    assert {"organization_id": "org_2"} == session.to_dict()["metadata"]
    assert session.payment_intent is None
    assert session.automatic_tax.enabled is False


def test_a_refund_key_sent_twice_creates_one_refund(
    stripe_gateway: StripePaymentGateway,
    stripe_client: stripe.StripeClient,
    stripe_provider: StripeProviderSetup,
) -> None:
    """Stripe sees the same Idempotency-Key twice and keeps one refund on the charge."""
    intent, charge = stripe_provider.paid_payment(4_900)
    for _ in range(2):
        stripe_gateway.create_refund(
            payment_intent=intent, amount_cents=1_200, reason="duplicate", idempotency_key="re:1"
        )
    refunds = list(stripe_client.v1.refunds.list(params={"charge": charge}).auto_paging_iter())
    assert [1_200] == [refund.amount for refund in refunds]


def test_the_sdk_retries_an_outage_with_the_same_key(
    stripe_api_base: str, stripe_provider: StripeProviderSetup
) -> None:
    """A 503 then a retry by the SDK (same Idempotency-Key) makes exactly one refund."""
    client = make_client(stripe_api_base, retries=2)
    gateway = StripePaymentGateway(client)
    intent, charge = stripe_provider.paid_payment(4_900)
    _fail_next(client, 503, "api_error")
    refund = gateway.create_refund(
        payment_intent=intent, amount_cents=700, reason=None, idempotency_key="re:retry"
    )
    assert [refund.refund_id] == [r.refund_id for r in gateway.list_refunds(charge)]


@pytest.mark.parametrize(
    ("status", "kind", "expected"),
    [
        (503, "api_error", PaymentProviderUnavailableError),
        (500, "api_error", PaymentProviderUnavailableError),
        (429, "rate_limit_error", PaymentProviderUnavailableError),
        (400, "invalid_request_error", PaymentRequestError),
        (402, "card_error", PaymentRequestError),
        (400, "idempotency_error", PaymentRequestError),
        (401, "invalid_request_error", PaymentConfigurationError),
        (403, "invalid_request_error", PaymentConfigurationError),
        (409, "api_error", PaymentProviderError),
    ],
)
def test_http_errors_map_through_the_table(
    stripe_gateway: StripePaymentGateway,
    stripe_client: stripe.StripeClient,
    status: int,
    kind: str,
    expected: type[PaymentProviderError],
) -> None:
    """Each Stripe error answer becomes its library error, chained to the SDK's error."""
    _fail_next(stripe_client, status, kind)
    with pytest.raises(PaymentProviderError) as raised:
        stripe_gateway.create_customer(org="org_1", idempotency_key=f"cus:err:{status}:{kind}")
    assert expected is type(raised.value)
    assert isinstance(raised.value.__cause__, stripe.StripeError)


def test_a_bad_api_key_is_a_configuration_error(stripe_api_base: str) -> None:
    """The server refuses a key that is not a secret key: PaymentConfigurationError."""
    gateway = StripePaymentGateway(make_client(stripe_api_base, api_key="pk_test_wrong"))
    with pytest.raises(PaymentConfigurationError):
        gateway.retrieve_subscription("sub_1")


def test_an_unreachable_server_is_unavailable() -> None:
    """Nothing listening on the port: a retryable PaymentProviderUnavailableError."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    gateway = StripePaymentGateway(make_client(f"http://127.0.0.1:{port}"))
    with pytest.raises(PaymentProviderUnavailableError) as raised:
        gateway.list_refunds("ch_1")
    assert isinstance(raised.value.__cause__, stripe.APIConnectionError)


def test_a_reused_key_is_refused_as_stripe_refuses_it(
    stripe_gateway: StripePaymentGateway, stripe_provider: StripeProviderSetup
) -> None:
    """Another amount under a used key is Stripe's ``idempotency_error``, naming the key."""
    intent, _charge = stripe_provider.paid_payment(4_900)
    stripe_gateway.create_refund(
        payment_intent=intent, amount_cents=100, reason=None, idempotency_key="re:reuse"
    )
    with pytest.raises(PaymentRequestError) as raised:
        stripe_gateway.create_refund(
            payment_intent=intent, amount_cents=200, reason=None, idempotency_key="re:reuse"
        )
    assert isinstance(raised.value.__cause__, stripe.IdempotencyError)
    assert "idempotency_key" == raised.value.param


def test_the_server_marks_a_replayed_answer(stripe_client: stripe.StripeClient) -> None:
    """The second request under a key gets the stored body and ``Idempotent-Replayed``."""
    options: stripe.RequestOptions = {"idempotency_key": "cus:replay-header"}
    first = stripe_client.raw_request("post", "/v1/customers", description="a", **options)
    again = stripe_client.raw_request("post", "/v1/customers", description="a", **options)
    assert (200, 200) == (first.code, again.code)
    assert first.body == again.body
    assert "true" == again.headers.get("Idempotent-Replayed")
    assert first.headers.get("Idempotent-Replayed") is None
