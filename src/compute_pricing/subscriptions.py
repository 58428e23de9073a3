"""What each Stripe fact does to an account, as use cases taking plain values.

The webhook layer parses and verifies a payload, then calls one of these with ids, integer
cents and aware datetimes (``event_created`` is the Stripe event's ``created``). Each is one
idempotent commit through :class:`~compute_pricing.accounts.AccountService` (a webhook change is
keyed by its event id, a refund by its refund id, a lost dispute by its dispute id), or a
published ``*.unresolved`` event when no account can be found, never an error: Stripe would only
retry a fact no retry can resolve. The answer is an :class:`AccountChange` whose ``status`` is
``applied``, ``ignored`` (nothing to do), ``stale`` (older than the family's watermark),
``duplicate`` (applied before), ``unresolved`` or ``skipped`` (an entry without id or amount).

Org resolution: the ``org`` the payload's metadata names, else the org whose account links the
Stripe customer (:meth:`~compute_pricing.ports.AccountStore.org_for_customer`); refunds and
disputes find the org, and the pack, from the payment intent the pack's lot recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import attrs

from compute_pricing import commands as cmd
from compute_pricing import events as ev
from compute_pricing import provider_commands as pc
from compute_pricing.accounts import AccountService, Committed
from compute_pricing.config import BillingConfig
from compute_pricing.errors import (
    ConcurrencyConflictError,
    InvalidInputError,
    PaymentConfigurationError,
    PlanNotConfiguredError,
    UnknownPackError,
    UnknownPlanError,
)
from compute_pricing.journal import JournalEntry
from compute_pricing.payments import SubscriptionInfo
from compute_pricing.plans import Plan
from compute_pricing.ports import PaymentGateway
from compute_pricing.timekeeping import to_utc_ms
from compute_pricing.validation import require_org, validate_ref

__all__ = ["AccountChange", "SubscriptionService", "plan_for_price", "resolve_plan_id"]

#: Attempts at a commit whose restore plan was looked up on a state that moved meanwhile.
_RESTORE_ATTEMPTS = 3


@attrs.frozen
class AccountChange:
    """What a Stripe fact did to an account: ``status`` (see the module docstring) and why."""

    status: str
    org: str | None
    outcome: Mapping[str, Any] = attrs.field(factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain data: ``{"status", "org", "outcome"}``."""
        return {"status": self.status, "org": self.org, "outcome": dict(self.outcome)}


def plan_for_price(config: BillingConfig, price_id: str) -> str | None:
    """The plan a Stripe price bills: the config's price map (monthly and annual prices)."""
    return config.plan_for_price(price_id)


def resolve_plan_id(config: BillingConfig, info: SubscriptionInfo) -> str | None:
    """The configured plan of ``info``: price map first, then a price's ``metadata.plan_id``."""
    configured = {plan.plan_id for plan in config.plans}
    for price_id in info.price_ids:
        plan_id = plan_for_price(config, price_id)
        if plan_id is not None:
            return plan_id
    for price_id in info.price_ids:
        named = info.price_plan_ids.get(price_id)
        if named in configured:
            return named
    return None


def _change(org: str, done: Committed) -> AccountChange:
    outcome = done.outcome
    if done.replayed:
        status = "duplicate"
    elif outcome.get("reason") == "stale":
        status = "stale"
    else:
        status = "applied" if outcome.get("applied") else "ignored"
    return AccountChange(status, org, outcome)


def _instant(field: str, value: object) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise InvalidInputError(field, value, "must be an aware datetime")
    return to_utc_ms(value)


class SubscriptionService:
    """Stripe's side of each account: subscriptions, customers, invoices, packs, refunds."""

    def __init__(
        self, accounts: AccountService, gateway: Callable[[], PaymentGateway | None]
    ) -> None:
        self._accounts = accounts
        self._gateway = gateway

    # -- helpers ---------------------------------------------------------------------------

    def resolve_org(self, org: str | None, customer_id: str | None) -> str | None:
        """``org`` (from metadata) when given, else the org linking ``customer_id``, else None."""
        if org:
            return require_org(org)
        if customer_id:
            return self._accounts.store.org_for_customer(validate_ref("customer_id", customer_id))
        return None

    def _publish(self, event: ev.Event) -> None:
        self._accounts.publisher.publish([event])

    def _unresolved_subscription(
        self, org: str | None, subscription_id: str, reason: str
    ) -> AccountChange:
        self._publish(
            ev.SubscriptionUnresolved(org=org, subscription_id=subscription_id, reason=reason)
        )
        return AccountChange("unresolved", org, {"reason": reason})

    def _plan(self, info: SubscriptionInfo) -> Plan | None:
        plan_id = resolve_plan_id(self._accounts.config, info)
        if plan_id is None:
            return None
        try:
            return self._accounts.catalog.get_active_plan(plan_id)
        except UnknownPlanError:
            return None

    # -- subscriptions and customers ------------------------------------------------------

    def checkout_completed(
        self,
        org: str | None,
        customer_id: str,
        subscription_id: str,
        *,
        event_id: str,
        event_created: datetime,
    ) -> AccountChange:
        """A subscription-mode checkout completed: link customer and subscription.

        The status is fetched from Stripe (never assumed active); a provider outage propagates
        so the webhook is retried; a subscription without a status writes nothing.
        """
        customer = validate_ref("customer_id", customer_id)
        subscription = validate_ref("subscription_id", subscription_id)
        gateway = self._gateway()
        if gateway is None:
            raise PaymentConfigurationError("no payment gateway is configured")
        info = gateway.retrieve_subscription(subscription)
        info = attrs.evolve(info, customer_id=info.customer_id or customer)
        return self.subscription_changed(org, info, event_id=event_id, event_created=event_created)

    def subscription_changed(
        self,
        org: str | None,
        info: SubscriptionInfo,
        *,
        deleted: bool = False,
        event_id: str,
        event_created: datetime,
    ) -> AccountChange:
        """``customer.subscription.created|updated|deleted``: plan, status, period, cancellation."""
        event = validate_ref("event_id", event_id)
        created = _instant("event_created", event_created)
        subscription_id = validate_ref("subscription_id", info.subscription_id)
        resolved = self.resolve_org(org or info.metadata.get("organization_id"), info.customer_id)
        if resolved is None:
            return self._unresolved_subscription(None, subscription_id, "no_org")
        if info.status is None and not deleted:
            return self._unresolved_subscription(resolved, subscription_id, "no_status")
        command = pc.SyncSubscription(
            event_id=event,
            created=created,
            subscription_id=subscription_id,
            customer_id=info.customer_id,
            status=info.status or "canceled",
            plan=None if deleted else self._plan(info),
            price_ids=tuple(info.price_ids),
            current_period_start=info.current_period_start,
            cancel_at=info.cancel_at,
            cancel_at_period_end=info.cancel_at_period_end,
            deleted=deleted,
        )
        return _change(resolved, self._accounts.execute(resolved, command))

    def customer_deleted(
        self, org: str | None, customer_id: str, *, event_id: str, event_created: datetime
    ) -> AccountChange:
        """``customer.deleted``: unlink, default plan, ``canceled``, next customer generation."""
        customer = validate_ref("customer_id", customer_id)
        command = pc.DeleteCustomer(
            event_id=validate_ref("event_id", event_id),
            created=_instant("event_created", event_created),
            customer_id=customer,
        )
        resolved = self.resolve_org(org, customer)
        if resolved is None:
            return AccountChange("unresolved", None, {"reason": "no_org"})
        return _change(resolved, self._accounts.execute(resolved, command))

    # -- invoices --------------------------------------------------------------------------

    def invoice_payment_failed(
        self,
        org: str | None,
        *,
        customer_id: str | None = None,
        has_subscription: bool,
        event_id: str,
        event_created: datetime,
    ) -> AccountChange:
        """``invoice.payment_failed``: past due (a one-off invoice does not start dunning)."""
        command = pc.FailInvoice(
            event_id=validate_ref("event_id", event_id),
            created=_instant("event_created", event_created),
            has_subscription=bool(has_subscription),
        )
        resolved = self.resolve_org(org, customer_id)
        if resolved is None:
            return AccountChange("unresolved", None, {"reason": "no_org"})
        return _change(resolved, self._accounts.execute(resolved, command))

    def invoice_paid(
        self,
        org: str | None,
        *,
        customer_id: str | None = None,
        event_id: str,
        event_created: datetime,
        direct: bool = False,
    ) -> AccountChange:
        """``invoice.paid`` / ``invoice.payment_succeeded``: dunning cleared, plan restored.

        ``direct`` marks the admin call (see ``PayInvoice`` in :mod:`.provider_commands`).
        """
        event = validate_ref("event_id", event_id)
        created = _instant("event_created", event_created)
        resolved = self.resolve_org(org, customer_id)
        if resolved is None:
            return AccountChange("unresolved", None, {"reason": "no_org"})
        for attempt in range(_RESTORE_ATTEMPTS):
            restore = self._restore_plan(resolved)
            command = pc.PayInvoice(event_id=event, created=created, restore=restore, direct=direct)
            try:
                return _change(resolved, self._accounts.execute(resolved, command))
            except ConcurrencyConflictError:
                if attempt + 1 == _RESTORE_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _restore_plan(self, org: str) -> Plan | None:
        """The plan a dunning sweep put aside on ``org``'s account (503 if no longer configured)."""
        sub = self._accounts.load(org)[0].subscription
        if sub.restore_plan_id is None:
            return None
        catalog = self._accounts.catalog
        try:
            if sub.restore_version is None:
                return catalog.get_active_plan(sub.restore_plan_id)
            return catalog.get_plan_by_version(sub.restore_plan_id, sub.restore_version)
        except UnknownPlanError as exc:
            raise PlanNotConfiguredError(exc.plan_id) from exc

    # -- packs, refunds, disputes ------------------------------------------------------------

    def pack_paid(
        self, org: str, pack_id: str, session_id: str, payment_intent: str | None
    ) -> AccountChange:
        """A paid extras checkout: credit the pack once per session, recording its intent."""
        org = require_org(org)
        if self._accounts.config.pack(pack_id) is None:
            raise UnknownPackError(pack_id)
        command = pc.CreditPaidPack(
            pack_id=pack_id,
            session_id=validate_ref("session_id", session_id),
            payment_intent=(
                None if payment_intent is None else validate_ref("payment_intent", payment_intent)
            ),
        )
        return _change(org, self._accounts.execute(org, command))

    def _purchase(
        self, payment_intent: str | None
    ) -> tuple[JournalEntry, ev.ExtrasCredited] | None:
        if not payment_intent:
            return None
        entry = self._accounts.store.purchase_for_payment_intent(
            validate_ref("payment_intent", payment_intent)
        )
        if entry is None:
            return None
        credit = next(
            (e for e in entry.events if isinstance(e, ev.ExtrasCredited) and e.price_cents),
            None,
        )
        return None if credit is None else (entry, credit)

    def payment_refunded(
        self, payment_intent: str | None, refund_id: str | None, amount_cents: int
    ) -> AccountChange:
        """One refund of a pack payment: its units taken back once per refund id.

        An entry without id or with a zero amount is skipped; a payment no account holds emits
        ``refund.unresolved``. An amount above the pack price (tax refunded too) takes the
        whole pack, never more.
        """
        if not refund_id or not isinstance(amount_cents, int) or amount_cents <= 0:
            return AccountChange("skipped", None, {"reason": "no_id_or_amount"})
        refund = validate_ref("refund_id", refund_id)
        found = self._purchase(payment_intent)
        if found is None:
            self._publish(
                ev.RefundUnresolved(
                    refund_id=refund,
                    payment_intent=payment_intent,
                    amount_cents=amount_cents,
                    reason="unknown_payment",
                )
            )
            return AccountChange("unresolved", None, {"reason": "unknown_payment"})
        entry, credit = found
        price = credit.price_cents or 0
        command = cmd.Refund(
            refund_id=refund,
            session_id=credit.session_id or "",
            amount_cents=min(amount_cents, price),
            pack_units=credit.units,
            pack_price_cents=price,
        )
        return _change(entry.org, self._accounts.execute(entry.org, command))

    def _dispute_unresolved(
        self, dispute_id: str, payment_intent: str | None, amount_cents: int
    ) -> AccountChange:
        self._publish(
            ev.DisputeUnresolved(
                dispute_id=dispute_id, payment_intent=payment_intent, amount_cents=amount_cents
            )
        )
        return AccountChange("unresolved", None, {"reason": "unknown_payment"})

    def dispute_noted(
        self,
        dispute_id: str,
        payment_intent: str | None,
        amount_cents: int,
        *,
        event_id: str,
        reason: str | None = None,
        reinstated: bool = False,
    ) -> AccountChange:
        """An alert: a dispute opened, or (``reinstated``) its funds given back."""
        dispute = validate_ref("dispute_id", dispute_id)
        found = self._purchase(payment_intent)
        if found is None or payment_intent is None:
            return self._dispute_unresolved(dispute, payment_intent, amount_cents)
        entry, _ = found
        command = pc.NoteDispute(
            event_id=validate_ref("event_id", event_id),
            dispute_id=dispute,
            payment_intent=payment_intent,
            amount_cents=amount_cents,
            reason=reason,
            reinstated=reinstated,
        )
        return _change(entry.org, self._accounts.execute(entry.org, command))

    def dispute_funds_withdrawn(
        self, dispute_id: str, payment_intent: str | None, amount_cents: int
    ) -> AccountChange:
        """A dispute took funds back: units taken like a refund, once per dispute id."""
        dispute = validate_ref("dispute_id", dispute_id)
        if not isinstance(amount_cents, int) or amount_cents <= 0:
            return AccountChange("skipped", None, {"reason": "no_amount"})
        found = self._purchase(payment_intent)
        if found is None or payment_intent is None:
            return self._dispute_unresolved(dispute, payment_intent, amount_cents)
        entry, credit = found
        price = credit.price_cents or 0
        command = pc.WithdrawDispute(
            dispute_id=dispute,
            payment_intent=payment_intent,
            session_id=credit.session_id or "",
            amount_cents=min(amount_cents, price),
            pack_units=credit.units,
            pack_price_cents=price,
        )
        return _change(entry.org, self._accounts.execute(entry.org, command))
