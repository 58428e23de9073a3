"""Plan catalogs (docs/rules.md, "Plans"): config-static, and repository-backed with a cache.

Both implement :class:`~compute_pricing.ports.PlanCatalog`. The repository-backed catalog caches
exact versions until invalidated (their terms are immutable) and each plan's version list for
``ttl`` (1 h), from which the version in force at any instant is picked. It never caches a
miss, and drops a plan's entries when a ``plan.version_bumped`` event is published.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs

from compute_pricing.config import BillingConfig
from compute_pricing.errors import (
    ConfigError,
    PlanVersionExistsError,
    ReadOnlyCatalogError,
    UnknownPlanError,
)
from compute_pricing.events import Event, PlanVersionBumped
from compute_pricing.memory import EventRecorder
from compute_pricing.plans import Plan
from compute_pricing.ports import Clock, EventPublisher, PlanRepository

__all__ = ["CachedPlanCatalog", "StaticPlanCatalog"]

#: The terms of a published version: what a stored copy must share with the config's entry.
#: (``effective_until`` and ``active`` are left out: closing a version on a bump changes them.)
_TERMS = (
    "compute_quota",
    "ratios",
    "limits",
    "stripe_price_monthly",
    "stripe_price_annual",
    "signup_grant",
    "effective_from",
)


def _refuse_edited(index: int, stored: Plan, configured: Plan) -> None:
    """Raise ``ConfigError`` if the config changed the terms of an already published version."""
    for term in _TERMS:
        was, now = getattr(stored, term), getattr(configured, term)
        if was != now:
            raise ConfigError(
                f"plans.{index}.{term}",
                f"plan {stored.plan_id!r} version {stored.version} is published with "
                f"{term}={was!r} but the config says {now!r}; published versions are "
                f"immutable: bump the version (add version {stored.version + 1}) instead",
            )


def _active(versions: Sequence[Plan], plan_id: str, at: datetime) -> Plan:
    effective = [plan for plan in versions if plan.is_effective_at(at)]
    if not effective:
        raise UnknownPlanError(plan_id)
    return max(effective, key=lambda plan: plan.version)


@attrs.frozen
class _InForce:
    """The answer of :func:`_active` for one version list, valid for ``low <= at < high``.

    Between two consecutive ``effective_from``/``effective_until`` instants of the list's
    versions no version starts or stops being in force, so every ``at`` there has the same
    answer (``None`` bounds are open).
    """

    versions: Sequence[Plan]
    plan: Plan
    low: datetime | None
    high: datetime | None

    def holds(self, versions: Sequence[Plan], at: datetime) -> bool:
        """Whether this answer is the one for ``versions`` (the same list) at ``at``."""
        return (
            versions is self.versions
            and (self.low is None or self.low <= at)
            and (self.high is None or at < self.high)
        )


def _in_force(versions: Sequence[Plan], plan_id: str, at: datetime) -> _InForce:
    """:func:`_active` at ``at`` with the instants around ``at`` where the answer may change."""
    plan = _active(versions, plan_id, at)
    low: datetime | None = None
    high: datetime | None = None
    for version in versions:
        for edge in (version.effective_from, version.effective_until):
            if edge is None:
                continue
            if edge <= at:
                low = edge if low is None or edge > low else low
            else:
                high = edge if high is None or edge < high else high
    return _InForce(versions=versions, plan=plan, low=low, high=high)


class StaticPlanCatalog:
    """Plans exactly as the config lists them; read-only. Implements ``PlanCatalog``."""

    def __init__(self, config: BillingConfig, clock: Clock) -> None:
        self._clock = clock
        self._by_version = {(s.plan_id, s.version): Plan.from_settings(s) for s in config.plans}

    def get_active_plan(self, plan_id: str, at: datetime | None = None) -> Plan:
        """The version in force at ``at``."""
        versions = [p for (pid, _), p in self._by_version.items() if pid == plan_id]
        return _active(versions, plan_id, at or self._clock.now())

    def get_plan_by_version(self, plan_id: str, version: int) -> Plan:
        """Exactly that version."""
        plan = self._by_version.get((plan_id, version))
        if plan is None:
            raise UnknownPlanError(plan_id, version)
        return plan

    def bump_version(self, plan_id: str, changes: Mapping[str, Any]) -> Plan:
        """Refused: static plans change by editing the configuration."""
        raise ReadOnlyCatalogError(f"plan {plan_id!r} comes from the configuration")

    def invalidate_cache(self, plan_id: str | None = None) -> None:
        """Nothing is cached."""

    def plan_ids(self) -> list[str]:
        """Every plan id."""
        return sorted({pid for pid, _ in self._by_version})


class CachedPlanCatalog:
    """Plans from a :class:`PlanRepository`, cached. Implements ``PlanCatalog``."""

    def __init__(
        self,
        repository: PlanRepository,
        clock: Clock,
        publisher: EventPublisher,
        *,
        ttl: timedelta = timedelta(hours=1),
    ) -> None:
        self._repository = repository
        self._clock = clock
        self._publisher = publisher
        self._ttl = ttl
        self._lock = threading.Lock()
        self._exact: dict[tuple[str, int], Plan] = {}
        self._lists: dict[str, tuple[list[Plan], datetime]] = {}  # (versions, fresh until)
        self._in_force: dict[str, _InForce] = {}
        if isinstance(publisher, EventRecorder):
            publisher.subscribe(self._on_event, PlanVersionBumped)

    @classmethod
    def seeded(
        cls,
        repository: PlanRepository,
        config: BillingConfig,
        clock: Clock,
        publisher: EventPublisher,
    ) -> CachedPlanCatalog:
        """A catalog whose repository holds at least the config's plans.

        A version already stored with other terms than the config's same version is refused
        with :class:`ConfigError` (published versions are immutable: bump the version).
        """
        for index, settings in enumerate(config.plans):
            configured = Plan.from_settings(settings)
            stored = repository.get(settings.plan_id, settings.version)
            if stored is None:
                # Another process starting at the same time may publish it first: same terms.
                with contextlib.suppress(PlanVersionExistsError):
                    repository.add(configured)
                stored = repository.get(settings.plan_id, settings.version) or configured
            _refuse_edited(index, stored, configured)
        return cls(repository, clock, publisher)

    def _on_event(self, event: Event) -> None:
        if isinstance(event, PlanVersionBumped):
            self.invalidate_cache(event.plan_id)

    def _versions(self, plan_id: str) -> list[Plan]:
        """Every version of ``plan_id``, cached for ``ttl``; an unknown plan is not cached."""
        now = self._clock.now()
        cached = self._lists.get(plan_id)
        if cached is not None and now < cached[1]:
            return cached[0]
        versions = self._repository.versions(plan_id)
        if versions:
            with self._lock:
                self._lists[plan_id] = (versions, now + self._ttl)
        return versions

    def get_active_plan(self, plan_id: str, at: datetime | None = None) -> Plan:
        """The version in force at ``at`` (now by default), from the cached version list."""
        versions = self._versions(plan_id)
        at = at or self._clock.now()
        # Every commit resolves the default plan: the answer is kept per cached version list
        # (a refreshed or invalidated list is another object) while ``at`` stays between the
        # same two version edges, where it cannot change.
        known = self._in_force.get(plan_id)
        if known is not None and known.holds(versions, at):
            return known.plan
        found = _in_force(versions, plan_id, at)
        self._in_force[plan_id] = found
        return found.plan

    def get_plan_by_version(self, plan_id: str, version: int) -> Plan:
        """Exactly that version (cached forever once found; misses are never cached)."""
        plan = self._exact.get((plan_id, version))
        if plan is not None:
            return plan
        plan = self._repository.get(plan_id, version)
        if plan is None:
            raise UnknownPlanError(plan_id, version)
        with self._lock:
            self._exact[(plan_id, version)] = plan
        return plan

    def bump_version(self, plan_id: str, changes: Mapping[str, Any]) -> Plan:
        """Close the active version, publish the next, emit ``plan.version_bumped``."""
        now = self._clock.now()
        current = _active(self._repository.versions(plan_id), plan_id, now)
        latest = self._repository.versions(plan_id)[-1]
        successor = attrs.evolve(current.next_version(changes, now), version=latest.version + 1)
        self._repository.add(successor)
        self._repository.close(plan_id, current.version, now)
        self.invalidate_cache(plan_id)
        self._publisher.publish(
            [
                PlanVersionBumped(
                    plan_id=plan_id, version=successor.version, previous_version=current.version
                )
            ]
        )
        return successor

    def invalidate_cache(self, plan_id: str | None = None) -> None:
        """Drop cached lookups of ``plan_id`` (every plan when ``None``)."""
        with self._lock:
            if plan_id is None:
                self._lists.clear()
                self._exact.clear()
                self._in_force.clear()
            else:
                self._lists.pop(plan_id, None)
                self._in_force.pop(plan_id, None)
                for key in [key for key in self._exact if key[0] == plan_id]:
                    del self._exact[key]
