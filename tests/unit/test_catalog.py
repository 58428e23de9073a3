"""Plan catalogs: exact versions, active versions, bumps, the cache and its invalidation."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from compute_pricing import (
    BillingConfig,
    CachedPlanCatalog,
    EventRecorder,
    FakeClock,
    InMemoryPlanRepository,
    PlanSettings,
    PlanVersionBumped,
    ReadOnlyCatalogError,
    StaticPlanCatalog,
    UnknownPlanError,
)
from compute_pricing.errors import InvalidInputError
from compute_pricing.plans import Plan
from tests.conftest import START

CONFIG = BillingConfig(
    plans=(
        PlanSettings(plan_id="free"),
        PlanSettings(
            plan_id="team", version=1, compute_quota=100, effective_until=START + timedelta(days=10)
        ),
        PlanSettings(
            plan_id="team", version=2, compute_quota=200, effective_from=START + timedelta(days=10)
        ),
    )
)


class CountingRepository(InMemoryPlanRepository):
    """Counts reads, to see what the cache saves."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def get(self, plan_id: str, version: int) -> Plan | None:
        """Count and read."""
        self.reads += 1
        return super().get(plan_id, version)

    def versions(self, plan_id: str) -> list[Plan]:
        """Count and read."""
        self.reads += 1
        return super().versions(plan_id)


def test_static_catalog_picks_the_version_in_force() -> None:
    """Before day 10 team is v1, from day 10 v2; exact lookups never fall back."""
    clock = FakeClock(START)
    catalog = StaticPlanCatalog(CONFIG, clock)
    assert 1 == catalog.get_active_plan("team").version
    assert 2 == catalog.get_active_plan("team", START + timedelta(days=10)).version
    assert 100 == catalog.get_plan_by_version("team", 1).compute_quota
    with pytest.raises(UnknownPlanError):
        catalog.get_plan_by_version("team", 3)
    with pytest.raises(UnknownPlanError):
        catalog.get_active_plan("gold")
    with pytest.raises(ReadOnlyCatalogError):
        catalog.bump_version("team", {"compute_quota": 5})
    assert ["free", "team"] == catalog.plan_ids()


def test_cached_catalog_caches_hits_but_never_a_miss() -> None:
    """Repeated lookups read the repository once; a miss is asked again every time."""
    clock = FakeClock(START)
    repository = CountingRepository()
    catalog = CachedPlanCatalog.seeded(repository, CONFIG, clock, EventRecorder())
    repository.reads = 0
    for _ in range(3):
        catalog.get_plan_by_version("team", 1)
        catalog.get_active_plan("team")
    assert 2 == repository.reads
    for _ in range(2):
        with pytest.raises(UnknownPlanError):
            catalog.get_plan_by_version("team", 9)
    assert 4 == repository.reads


def test_active_lookups_expire_after_the_ttl() -> None:
    """After an hour the active version is read again."""
    clock = FakeClock(START)
    repository = CountingRepository()
    catalog = CachedPlanCatalog.seeded(repository, CONFIG, clock, EventRecorder())
    catalog.get_active_plan("team")
    repository.reads = 0
    clock.advance(minutes=59)
    catalog.get_active_plan("team")
    clock.advance(minutes=1)
    catalog.get_active_plan("team")
    assert 1 == repository.reads


def test_remembered_active_version_changes_exactly_at_a_version_edge() -> None:
    """The cached catalog answers v1 up to the instant before day 10 and v2 from day 10 on."""
    clock = FakeClock(START)
    catalog = CachedPlanCatalog.seeded(InMemoryPlanRepository(), CONFIG, clock, EventRecorder())
    edge = START + timedelta(days=10)
    instants = [
        START,
        edge - timedelta(microseconds=1),
        edge,
        edge + timedelta(days=1),
        edge - timedelta(days=1),
        START - timedelta(days=1),
    ]
    assert [1, 1, 2, 2, 1, 1] == [catalog.get_active_plan("team", at).version for at in instants]
    assert ["free"] * 2 == [catalog.get_active_plan("free", at).plan_id for at in instants[:2]]


def test_bump_publishes_the_next_version_and_every_catalog_drops_its_cache() -> None:
    """bump_version closes v2, publishes v3 and a plan.version_bumped event others act on."""
    clock = FakeClock(START + timedelta(days=11))
    bus = EventRecorder()
    repository = InMemoryPlanRepository()
    writer = CachedPlanCatalog.seeded(repository, CONFIG, clock, bus)
    reader = CachedPlanCatalog(repository, clock, bus)
    assert 200 == reader.get_active_plan("team").compute_quota
    bumped = writer.bump_version("team", {"compute_quota": 300, "ratios": {"gpu": 2}})
    assert (3, Decimal(2)) == (bumped.version, bumped.ratio("gpu"))
    assert 300 == reader.get_active_plan("team").compute_quota
    assert [(3, 2)] == [
        (e.version, e.previous_version)
        for e in bus.of_type(PlanVersionBumped)
        if isinstance(e, PlanVersionBumped)
    ]
    closed = repository.get("team", 2)
    assert closed is not None
    assert (False, clock.now()) == (closed.active, closed.effective_until)


def test_bump_refuses_unknown_changes() -> None:
    """Only the plan's terms can change; a typo is an InvalidInputError."""
    clock = FakeClock(START)
    catalog = CachedPlanCatalog.seeded(InMemoryPlanRepository(), CONFIG, clock, EventRecorder())
    with pytest.raises(InvalidInputError):
        catalog.bump_version("team", {"quota": 5})
