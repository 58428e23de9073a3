"""The composition root and public facade: :class:`Billing` (docs/rules.md "Public API").

``Billing(config, stores=..., clock=...)`` wires the ports to the use cases; everything a host
application calls hangs off it. ``Billing.in_memory(config, clock=...)`` is the embedded
default. Compute paths are no-ops that say so while ``config.compute_mode`` is off, and the
legacy monthly counters answer the gate instead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from compute_pricing import commands as cmd
from compute_pricing.accounts import AccountService
from compute_pricing.admin import AdminService
from compute_pricing.catalog import CachedPlanCatalog, StaticPlanCatalog
from compute_pricing.checkouts import CheckoutLink, CheckoutService, RefundRequested
from compute_pricing.config import BillingConfig
from compute_pricing.decide import current_headroom, exhausted_error, roll_week
from compute_pricing.errors import (
    BillingError,
    InvalidInputError,
    QuotaExceededError,
)
from compute_pricing.evolve import fold
from compute_pricing.extras import ExtrasService
from compute_pricing.fake_gateway import FakePaymentGateway
from compute_pricing.memory import (
    EventRecorder,
    InMemoryAccountStore,
    InMemoryJobCursorStore,
    InMemoryLock,
    InMemoryOrgDirectory,
    InMemoryPlanRepository,
    InMemoryProcessedEventStore,
    SequentialIds,
    UuidIds,
)
from compute_pricing.observability import log_refusal
from compute_pricing.payments import SubscriptionInfo
from compute_pricing.ports import (
    AccountStore,
    Clock,
    EventPublisher,
    IdGenerator,
    JobCursorStore,
    Lock,
    OrgDirectory,
    PaymentGateway,
    PlanCatalog,
    PlanRepository,
    ProcessedEventStore,
)
from compute_pricing.results import (
    Admission,
    AttributionResult,
    ReservationHandle,
    SweepSummary,
    UsageView,
)
from compute_pricing.rules.attribution import parse_costs, validate_run_id, validate_step
from compute_pricing.rules.legacy import counter_name, current_count
from compute_pricing.state import FAIL_CLOSED_STATUSES, Account
from compute_pricing.stripe.handlers import handlers
from compute_pricing.stripe.pipeline import WebhookOutcome, WebhookProcessor
from compute_pricing.stripe.services import WebhookServices
from compute_pricing.subscriptions import AccountChange, SubscriptionService
from compute_pricing.sweeps import OnOrg, Sweeper
from compute_pricing.timekeeping import SystemClock, month_key, to_utc_ms
from compute_pricing.validation import require_org, require_units, validate_ref

__all__ = ["Billing", "InMemoryStores", "Stores", "keyed_reservation_id"]


def _expire_subscription(state: Account) -> cmd.Command:
    return cmd.ExpireSubscription()


_LEGACY_PAID = frozenset({"active", "trialing"})
#: Stripe subscription statuses ``subscribe`` accepts.
_STATUSES = FAIL_CLOSED_STATUSES | {"active", "trialing", "past_due"}
#: Longest reservation TTL: a year (far longer would overflow ``datetime`` at expiry).
_MAX_TTL_SECONDS = 366 * 24 * 3600


def keyed_reservation_id(key: str) -> str:
    """The reservation id of a caller's ``key``: stable, bounded, never a generated id's shape."""
    return "res_key_" + hashlib.sha256(key.encode()).hexdigest()[:32]


class Stores(Protocol):
    """The storage adapters of one back end, bundled (``MongoStores(db)``, ``InMemoryStores()``).

    ``orgs`` lists every org (reconcile walks it) and ``job_cursors`` keeps each cron job's
    resumable position; both are read by the cron runner.
    """

    accounts: AccountStore
    job_cursors: JobCursorStore
    lock: Lock
    orgs: OrgDirectory
    plans: PlanRepository | None
    processed_events: ProcessedEventStore


class InMemoryStores:
    """Every store in process memory: the embedded default. Implements ``Stores``.

    ``retain_keys`` bounds the account journal (see :class:`InMemoryAccountStore`).
    """

    def __init__(self, clock: Clock, *, retain_keys: int | None = None) -> None:
        accounts = InMemoryAccountStore(retain_keys=retain_keys)
        self.accounts: AccountStore = accounts
        self.orgs: OrgDirectory = InMemoryOrgDirectory(accounts)
        self.job_cursors: JobCursorStore = InMemoryJobCursorStore()
        self.plans: PlanRepository | None = InMemoryPlanRepository()
        self.processed_events: ProcessedEventStore = InMemoryProcessedEventStore()
        self.lock: Lock = InMemoryLock(clock)


def _cancellation(state: Account) -> dict[str, Any]:
    """The pending cancellation shown in usage views."""
    sub = state.subscription
    return {
        "cancel_at": None if sub.cancel_at is None else sub.cancel_at.isoformat(),
        "cancel_at_period_end": sub.cancel_at_period_end,
    }


def _mode_off_result() -> AttributionResult:
    return AttributionResult(
        applied=False,
        units=0,
        from_quota=0,
        from_extras=0,
        compute_used=0,
        reason="compute_mode_off",
    )


class Billing:
    """The library's facade: attribution, the quota gate, usage, extras, resets, plans."""

    def __init__(
        self,
        config: BillingConfig,
        *,
        stores: Stores,
        clock: Clock | None = None,
        publisher: EventPublisher | None = None,
        ids: IdGenerator | None = None,
        catalog: PlanCatalog | None = None,
        gateway: PaymentGateway | None = None,
    ) -> None:
        self.config = config
        self.gateway: PaymentGateway | None = gateway
        self.clock: Clock = clock or SystemClock()
        self.events: EventPublisher = publisher or EventRecorder()
        self.ids: IdGenerator = ids or UuidIds()
        self.stores = stores
        if catalog is not None:
            self.plans: PlanCatalog = catalog
        elif stores.plans is not None:
            self.plans = CachedPlanCatalog.seeded(stores.plans, config, self.clock, self.events)
        else:
            self.plans = StaticPlanCatalog(config, self.clock)
        self.accounts = AccountService(stores.accounts, self.plans, config, self.clock, self.events)
        self.sweeper = Sweeper(self.accounts)
        self.extras = ExtrasService(self.accounts, self.sweeper.run)
        self.subscriptions = SubscriptionService(self.accounts, lambda: self.gateway)
        self.checkouts = CheckoutService(self.accounts, lambda: self.gateway)
        self.admin = AdminService(self)
        #: Stripe webhooks: every handled event type registered (``stripe.handlers``), and
        #: the dead-letter admin.
        self.webhooks = WebhookProcessor(
            stores.processed_events,
            self.clock,
            config,
            handlers(WebhookServices(self.subscriptions, lambda: self.gateway)),
        )

    @classmethod
    def in_memory(
        cls, config: BillingConfig | None = None, *, clock: Clock | None = None, **kwargs: Any
    ) -> Billing:
        """In-process: in-memory stores, sequential ids, an event recorder, a fake gateway."""
        clock = clock or SystemClock()
        kwargs.setdefault("ids", SequentialIds())
        kwargs.setdefault("gateway", FakePaymentGateway())
        return cls(config or BillingConfig(), stores=InMemoryStores(clock), clock=clock, **kwargs)

    # -- stripe --------------------------------------------------------------------------

    def handle_stripe_webhook(self, payload: bytes, signature: str) -> WebhookOutcome:
        """Verify and run one Stripe delivery (raw body, ``Stripe-Signature`` header) once.

        Returns the outcome to answer (always 200); raises ``WebhookError`` (400, nothing
        written) for a bad signature or payload and ``WebhookHandlerError`` (500, Stripe
        retries) when the handler failed short of the dead-letter limit.
        """
        return self.webhooks.handle(payload, signature)

    # -- compute -------------------------------------------------------------------------

    def attribute(
        self,
        org: str,
        run_id: str,
        costs: Mapping[str, Any] | None,
        step: str = "initial",
        *,
        reservation: ReservationHandle | None = None,
    ) -> AttributionResult:
        """Charge one run step's costs (a delta in dollars per category), once per key."""
        org = require_org(org)
        command = cmd.Attribute(  # run_id, step, costs, reservation_id (positional: hot path)
            validate_run_id(run_id),
            validate_step(step),
            parse_costs(costs, self.config.compute.max_categories_per_run),
            reservation.reservation_id if reservation else None,
        )
        if not self.config.compute_mode:
            return _mode_off_result()
        done = self.accounts.execute(org, command)
        return AttributionResult.from_outcome(done.outcome, replayed=done.replayed)

    def reserve(
        self, org: str, units: int, ttl: int | None = None, *, key: str | None = None
    ) -> ReservationHandle:
        """Hold ``units`` for a run for ``ttl`` seconds; 402 if they are not there.

        With ``key`` the call can be retried: the reservation id is derived from the key, so a
        retry returns the same reservation (and a retry asking other units or ttl is a 409).
        """
        org = require_org(org)
        units = require_units("units", units)
        ttl_seconds = require_units(
            "ttl",
            ttl if ttl is not None else self.config.reservation_ttl_seconds,
            maximum=_MAX_TTL_SECONDS,
        )
        if key is None:
            reservation_id = self.ids.new_id("res")
        else:
            reservation_id = keyed_reservation_id(validate_ref("key", key))
        if not self.config.compute_mode:
            return ReservationHandle(org, reservation_id, 0, self.clock.now())
        done = self.accounts.execute(org, cmd.Reserve(reservation_id, units, ttl_seconds))
        return ReservationHandle(
            org, reservation_id, units, datetime.fromisoformat(done.outcome["expires_at"])
        )

    def commit(
        self,
        reservation: ReservationHandle,
        costs: Mapping[str, Any] | None,
        *,
        run_id: str | None = None,
        step: str = "initial",
    ) -> AttributionResult:
        """Charge a reserved run's actual costs and release the hold in the same commit.

        If the run step was already charged (a replay, perhaps under another hold), the
        replay also releases ``reservation``, so a retried commit never leaks its hold.
        """
        result = self.attribute(
            reservation.org,
            run_id or reservation.reservation_id,
            costs,
            step,
            reservation=reservation,
        )
        if result.replayed:
            self.release(reservation)
        return result

    def release(self, reservation: ReservationHandle) -> bool:
        """Give back a reservation without charging; ``False`` if it was not live."""
        if not self.config.compute_mode:
            return False
        command = cmd.Release(validate_ref("reservation_id", reservation.reservation_id))
        done = self.accounts.execute(require_org(reservation.org), command)
        return bool(done.outcome.get("released", False))

    # -- gate and usage ------------------------------------------------------------------

    def check_quota(
        self,
        org: str,
        resource: str | None = None,
        action: str | None = None,
        *,
        admin: bool = False,
    ) -> Admission:
        """Admit or refuse new work (402 compute, 429 legacy, 503 unknown plan, 403 no org)."""
        org = require_org(org)
        if admin or org in self.config.exempt_orgs:
            return Admission(remaining=None)
        try:
            if self.config.compute_mode:
                return self._check_compute(org)
            if resource is None and action is None:
                return Admission(remaining=None)
            return self._check_legacy(org, counter_name(resource, action))
        except BillingError as exc:
            log_refusal(org, exc)
            raise

    def _current(self, state: Account) -> tuple[Account, Any]:
        """``state`` with its week brought up to date (not written) and its context."""
        ctx = self.accounts.context(state, self.clock.now())
        return fold(state, roll_week(state, ctx)), ctx

    def _check_compute(self, org: str) -> Admission:
        # Admit on the snapshot alone (one read); refuse only after catching up from the
        # journal, so a lost snapshot refresh never becomes a 402.
        state, ctx = self._current(self.accounts.peek(org))
        room = current_headroom(state, ctx)
        if room.remaining <= 0:
            state, ctx = self._current(self.accounts.load(org)[0])
            room = current_headroom(state, ctx)
        if room.remaining <= 0:
            raise exhausted_error(state, ctx, room)
        return Admission(
            remaining=room.remaining,
            degraded=room.stage == "degraded",
            payment_failing=room.stage != "ok",
        )

    def _legacy_plan_limits(self, state: Account) -> tuple[str, Mapping[str, int | None]]:
        now = self.clock.now()
        if state.subscription.status in _LEGACY_PAID:
            plan = self.accounts.context(state, now).plan
        else:
            plan = self.plans.get_active_plan(self.config.default_plan, now)
        return plan.plan_id, plan.limits

    def _legacy_room(self, state: Account, counter: str) -> tuple[int, int] | None:
        """``(limit, current)`` of ``counter`` on ``state``; ``None`` when it has no limit."""
        _, limits = self._legacy_plan_limits(state)
        limit = limits.get(counter)
        if limit is None:
            return None
        return limit, current_count(state.legacy, counter, month_key(self.clock.now()))

    def _check_legacy(self, org: str, counter: str) -> Admission:
        # Like the compute gate: admit on the snapshot alone, refuse only after catching up
        # from the journal (a lost refresh of a plan upgrade must not become a 429).
        room = self._legacy_room(self.accounts.peek(org), counter)
        if room is not None and room[1] >= room[0]:
            room = self._legacy_room(self.accounts.load(org)[0], counter)
        if room is None:
            return Admission(remaining=None)
        limit, current = room
        if current >= limit:
            resource, action = counter.split(".")
            raise QuotaExceededError(
                resource=resource,
                action=action,
                limit=limit,
                current=current,
                upgrade_url=self.config.upgrade_url,
            )
        return Admission(remaining=limit - current)

    def record_usage(
        self, org: str, resource: str, action: str, amount: int = 1, *, key: str | None = None
    ) -> int:
        """Legacy: add ``amount`` to this month's ``resource.action`` counter; return its value.

        ``key`` makes the call idempotent (a retry with the same key counts once).
        """
        org = require_org(org)
        counter = counter_name(resource, action)
        amount = require_units("amount", amount)
        ref = validate_ref("key", key) if key is not None else self.ids.new_id("usage")
        done = self.accounts.execute(org, cmd.RecordUsage(counter, amount, ref))
        return int(done.outcome["current"])

    def usage(self, org: str) -> UsageView:
        """The usage endpoint's view: compute shape in compute mode, legacy shape otherwise."""
        org = require_org(org)
        loaded, _ = self.accounts.load(org)
        if not self.config.compute_mode:
            plan_id, limits = self._legacy_plan_limits(loaded)
            period = month_key(self.clock.now())
            counts = dict(loaded.legacy.counts) if loaded.legacy.period == period else {}
            return UsageView(
                "legacy",
                {"plan": plan_id, "period": period, "usage": counts, "limits": dict(limits)},
            )
        state, ctx = self._current(loaded)
        room = current_headroom(state, ctx)
        week = state.week
        assert week is not None  # noqa: S101 - _current opens the first week
        return UsageView(
            "compute",
            {
                "plan": ctx.plan.plan_id,
                "plan_version": ctx.plan.version,
                "week_key": week.key,
                "week_reset_at": week.reset_at.isoformat(),
                "compute_used": week.used,
                "compute_quota": room.quota,
                "compute_breakdown": dict(week.breakdown),
                "extras_remaining": room.extras,
                "packs_available": [pack.pack_id for pack in self.config.packs],
                **_cancellation(state),
            },
        )

    # -- weeks, plans, dunning -----------------------------------------------------------

    def reset_week(self, org: str, period_start: datetime | None = None) -> Mapping[str, Any]:
        """Close the week and open the next, settling overflow debt (idempotent per week)."""
        org = require_org(org)
        if period_start is not None:
            if not isinstance(period_start, datetime) or period_start.utcoffset() is None:
                raise InvalidInputError("period_start", period_start, "must be an aware datetime")
            period_start = to_utc_ms(period_start)
        if not self.config.compute_mode:
            return {"applied": False, "reason": "compute_mode_off"}
        done = self.accounts.execute(org, cmd.ResetWeek(period_start))
        return {**done.outcome, "replayed": done.replayed}

    def reset_all_due(
        self, *, after: str | None = None, dry_run: bool = False, on_org: OnOrg | None = None
    ) -> SweepSummary:
        """Reset every active, trialing or unsubscribed account whose week has ended.

        ``after`` resumes past that org, ``dry_run`` decides without writing, and ``on_org``
        is told each org's outcome once it is handled (see :mod:`compute_pricing.sweeps`).
        """
        if not self.config.compute_mode:
            return SweepSummary()
        now = self.clock.now()

        def reset(org: str) -> bool:
            status = self.accounts.peek(org, keep=True).subscription.status
            if status not in {"active", "trialing", "none"}:
                return False
            return self.sweeper.apply(org, cmd.ResetWeek(), dry_run=dry_run)

        def batched(state: Account) -> cmd.Command | None:
            active = state.subscription.status in {"active", "trialing", "none"}
            return cmd.ResetWeek() if active else None

        return self.sweeper.run(
            self.stores.accounts.orgs_due_for_reset,
            now,
            reset,
            after=after,
            on_org=on_org,
            bulk=None if dry_run else ("snapshots_due_for_reset", batched),
        )

    def subscribe(
        self,
        org: str,
        plan_id: str,
        *,
        status: str = "active",
        preserve_usage: bool | None = None,
    ) -> Mapping[str, Any]:
        """Put the org on the active version of ``plan_id`` (admin, tests; no Stripe)."""
        org = require_org(org)
        if not isinstance(status, str) or status not in _STATUSES:
            raise InvalidInputError("status", status, f"must be one of {sorted(_STATUSES)}")
        plan = self.plans.get_active_plan(validate_ref("plan_id", plan_id))
        keep = self.config.preserve_usage if preserve_usage is None else preserve_usage
        if status == "canceled":
            keep = False
        command = cmd.ChangePlan(plan, self.ids.new_id("sub"), status=status, preserve_usage=keep)
        return dict(self.accounts.execute(org, command).outcome)

    def payment_failed(self, org: str, ref: str) -> Mapping[str, Any]:
        """An invoice payment failed (``ref``: the Stripe event or invoice id)."""
        command = cmd.FailPayment(validate_ref("ref", ref))
        return dict(self.accounts.execute(require_org(org), command).outcome)

    def payment_succeeded(self, org: str, ref: str) -> Mapping[str, Any]:
        """An invoice was paid: past-due cleared, the plan held before a dunning sweep restored.

        ``ref`` is the Stripe event or invoice id (once per ref); the status becomes active.
        """
        change = self.subscriptions.invoice_paid(
            require_org(org),
            event_id=validate_ref("ref", ref),
            event_created=self.clock.now(),
            direct=True,
        )
        return dict(change.outcome)

    def dunning_sweep(
        self, *, after: str | None = None, dry_run: bool = False, on_org: OnOrg | None = None
    ) -> SweepSummary:
        """Move accounts past due for ``dunning_days`` to ``unpaid`` on the default plan.

        ``after``, ``dry_run`` and ``on_org`` as for :meth:`reset_all_due`.
        """
        cutoff = self.clock.now() - timedelta(days=self.config.dunning_days)

        def expire(org: str) -> bool:
            return self.sweeper.apply(org, cmd.ExpireSubscription(), dry_run=dry_run)

        return self.sweeper.run(
            self.stores.accounts.orgs_past_due_before,
            cutoff,
            expire,
            after=after,
            on_org=on_org,
            bulk=None if dry_run else ("snapshots_past_due_before", _expire_subscription),
        )

    # -- Stripe: what each fact does to an account (called by the webhook translators) ------

    def subscription_checkout_completed(
        self,
        org: str | None,
        customer_id: str,
        subscription_id: str,
        *,
        event_id: str,
        event_created: datetime,
    ) -> AccountChange:
        """A subscription checkout completed: link it, status fetched through the gateway."""
        return self.subscriptions.checkout_completed(
            org, customer_id, subscription_id, event_id=event_id, event_created=event_created
        )

    def subscription_changed(
        self,
        org: str | None,
        info: SubscriptionInfo,
        *,
        deleted: bool = False,
        event_id: str,
        event_created: datetime,
    ) -> AccountChange:
        """A subscription was created, updated or (``deleted``) ended."""
        return self.subscriptions.subscription_changed(
            org, info, deleted=deleted, event_id=event_id, event_created=event_created
        )

    def customer_deleted(
        self, org: str | None, customer_id: str, *, event_id: str, event_created: datetime
    ) -> AccountChange:
        """The Stripe customer was deleted: unlinked, default plan, ``canceled``."""
        return self.subscriptions.customer_deleted(
            org, customer_id, event_id=event_id, event_created=event_created
        )

    def invoice_payment_failed(
        self,
        org: str | None,
        *,
        customer_id: str | None = None,
        has_subscription: bool,
        event_id: str,
        event_created: datetime,
    ) -> AccountChange:
        """An invoice payment failed: past due (not for a one-off invoice)."""
        return self.subscriptions.invoice_payment_failed(
            org,
            customer_id=customer_id,
            has_subscription=has_subscription,
            event_id=event_id,
            event_created=event_created,
        )

    def invoice_paid(
        self,
        org: str | None,
        *,
        customer_id: str | None = None,
        event_id: str,
        event_created: datetime,
    ) -> AccountChange:
        """An invoice was paid: dunning cleared, the plan held before a sweep restored."""
        return self.subscriptions.invoice_paid(
            org, customer_id=customer_id, event_id=event_id, event_created=event_created
        )

    def extras_pack_paid(
        self, org: str, pack_id: str, session_id: str, payment_intent: str | None
    ) -> AccountChange:
        """A paid extras checkout: the pack credited once per session."""
        return self.subscriptions.pack_paid(org, pack_id, session_id, payment_intent)

    def payment_refunded(
        self, payment_intent: str | None, refund_id: str | None, amount_cents: int
    ) -> AccountChange:
        """One refund of a pack payment: units taken back once per refund id."""
        return self.subscriptions.payment_refunded(payment_intent, refund_id, amount_cents)

    def dispute_opened(
        self,
        dispute_id: str,
        payment_intent: str | None,
        amount_cents: int,
        *,
        event_id: str,
        reason: str | None = None,
    ) -> AccountChange:
        """A charge was disputed (alert only)."""
        return self.subscriptions.dispute_noted(
            dispute_id, payment_intent, amount_cents, event_id=event_id, reason=reason
        )

    def dispute_funds_withdrawn(
        self, dispute_id: str, payment_intent: str | None, amount_cents: int
    ) -> AccountChange:
        """A dispute withdrew funds: units taken back like a refund, once per dispute."""
        return self.subscriptions.dispute_funds_withdrawn(dispute_id, payment_intent, amount_cents)

    def dispute_funds_reinstated(
        self, dispute_id: str, payment_intent: str | None, amount_cents: int, *, event_id: str
    ) -> AccountChange:
        """Disputed funds were reinstated (alert only)."""
        return self.subscriptions.dispute_noted(
            dispute_id, payment_intent, amount_cents, event_id=event_id, reinstated=True
        )

    # -- Stripe: outbound ------------------------------------------------------------------

    def create_subscription_checkout(
        self, org: str, price_id: str, success_url: str, cancel_url: str
    ) -> CheckoutLink:
        """A subscription Checkout Session (refused while degraded or with one live)."""
        return self.checkouts.create_subscription_checkout(org, price_id, success_url, cancel_url)

    def create_extras_checkout(
        self,
        org: str,
        pack_id: str,
        success_url: str,
        cancel_url: str,
        intent_id: str | None = None,
    ) -> CheckoutLink:
        """An extras pack Checkout Session (refused while degraded)."""
        return self.checkouts.create_extras_checkout(
            org, pack_id, success_url, cancel_url, intent_id
        )

    def refund(
        self, payment_intent: str, amount_cents: int | None = None, reason: str | None = None
    ) -> RefundRequested:
        """Ask Stripe for a refund; the ledger changes when the refund webhook arrives."""
        return self.checkouts.refund(payment_intent, amount_cents, reason)
