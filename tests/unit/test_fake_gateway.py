"""FakePaymentGateway: the fake-only knobs (recording, scheduled failures) and Billing wiring."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from compute_pricing import Billing, FakePaymentGateway
from compute_pricing.errors import (
    PaymentConfigurationError,
    PaymentProviderUnavailableError,
    PaymentRequestError,
)
from compute_pricing.fake_gateway import GatewayCall
from compute_pricing.payments import CheckoutRequest


def _request(customer_id: str, mode: str = "payment") -> CheckoutRequest:
    return CheckoutRequest(
        mode=mode,
        customer_id=customer_id,
        price_id="price_pack",
        success_url="https://app.test/ok",
        cancel_url="https://app.test/cancel",
        client_reference_id="org_1",
        metadata={"organization_id": "org_1"},
    )


def test_billing_in_memory_uses_a_fake_gateway() -> None:
    """``Billing.in_memory`` wires a fresh FakePaymentGateway; an explicit one is kept."""
    assert isinstance(Billing.in_memory().gateway, FakePaymentGateway)
    mine = FakePaymentGateway()
    assert mine is Billing.in_memory(gateway=mine).gateway
    assert Billing.in_memory().gateway is not Billing.in_memory().gateway


def test_ids_are_deterministic_per_prefix() -> None:
    """Two fakes driven the same way hand out the same ids, counted per prefix."""
    ids = []
    for _ in range(2):
        fake = FakePaymentGateway()
        customer = fake.create_customer(org="org_1", idempotency_key="k1")
        session = fake.create_checkout_session(_request(customer), idempotency_key="k2")
        ids.append((customer, session.session_id, session.url))
    assert ("cus_1", "cs_1", "https://checkout.stripe.test/c/pay/cs_1") == ids[0]
    assert ids[0] == ids[1]


def test_every_call_is_recorded_replays_included() -> None:
    """Calls are recorded in order with their key and parameters, a replay too."""
    fake = FakePaymentGateway()
    fake.create_customer(org="org_1", idempotency_key="k1")
    fake.create_customer(org="org_1", idempotency_key="k1")
    expected = GatewayCall(method="create_customer", params={"org": "org_1"}, idempotency_key="k1")
    assert [expected, expected] == fake.calls
    assert [expected, expected] == fake.calls_to("create_customer")
    assert {"cus_1": "org_1"} == fake.customers


def test_fail_next_fails_then_a_retry_with_the_same_key_succeeds() -> None:
    """A scheduled outage raises 503-class errors, creates nothing, and a retry works."""
    fake = FakePaymentGateway()
    fake.add_payment("pi_1", 900, charge_id="ch_1")
    fake.fail_next(2)
    for _ in range(2):
        with pytest.raises(PaymentProviderUnavailableError):
            fake.create_refund(
                payment_intent="pi_1", amount_cents=100, reason=None, idempotency_key="r"
            )
    assert {} == fake.refunds
    refund = fake.create_refund(
        payment_intent="pi_1", amount_cents=100, reason=None, idempotency_key="r"
    )
    assert "re_1" == refund.refund_id
    assert 100 == fake.refunded_cents("pi_1")
    assert 3 == len(fake.calls_to("create_refund"))


def test_fail_next_can_raise_a_chosen_error() -> None:
    """``fail_next(error=...)`` raises that error, on reads too."""
    fake = FakePaymentGateway()
    fake.fail_next(error=PaymentConfigurationError("bad key"))
    with pytest.raises(PaymentConfigurationError):
        fake.retrieve_subscription("sub_1")


def test_add_payment_refuses_a_non_positive_amount() -> None:
    """A payment of zero cents cannot be recorded."""
    with pytest.raises(ValueError, match="amount_cents"):
        FakePaymentGateway().add_payment("pi_1", 0)


def test_add_payment_numbers_its_charge_by_default() -> None:
    """Without a charge id the fake names the charge ``ch_<n>``."""
    assert "ch_1" == FakePaymentGateway().add_payment("pi_1", 500).charge_id


def test_checkout_refuses_an_unknown_mode_and_a_missing_price() -> None:
    """Stripe refuses a mode it does not know and a session without a price, naming the param."""
    fake = FakePaymentGateway()
    customer = fake.create_customer(org="org_1", idempotency_key="c")
    with pytest.raises(PaymentRequestError) as bad_mode:
        fake.create_checkout_session(_request(customer, mode="setup"), idempotency_key="k1")
    assert "mode" == bad_mode.value.param
    request = CheckoutRequest(
        mode="payment",
        customer_id=customer,
        price_id="",
        success_url="https://app.test/ok",
        cancel_url="https://app.test/cancel",
        client_reference_id="org_1",
    )
    with pytest.raises(PaymentRequestError) as no_price:
        fake.create_checkout_session(request, idempotency_key="k2")
    assert "line_items[0][price]" == no_price.value.param
    assert {} == fake.sessions


def test_concurrent_calls_with_one_key_create_one_refund() -> None:
    """Eight threads sending the same refund key get one refund between them."""
    fake = FakePaymentGateway()
    fake.add_payment("pi_1", 4_900)
    barrier = threading.Barrier(8)

    def refund() -> str:
        barrier.wait()
        return fake.create_refund(
            payment_intent="pi_1", amount_cents=1_000, reason=None, idempotency_key="r"
        ).refund_id

    with ThreadPoolExecutor(8) as pool:
        ids = {future.result() for future in [pool.submit(refund) for _ in range(8)]}
    assert {"re_1"} == ids
    assert 1_000 == fake.refunded_cents("pi_1")
