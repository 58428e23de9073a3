"""The composition root and public facade: :class:`Billing` (DESIGN 4).

``Billing(config, stores=..., clock=...)`` wires the ports to the use cases; everything a host
application calls hangs off it. ``Billing.in_memory(config, clock=...)`` is the embedded
default. Compute paths are no-ops that say so while ``config.compute_mode`` is off, and the
legacy monthly counters answer the gate instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from compute_pricing import commands as cmd
from compute_pricing.accounts import AccountService
from compute_pricing.catalog import CachedPlanCatalog, StaticPlanCatalog
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
    InMemoryLock,
    InMemoryPlanRepository,
    InMemoryProcessedEventStore,
    SequentialIds,
    UuidIds,
)
from compute_pricing.ports import (
    AccountStore,
    Clock,
    EventPublisher,
    IdGenerator,
    Lock,
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
from compute_pricing.timekeeping import SystemClock, month_key, to_utc_ms
from compute_pricing.validation import require_org, require_units, validate_ref

__all__ = ["Billing", "InMemoryStores", "Stores"]

_SWEEP_BATCH = 500
_LEGACY_PAID = frozenset({"active", "trialing"})
#: Stripe subscription statuses ``subscribe`` accepts.
_STATUSES = FAIL_CLOSED_STATUSES | {"active", "trialing", "past_due"}
#: Longest reservation TTL: a year (far longer would overflow ``datetime`` at expiry).
_MAX_TTL_SECONDS = 366 * 24 * 3600


class Stores(Protocol):
    """The storage adapters of one back end, bundled (``MongoStores(db)``, ``InMemoryStores()``)."""

    accounts: AccountStore
    plans: PlanRepository | None
    processed_events: ProcessedEventStore
    lock: Lock


class InMemoryStores:
    """Every store in process memory: the embedded default. Implements ``Stores``."""

    def __init__(self, clock: Clock) -> None:
        self.accounts: AccountStore = InMemoryAccountStore()
        self.plans: PlanRepository | None = InMemoryPlanRepository()
        self.processed_events: ProcessedEventStore = InMemoryProcessedEventStore()
        self.lock: Lock = InMemoryLock(clock)


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
        self.extras = ExtrasService(self.accounts, self._sweep)

    @classmethod
    def in_memory(
        cls, config: BillingConfig | None = None, *, clock: Clock | None = None, **kwargs: Any
    ) -> Billing:
        """In-process: in-memory stores, sequential ids, an event recorder, a fake gateway."""
        clock = clock or SystemClock()
        kwargs.setdefault("ids", SequentialIds())
        kwargs.setdefault("gateway", FakePaymentGateway())
        return cls(config or BillingConfig(), stores=InMemoryStores(clock), clock=clock, **kwargs)

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
        command = cmd.Attribute(
            run_id=validate_run_id(run_id),
            step=validate_step(step),
            costs=parse_costs(costs),
            reservation_id=reservation.reservation_id if reservation else None,
        )
        if not self.config.compute_mode:
            return _mode_off_result()
        done = self.accounts.execute(org, command)
        return AttributionResult.from_outcome(done.outcome, replayed=done.replayed)

    def reserve(self, org: str, units: int, ttl: int | None = None) -> ReservationHandle:
        """Hold ``units`` for a run for ``ttl`` seconds; 402 if they are not there."""
        org = require_org(org)
        units = require_units("units", units)
        ttl_seconds = require_units(
            "ttl",
            ttl if ttl is not None else self.config.reservation_ttl_seconds,
            maximum=_MAX_TTL_SECONDS,
        )
        reservation_id = self.ids.new_id("res")
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
        """Charge a reserved run's actual costs and release the hold in the same commit."""
        return self.attribute(
            reservation.org,
            run_id or reservation.reservation_id,
            costs,
            step,
            reservation=reservation,
        )

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
        if self.config.compute_mode:
            return self._check_compute(org)
        if resource is None and action is None:
            return Admission(remaining=None)
        return self._check_legacy(org, counter_name(resource, action))

    def _current(self, state: Account) -> tuple[Account, Any]:
        """``state`` with its week brought up to date (not written) and its context."""
        ctx = self.accounts.context(state, self.clock.now())
        return fold(state, roll_week(state, ctx)), ctx

    def _check_compute(self, org: str) -> Admission:
        state, ctx = self._current(self.accounts.peek(org))
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

    def _check_legacy(self, org: str, counter: str) -> Admission:
        state = self.accounts.peek(org)
        _, limits = self._legacy_plan_limits(state)
        limit = limits.get(counter)
        if limit is None:
            return Admission(remaining=None)
        current = current_count(state.legacy, counter, month_key(self.clock.now()))
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
            },
        )

    # -- weeks, plans, dunning -----------------------------------------------------------

    def reset_week(self, org: str, period_start: datetime | None = None) -> Mapping[str, Any]:
        """Close the week and open the next, settling overflow debt (idempotent per week)."""
        org = require_org(org)
        if period_start is not None:
            if not isinstance(period_start, datetime):
                raise InvalidInputError("period_start", period_start, "must be an aware datetime")
            period_start = to_utc_ms(period_start)
        if not self.config.compute_mode:
            return {"applied": False, "reason": "compute_mode_off"}
        done = self.accounts.execute(org, cmd.ResetWeek(period_start))
        return {**done.outcome, "replayed": done.replayed}

    def reset_all_due(self) -> SweepSummary:
        """Reset every active, trialing or unsubscribed account whose week has ended."""
        if not self.config.compute_mode:
            return SweepSummary()
        now = self.clock.now()

        def reset(org: str) -> bool:
            status = self.accounts.peek(org).subscription.status
            if status not in {"active", "trialing", "none"}:
                return False
            return bool(self.accounts.execute(org, cmd.ResetWeek()).outcome.get("applied"))

        return self._sweep(self.stores.accounts.orgs_due_for_reset, now, reset)

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
        """An invoice was paid: past-due cleared."""
        command = cmd.RecoverPayment(validate_ref("ref", ref))
        return dict(self.accounts.execute(require_org(org), command).outcome)

    def dunning_sweep(self) -> SweepSummary:
        """Move accounts past due for ``dunning_days`` to ``unpaid`` on the default plan."""
        cutoff = self.clock.now() - timedelta(days=self.config.dunning_days)

        def expire(org: str) -> bool:
            done = self.accounts.execute(org, cmd.ExpireSubscription())
            return bool(done.outcome.get("applied"))

        return self._sweep(self.stores.accounts.orgs_past_due_before, cutoff, expire)

    # -- cron plumbing -------------------------------------------------------------------

    def _sweep(
        self,
        query: Callable[..., list[str]],
        at: datetime,
        per_org: Callable[[str], bool],
    ) -> SweepSummary:
        """Run ``per_org`` over ``query``'s orgs in batches, isolating each org's failure."""
        processed = skipped = 0
        errors: dict[str, str] = {}
        after: str | None = None
        while True:
            batch = query(at, after=after, limit=_SWEEP_BATCH)
            for org in batch:
                try:
                    if per_org(org):
                        processed += 1
                    else:
                        skipped += 1
                except BillingError as exc:
                    errors[org] = f"{exc.code}: {exc.message}"
            if len(batch) < _SWEEP_BATCH:
                return SweepSummary(processed=processed, skipped=skipped, errors=errors)
            after = batch[-1]
