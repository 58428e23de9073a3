"""Outbound Stripe use cases: checkout sessions for subscriptions and packs, and refunds.

Every call to the :class:`~compute_pricing.ports.PaymentGateway` carries an idempotency key
derived from what is asked, so a retried request creates nothing new:

- customer ``cus_create_<org>_<generation>`` (a customer created after a deletion is a new one),
  linked on the account by its own command;
- refund ``refund_<payment_intent>_<amount_cents or "full">``;
- the two checkouts take :func:`~compute_pricing.keys.provider_key` of their identities (a
  fixed-length digest: an org or pack id with ``_`` cannot spell another one's key, and a
  200-character intent id still fits Stripe's 255 characters): subscription checkout
  ``sub_checkout`` (org, price, customer generation, subscription watermark; the watermark moves
  with every subscription event, so a checkout after a subscription ended opens a new session
  instead of replaying the old one within Stripe's 24-hour key window, while a retry on an
  unchanged account replays) and extras checkout ``extras_checkout`` (org, pack, intent id or
  UTC minute bucket).

The customer and refund forms are unambiguous as they stand (the last part has no ``_``) and
fit Stripe's limit, so they keep their spelling: a refund retried across an upgrade must not
become a second refund.

Checkouts are refused while payment is degraded (past due beyond the grace period), a second
subscription checkout while one is live is a conflict, and redirect URLs must be https (http
only when the config allows it) on a host of ``allowed_redirect_hosts``. A refund changes no
ledger here: the units come back when the refund's webhook arrives.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import attrs

from compute_pricing import provider_commands as pc
from compute_pricing.accounts import AccountService
from compute_pricing.config import BillingConfig
from compute_pricing.errors import (
    CheckoutConflictError,
    InvalidInputError,
    PaymentConfigurationError,
    PaymentPastDueError,
    RedirectNotAllowedError,
    UnknownPackError,
)
from compute_pricing.keys import provider_key
from compute_pricing.payments import CheckoutRequest
from compute_pricing.ports import PaymentGateway
from compute_pricing.rules.gate import dunning_stage
from compute_pricing.state import Account, Subscription
from compute_pricing.subscriptions import plan_for_price
from compute_pricing.validation import require_org, require_units, validate_ref

__all__ = ["CheckoutLink", "CheckoutService", "RefundRequested", "check_redirect"]

#: Subscription statuses during which a second subscription checkout is refused.
LIVE_STATUSES = frozenset({"active", "trialing", "past_due", "unpaid", "paused", "incomplete"})


@attrs.frozen
class CheckoutLink:
    """A created Checkout Session: where to send the customer."""

    session_id: str
    url: str

    def to_dict(self) -> dict[str, Any]:
        """Plain data: ``{"session_id", "url"}``."""
        return {"session_id": self.session_id, "url": self.url}


@attrs.frozen
class RefundRequested:
    """A refund asked of Stripe; the ledger follows when its webhook arrives."""

    refund_id: str
    amount_cents: int
    status: str

    def to_dict(self) -> dict[str, Any]:
        """Plain data: ``{"refund_id", "amount_cents", "status"}``."""
        return {
            "refund_id": self.refund_id,
            "amount_cents": self.amount_cents,
            "status": self.status,
        }


def check_redirect(config: BillingConfig, field: str, url: object) -> str:
    """``url`` if it may be a checkout redirect, else :class:`RedirectNotAllowedError`."""
    if not isinstance(url, str) or not url:
        raise RedirectNotAllowedError(field, url, "must be an absolute URL")
    parts = urlsplit(url)
    schemes = {"https", "http"} if config.allow_http_redirects else {"https"}
    if parts.scheme not in schemes:
        raise RedirectNotAllowedError(field, url, f"scheme must be one of {sorted(schemes)}")
    host = (parts.hostname or "").lower()
    if host not in {allowed.lower() for allowed in config.allowed_redirect_hosts}:
        raise RedirectNotAllowedError(field, url, "host is not in allowed_redirect_hosts")
    return url


class CheckoutService:
    """Checkout sessions, customers and refunds through the payment gateway."""

    def __init__(
        self, accounts: AccountService, gateway: Callable[[], PaymentGateway | None]
    ) -> None:
        self._accounts = accounts
        self._gateway = gateway

    def _gateway_or_fail(self) -> PaymentGateway:
        gateway = self._gateway()
        if gateway is None:
            raise PaymentConfigurationError("no payment gateway is configured")
        return gateway

    def _refuse_if_degraded(self, state: Account) -> None:
        config = self._accounts.config
        now = self._accounts.clock.now()
        if dunning_stage(state.subscription, now, config.grace_days) == "degraded":
            raise PaymentPastDueError(
                state.org,
                past_due_since=state.subscription.past_due_since,
                grace_days=config.grace_days,
            )

    def ensure_customer(self, org: str) -> str:
        """The org's Stripe customer id, created once per customer generation and linked."""
        org = require_org(org)
        state, _ = self._accounts.load(org)
        sub = state.subscription
        if sub.customer_id is not None:
            return sub.customer_id
        generation = sub.customer_generation
        customer_id = self._gateway_or_fail().create_customer(
            org=org, idempotency_key=f"cus_create_{org}_{generation}"
        )
        done = self._accounts.execute(
            org, pc.LinkCustomer(customer_id=customer_id, generation=generation)
        )
        linked = done.outcome.get("customer_id")
        return str(linked) if linked else customer_id

    def _redirects(self, success_url: str, cancel_url: str) -> tuple[str, str]:
        config = self._accounts.config
        return (
            check_redirect(config, "success_url", success_url),
            check_redirect(config, "cancel_url", cancel_url),
        )

    def create_subscription_checkout(
        self, org: str, price_id: str, success_url: str, cancel_url: str
    ) -> CheckoutLink:
        """A subscription Checkout Session for a configured plan price."""
        org = require_org(org)
        price = validate_ref("price_id", price_id)
        config = self._accounts.config
        if plan_for_price(config, price) is None:
            raise InvalidInputError("price_id", price, "is not the Stripe price of any plan")
        success, cancel = self._redirects(success_url, cancel_url)
        state, _ = self._accounts.load(org)
        self._refuse_if_degraded(state)
        sub = state.subscription
        if sub.subscription_id is not None and sub.status in LIVE_STATUSES:
            raise CheckoutConflictError(org, sub.status)
        request = CheckoutRequest(
            mode="subscription",
            customer_id=self.ensure_customer(org),
            price_id=price,
            success_url=success,
            cancel_url=cancel,
            client_reference_id=org,
            metadata={"organization_id": org, "kind": "subscription"},
            automatic_tax=config.stripe.automatic_tax,
        )
        session = self._gateway_or_fail().create_checkout_session(
            request,
            idempotency_key=provider_key(
                "sub_checkout",
                org,
                price,
                str(sub.customer_generation),
                _subscription_generation(sub),
            ),
        )
        return CheckoutLink(session.session_id, session.url)

    def create_extras_checkout(
        self,
        org: str,
        pack_id: str,
        success_url: str,
        cancel_url: str,
        intent_id: str | None = None,
    ) -> CheckoutLink:
        """A one-off payment Checkout Session for an extras pack."""
        org = require_org(org)
        config = self._accounts.config
        pack = config.pack(pack_id) if isinstance(pack_id, str) else None
        if pack is None:
            raise UnknownPackError(str(pack_id))
        if pack.stripe_price is None:
            raise PaymentConfigurationError(f"pack {pack.pack_id!r} has no stripe_price")
        intent = None if intent_id is None else validate_ref("intent_id", intent_id)
        success, cancel = self._redirects(success_url, cancel_url)
        state, _ = self._accounts.load(org)
        self._refuse_if_degraded(state)
        metadata = {"organization_id": org, "pack_id": pack.pack_id, "kind": "extras"}
        request = CheckoutRequest(
            mode="payment",
            customer_id=self.ensure_customer(org),
            price_id=pack.stripe_price,
            success_url=success,
            cancel_url=cancel,
            client_reference_id=org,
            metadata=metadata,
            payment_intent_metadata=dict(metadata),
            automatic_tax=config.stripe.automatic_tax,
        )
        bucket = intent or str(int(self._accounts.clock.now().timestamp()) // 60)
        session = self._gateway_or_fail().create_checkout_session(
            request, idempotency_key=provider_key("extras_checkout", org, pack.pack_id, bucket)
        )
        return CheckoutLink(session.session_id, session.url)

    def refund(
        self, payment_intent: str, amount_cents: int | None = None, reason: str | None = None
    ) -> RefundRequested:
        """Ask Stripe to refund ``amount_cents`` (all when ``None``) of ``payment_intent``."""
        intent = validate_ref("payment_intent", payment_intent)
        amount = None if amount_cents is None else require_units("amount_cents", amount_cents)
        if reason is not None and not isinstance(reason, str):
            raise InvalidInputError("reason", reason, "must be a string")
        refund = self._gateway_or_fail().create_refund(
            payment_intent=intent,
            amount_cents=amount,
            reason=reason,
            idempotency_key=f"refund_{intent}_{'full' if amount is None else amount}",
        )
        return RefundRequested(refund.refund_id, refund.amount_cents, refund.status)


def _subscription_generation(sub: Subscription) -> str:
    """The subscription watermark as text (empty before the first subscription event)."""
    mark = sub.subscription_mark
    return "" if mark is None else f"{mark.created.isoformat()}/{mark.event_id}"
