"""``FakePaymentGateway``: an in-memory payment provider that answers like Stripe.

It is the gateway of ``Billing.in_memory`` and of tests that must see what the library asked
the provider to do. It keeps Stripe's rules that matter to callers:

- ids are deterministic (``cus_1``, ``cs_1``, ``re_1``... in creation order);
- a call repeated with the same idempotency key and the same parameters returns the first
  result and creates nothing; the same key with other parameters (or on another operation)
  raises :class:`~compute_pricing.errors.PaymentRequestError`;
- a refund needs a payment the fake was told about (:meth:`FakePaymentGateway.add_payment`) and
  can never exceed what is left of it; unknown customers, subscriptions and charges are refused;
- :meth:`FakePaymentGateway.fail_next` makes the next calls fail with
  :class:`~compute_pricing.errors.PaymentProviderUnavailableError`, for retry tests.

Every call, replayed or refused ones included, is recorded in :attr:`FakePaymentGateway.calls`.
"""

from __future__ import annotations

import itertools
import threading
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeVar

import attrs

from compute_pricing.errors import (
    PaymentProviderError,
    PaymentProviderUnavailableError,
    PaymentRequestError,
)
from compute_pricing.payments import CheckoutRequest, CheckoutSession, RefundInfo, SubscriptionInfo

__all__ = ["FakePaymentGateway", "GatewayCall", "RecordedPayment"]

#: Checkout modes Stripe accepts for the sessions this library creates.
CHECKOUT_MODES = frozenset({"payment", "subscription"})
#: Refund reasons Stripe accepts.
REFUND_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer"})
#: Where the fake's checkout URLs point (never fetched).
CHECKOUT_URL = "https://checkout.stripe.test/c/pay/"

_T = TypeVar("_T")


@attrs.frozen(kw_only=True)
class GatewayCall:
    """One call the fake received: the port method, its idempotency key and its parameters."""

    method: str
    params: Mapping[str, Any]
    idempotency_key: str | None = None


@attrs.frozen(kw_only=True)
class RecordedPayment:
    """A payment the fake knows: its intent, charge and the cents paid."""

    payment_intent: str
    charge_id: str
    amount_cents: int


@attrs.frozen
class _Stored:
    method: str
    params: Mapping[str, Any]
    result: Any


class FakePaymentGateway:
    """In-memory, thread-safe ``PaymentGateway`` with Stripe's idempotency and refund rules."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: defaultdict[str, Iterator[int]] = defaultdict(lambda: itertools.count(1))
        self._keys: dict[str, _Stored] = {}
        self._failures: list[PaymentProviderError] = []
        self.calls: list[GatewayCall] = []
        self.customers: dict[str, str] = {}
        """Customer id -> the org it was created for."""
        self.sessions: dict[str, CheckoutRequest] = {}
        """Checkout Session id -> the request that created it."""
        self.payments: dict[str, RecordedPayment] = {}
        """Payment intent -> the payment (see :meth:`add_payment`)."""
        self.refunds: dict[str, RefundInfo] = {}
        """Refund id -> the refund, in creation order."""
        self.subscriptions: dict[str, SubscriptionInfo] = {}
        """Subscription id -> what :meth:`retrieve_subscription` answers."""

    # -- set-up and inspection -------------------------------------------------------------

    def add_payment(
        self, payment_intent: str, amount_cents: int, *, charge_id: str | None = None
    ) -> RecordedPayment:
        """Record that ``payment_intent`` paid ``amount_cents`` (charge ``ch_<n>`` by default)."""
        if amount_cents <= 0:
            raise ValueError(f"amount_cents must be positive, got {amount_cents}")
        with self._lock:
            payment = RecordedPayment(
                payment_intent=payment_intent,
                charge_id=charge_id or self._new_id("ch"),
                amount_cents=amount_cents,
            )
            self.payments[payment_intent] = payment
            return payment

    def add_subscription(self, subscription: SubscriptionInfo) -> None:
        """Make :meth:`retrieve_subscription` answer ``subscription`` (replacing any earlier)."""
        with self._lock:
            self.subscriptions[subscription.subscription_id] = subscription

    def fail_next(self, times: int = 1, error: PaymentProviderError | None = None) -> None:
        """Make the next ``times`` calls raise ``error`` (a provider outage by default).

        A failed call is recorded but changes nothing, like a request that never reached the
        provider, so a retry with the same idempotency key succeeds normally.
        """
        with self._lock:
            for _ in range(times):
                self._failures.append(
                    error or PaymentProviderUnavailableError("payment provider unavailable")
                )

    def calls_to(self, method: str) -> list[GatewayCall]:
        """The recorded calls of one port method, oldest first."""
        with self._lock:
            return [call for call in self.calls if call.method == method]

    def refunded_cents(self, payment_intent: str) -> int:
        """Cents refunded so far on ``payment_intent``."""
        with self._lock:
            return self._refunded(payment_intent)

    # -- PaymentGateway --------------------------------------------------------------------

    def create_customer(self, *, org: str, idempotency_key: str) -> str:
        """Create a customer for ``org``; return ``cus_<n>``."""
        params = {"org": org}
        with self._lock:
            replayed = self._begin("create_customer", params, idempotency_key)
            if replayed is not None:
                result: str = replayed.result
                return result
            customer_id = self._new_id("cus")
            self.customers[customer_id] = org
            return self._store("create_customer", params, idempotency_key, customer_id)

    def create_checkout_session(
        self, request: CheckoutRequest, *, idempotency_key: str
    ) -> CheckoutSession:
        """Create a Checkout Session ``cs_<n>`` for a known customer."""
        params = attrs.asdict(request)
        with self._lock:
            replayed = self._begin("create_checkout_session", params, idempotency_key)
            if replayed is not None:
                session: CheckoutSession = replayed.result
                return session
            if request.mode not in CHECKOUT_MODES:
                raise PaymentRequestError(f"Invalid mode: {request.mode!r}", param="mode")
            if request.customer_id not in self.customers:
                raise PaymentRequestError(
                    f"No such customer: {request.customer_id!r}", param="customer"
                )
            if not request.price_id:
                raise PaymentRequestError("A price is required", param="line_items[0][price]")
            session_id = self._new_id("cs")
            self.sessions[session_id] = request
            session = CheckoutSession(session_id=session_id, url=CHECKOUT_URL + session_id)
            return self._store("create_checkout_session", params, idempotency_key, session)

    def create_refund(
        self,
        *,
        payment_intent: str,
        amount_cents: int | None,
        reason: str | None,
        idempotency_key: str,
    ) -> RefundInfo:
        """Refund ``amount_cents`` (what is left when ``None``) of a known payment."""
        params = {"payment_intent": payment_intent, "amount_cents": amount_cents, "reason": reason}
        with self._lock:
            replayed = self._begin("create_refund", params, idempotency_key)
            if replayed is not None:
                stored: RefundInfo = replayed.result
                return stored
            payment = self.payments.get(payment_intent)
            if payment is None:
                raise PaymentRequestError(
                    f"No such payment_intent: {payment_intent!r}", param="payment_intent"
                )
            if reason is not None and reason not in REFUND_REASONS:
                raise PaymentRequestError(f"Invalid reason: {reason!r}", param="reason")
            left = payment.amount_cents - self._refunded(payment_intent)
            if left <= 0:
                raise PaymentRequestError(
                    f"Charge {payment.charge_id} has already been refunded.", param="charge"
                )
            amount = left if amount_cents is None else amount_cents
            if amount <= 0:
                raise PaymentRequestError("Refund amount must be positive", param="amount")
            if amount > left:
                raise PaymentRequestError(
                    f"Refund amount ({amount}) is greater than unrefunded amount on charge "
                    f"({left})",
                    param="amount",
                )
            refund = RefundInfo(
                refund_id=self._new_id("re"),
                amount_cents=amount,
                status="succeeded",
                payment_intent=payment_intent,
                charge_id=payment.charge_id,
            )
            self.refunds[refund.refund_id] = refund
            return self._store("create_refund", params, idempotency_key, refund)

    def retrieve_subscription(self, subscription_id: str) -> SubscriptionInfo:
        """The subscription registered with :meth:`add_subscription`."""
        with self._lock:
            self._begin("retrieve_subscription", {"subscription_id": subscription_id}, None)
            subscription = self.subscriptions.get(subscription_id)
            if subscription is None:
                raise PaymentRequestError(f"No such subscription: {subscription_id!r}", param="id")
            return subscription

    def list_refunds(self, charge_id: str) -> Sequence[RefundInfo]:
        """Every refund of ``charge_id``, newest first (Stripe's list order)."""
        with self._lock:
            self._begin("list_refunds", {"charge_id": charge_id}, None)
            if not any(p.charge_id == charge_id for p in self.payments.values()):
                raise PaymentRequestError(f"No such charge: {charge_id!r}", param="charge")
            found = [r for r in self.refunds.values() if r.charge_id == charge_id]
            return found[::-1]

    # -- internals (called under the lock) -------------------------------------------------

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._counters[prefix])}"

    def _refunded(self, payment_intent: str) -> int:
        return sum(
            r.amount_cents for r in self.refunds.values() if r.payment_intent == payment_intent
        )

    def _begin(
        self, method: str, params: Mapping[str, Any], idempotency_key: str | None
    ) -> _Stored | None:
        """Record the call, raise a scheduled failure, and answer a replay of ``key``."""
        self.calls.append(
            GatewayCall(method=method, params=params, idempotency_key=idempotency_key)
        )
        if self._failures:
            raise self._failures.pop(0)
        if idempotency_key is None:
            return None
        stored = self._keys.get(idempotency_key)
        if stored is None:
            return None
        if stored.method != method or stored.params != params:
            raise PaymentRequestError(
                "Keys for idempotent requests can only be used with the same parameters they "
                f"were first used with: {idempotency_key!r}",
                param="idempotency_key",
            )
        return stored

    def _store(self, method: str, params: Mapping[str, Any], key: str, result: _T) -> _T:
        self._keys[key] = _Stored(method, params, result)
        return result
