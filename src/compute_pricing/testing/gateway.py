"""Contract suite of the ``PaymentGateway`` port, run against every gateway adapter.

Subclass :class:`PaymentGatewayContract` and provide two fixtures: ``gateway`` (the adapter
under test) and ``provider`` (a :class:`ProviderSetup` that creates, on the same provider, what
a gateway only reads: prices, paid payments, subscriptions)::

    class TestMyGateway(PaymentGatewayContract):
        @pytest.fixture
        def gateway(self) -> PaymentGateway: ...

        @pytest.fixture
        def provider(self) -> ProviderSetup: ...

:class:`FakeProviderSetup` is the provider of the shipped
:class:`~compute_pricing.fake_gateway.FakePaymentGateway`.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime
from typing import Protocol

import pytest

from compute_pricing.errors import PaymentRequestError
from compute_pricing.fake_gateway import FakePaymentGateway
from compute_pricing.payments import CheckoutRequest, SubscriptionInfo
from compute_pricing.ports import PaymentGateway

__all__ = ["FakeProviderSetup", "PaymentGatewayContract", "ProviderSetup", "checkout_request"]


class ProviderSetup(Protocol):
    """Creates provider-side objects the gateway port only reads."""

    def one_time_price(self, amount_cents: int) -> str:
        """A one-time price id (an extras pack)."""
        ...

    def recurring_price(self, amount_cents: int, plan_id: str) -> str:
        """A monthly price id whose ``metadata.plan_id`` is ``plan_id``."""
        ...

    def paid_payment(self, amount_cents: int) -> tuple[str, str]:
        """A succeeded payment of ``amount_cents``: ``(payment_intent, charge_id)``."""
        ...

    def subscription(self, customer_id: str, price_id: str) -> str:
        """An active subscription of ``customer_id`` to ``price_id``; its id."""
        ...


class FakeProviderSetup:
    """:class:`ProviderSetup` of a :class:`FakePaymentGateway`: registers what it is told."""

    def __init__(self, fake: FakePaymentGateway, start: datetime) -> None:
        self.fake = fake
        self.start = start
        self._ids = itertools.count(1)
        self._plans: dict[str, str] = {}

    def one_time_price(self, amount_cents: int) -> str:
        """A price id (the fake does not check prices)."""
        return f"price_once_{next(self._ids)}"

    def recurring_price(self, amount_cents: int, plan_id: str) -> str:
        """A price id remembered with its plan id."""
        price_id = f"price_month_{next(self._ids)}"
        self._plans[price_id] = plan_id
        return price_id

    def paid_payment(self, amount_cents: int) -> tuple[str, str]:
        """Tell the fake of a payment."""
        payment = self.fake.add_payment(f"pi_paid_{next(self._ids)}", amount_cents)
        return payment.payment_intent, payment.charge_id

    def subscription(self, customer_id: str, price_id: str) -> str:
        """Register an active subscription starting at ``start``."""
        subscription_id = f"sub_{next(self._ids)}"
        plan_ids = {price_id: self._plans[price_id]} if price_id in self._plans else {}
        self.fake.add_subscription(
            SubscriptionInfo(
                subscription_id=subscription_id,
                customer_id=customer_id,
                status="active",
                price_ids=(price_id,),
                price_plan_ids=plan_ids,
                current_period_start=self.start,
            )
        )
        return subscription_id


def checkout_request(
    customer_id: str, price_id: str, *, mode: str = "payment", org: str = "org_1"
) -> CheckoutRequest:
    """A checkout request as the library builds one (extras metadata for payments)."""
    metadata = {"organization_id": org}
    if mode == "payment":
        metadata |= {"pack_id": "pack", "kind": "extras"}
    return CheckoutRequest(
        mode=mode,
        customer_id=customer_id,
        price_id=price_id,
        success_url="https://app.example.com/billing/ok",
        cancel_url="https://app.example.com/billing/cancel",
        client_reference_id=org,
        metadata=metadata,
        payment_intent_metadata=metadata if mode == "payment" else None,
    )


def _key(name: str) -> str:
    """A key unique to this run, so suites can share one provider account."""
    return f"{name}:{uuid.uuid4().hex}"


class PaymentGatewayContract:
    """What every ``PaymentGateway`` must do; see the module docstring for the fixtures."""

    @pytest.fixture
    def gateway(self) -> PaymentGateway:
        """The adapter under test."""
        raise NotImplementedError

    @pytest.fixture
    def provider(self) -> ProviderSetup:
        """Creates prices, payments and subscriptions on the adapter's provider."""
        raise NotImplementedError

    # -- customers -------------------------------------------------------------------------

    def test_create_customer_returns_a_customer_id(self, gateway: PaymentGateway) -> None:
        """A new customer has a ``cus_`` id; two keys make two customers."""
        first = gateway.create_customer(org="org_1", idempotency_key=_key("cus"))
        second = gateway.create_customer(org="org_1", idempotency_key=_key("cus"))
        assert first.startswith("cus_")
        assert first != second

    def test_create_customer_replays_by_key(self, gateway: PaymentGateway) -> None:
        """The same key and org answer the first customer."""
        key = _key("cus")
        first = gateway.create_customer(org="org_1", idempotency_key=key)
        assert first == gateway.create_customer(org="org_1", idempotency_key=key)

    def test_create_customer_key_reused_for_another_org_is_refused(
        self, gateway: PaymentGateway
    ) -> None:
        """The same key with another org is a PaymentRequestError."""
        key = _key("cus")
        gateway.create_customer(org="org_1", idempotency_key=key)
        with pytest.raises(PaymentRequestError):
            gateway.create_customer(org="org_2", idempotency_key=key)

    # -- checkout --------------------------------------------------------------------------

    def test_payment_checkout_returns_a_session_and_replays(
        self, gateway: PaymentGateway, provider: ProviderSetup
    ) -> None:
        """An extras checkout has a ``cs_`` id and an https URL; its key replays it."""
        customer = gateway.create_customer(org="org_1", idempotency_key=_key("cus"))
        request = checkout_request(customer, provider.one_time_price(4_900))
        key = _key("extras")
        session = gateway.create_checkout_session(request, idempotency_key=key)
        assert session.session_id.startswith("cs_")
        assert session.url.startswith("https://")
        assert session == gateway.create_checkout_session(request, idempotency_key=key)

    def test_subscription_checkout_returns_a_session(
        self, gateway: PaymentGateway, provider: ProviderSetup
    ) -> None:
        """A subscription checkout on a recurring price has its own session."""
        customer = gateway.create_customer(org="org_1", idempotency_key=_key("cus"))
        price = provider.recurring_price(4_900, "team")
        request = checkout_request(customer, price, mode="subscription")
        session = gateway.create_checkout_session(request, idempotency_key=_key("sub"))
        assert session.session_id.startswith("cs_")

    def test_checkout_key_reused_with_another_request_is_refused(
        self, gateway: PaymentGateway, provider: ProviderSetup
    ) -> None:
        """The same key with another price is a PaymentRequestError."""
        customer = gateway.create_customer(org="org_1", idempotency_key=_key("cus"))
        key = _key("extras")
        first = checkout_request(customer, provider.one_time_price(900))
        gateway.create_checkout_session(first, idempotency_key=key)
        other = checkout_request(customer, provider.one_time_price(1_900))
        with pytest.raises(PaymentRequestError):
            gateway.create_checkout_session(other, idempotency_key=key)

    def test_checkout_for_an_unknown_customer_is_refused(
        self, gateway: PaymentGateway, provider: ProviderSetup
    ) -> None:
        """A customer the provider does not know is refused, naming ``customer``."""
        request = checkout_request("cus_unknown", provider.one_time_price(900))
        with pytest.raises(PaymentRequestError) as raised:
            gateway.create_checkout_session(request, idempotency_key=_key("extras"))
        assert "customer" == raised.value.param

    # -- refunds ---------------------------------------------------------------------------

    def test_partial_refund_is_reported_and_replayed_once(
        self, gateway: PaymentGateway, provider: ProviderSetup
    ) -> None:
        """The same refund key twice creates one refund of the asked amount."""
        intent, charge = provider.paid_payment(4_900)
        key = _key("refund")
        first = gateway.create_refund(
            payment_intent=intent, amount_cents=1_000, reason=None, idempotency_key=key
        )
        again = gateway.create_refund(
            payment_intent=intent, amount_cents=1_000, reason=None, idempotency_key=key
        )
        assert first == again
        assert (1_000, "succeeded", intent, charge) == (
            first.amount_cents,
            first.status,
            first.payment_intent,
            first.charge_id,
        )
        assert first.refund_id.startswith("re_")
        assert [first.refund_id] == [r.refund_id for r in gateway.list_refunds(charge)]

    def test_refund_key_reused_with_another_amount_is_refused(
        self, gateway: PaymentGateway, provider: ProviderSetup
    ) -> None:
        """The same key with another amount is a PaymentRequestError and refunds nothing."""
        intent, charge = provider.paid_payment(4_900)
        key = _key("refund")
        gateway.create_refund(
            payment_intent=intent, amount_cents=1_000, reason=None, idempotency_key=key
        )
        with pytest.raises(PaymentRequestError):
            gateway.create_refund(
                payment_intent=intent, amount_cents=2_000, reason=None, idempotency_key=key
            )
        assert [1_000] == [r.amount_cents for r in gateway.list_refunds(charge)]

    def test_two_refunds_of_one_amount_are_two_refunds(
        self, gateway: PaymentGateway, provider: ProviderSetup
    ) -> None:
        """Two keys refunding the same amount make two refunds, listed newest first."""
        intent, charge = provider.paid_payment(4_900)
        made = [
            gateway.create_refund(
                payment_intent=intent,
                amount_cents=500,
                reason="requested_by_customer",
                idempotency_key=_key("refund"),
            )
            for _ in range(2)
        ]
        assert made[0].refund_id != made[1].refund_id
        listed = gateway.list_refunds(charge)
        assert {r.refund_id for r in made} == {r.refund_id for r in listed}
        assert [500, 500] == [r.amount_cents for r in listed]

    def test_full_refund_takes_what_is_left(
        self, gateway: PaymentGateway, provider: ProviderSetup
    ) -> None:
        """``amount_cents=None`` refunds exactly what earlier refunds left."""
        intent, _charge = provider.paid_payment(4_900)
        gateway.create_refund(
            payment_intent=intent, amount_cents=900, reason=None, idempotency_key=_key("r")
        )
        rest = gateway.create_refund(
            payment_intent=intent, amount_cents=None, reason=None, idempotency_key=_key("r")
        )
        assert 4_000 == rest.amount_cents

    def test_refund_beyond_what_was_paid_is_refused(
        self, gateway: PaymentGateway, provider: ProviderSetup
    ) -> None:
        """More than what is left is refused, naming ``amount``, and refunds nothing."""
        intent, charge = provider.paid_payment(4_900)
        gateway.create_refund(
            payment_intent=intent, amount_cents=4_000, reason=None, idempotency_key=_key("r")
        )
        with pytest.raises(PaymentRequestError) as raised:
            gateway.create_refund(
                payment_intent=intent, amount_cents=901, reason=None, idempotency_key=_key("r")
            )
        assert "amount" == raised.value.param
        assert [4_000] == [r.amount_cents for r in gateway.list_refunds(charge)]

    def test_refund_of_a_fully_refunded_payment_is_refused(
        self, gateway: PaymentGateway, provider: ProviderSetup
    ) -> None:
        """Nothing is left after a full refund: another one is refused."""
        intent, _charge = provider.paid_payment(900)
        gateway.create_refund(
            payment_intent=intent, amount_cents=None, reason=None, idempotency_key=_key("r")
        )
        with pytest.raises(PaymentRequestError):
            gateway.create_refund(
                payment_intent=intent, amount_cents=None, reason=None, idempotency_key=_key("r")
            )

    def test_refund_of_an_unknown_payment_is_refused(self, gateway: PaymentGateway) -> None:
        """An unknown payment intent is refused, naming ``payment_intent``."""
        with pytest.raises(PaymentRequestError) as raised:
            gateway.create_refund(
                payment_intent="pi_unknown",
                amount_cents=100,
                reason=None,
                idempotency_key=_key("r"),
            )
        assert "payment_intent" == raised.value.param

    def test_refund_with_an_unknown_reason_is_refused(
        self, gateway: PaymentGateway, provider: ProviderSetup
    ) -> None:
        """Only Stripe's refund reasons are accepted."""
        intent, _charge = provider.paid_payment(900)
        with pytest.raises(PaymentRequestError) as raised:
            gateway.create_refund(
                payment_intent=intent, amount_cents=100, reason="bored", idempotency_key=_key("r")
            )
        assert "reason" == raised.value.param

    def test_listing_refunds_of_an_unknown_charge_is_refused(self, gateway: PaymentGateway) -> None:
        """An unknown charge is a PaymentRequestError, not an empty list."""
        with pytest.raises(PaymentRequestError):
            gateway.list_refunds("ch_unknown")

    # -- subscriptions ---------------------------------------------------------------------

    def test_retrieve_subscription_reports_prices_and_plan_ids(
        self, gateway: PaymentGateway, provider: ProviderSetup
    ) -> None:
        """A subscription answers its customer, status, prices, plan ids and period start."""
        customer = gateway.create_customer(org="org_1", idempotency_key=_key("cus"))
        price = provider.recurring_price(4_900, "team")
        subscription_id = provider.subscription(customer, price)
        info = gateway.retrieve_subscription(subscription_id)
        assert (subscription_id, customer, "active") == (
            info.subscription_id,
            info.customer_id,
            info.status,
        )
        assert ((price,), {price: "team"}) == (info.price_ids, dict(info.price_plan_ids))
        assert info.current_period_start is not None
        assert info.current_period_start.utcoffset() is not None
        assert info.cancel_at is None
        assert not info.cancel_at_period_end

    def test_retrieve_an_unknown_subscription_is_refused(self, gateway: PaymentGateway) -> None:
        """An unknown subscription id is a PaymentRequestError."""
        with pytest.raises(PaymentRequestError):
            gateway.retrieve_subscription("sub_unknown")
