"""Seeding a repository-backed catalog refuses a config that edits a published plan version."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from compute_pricing import BillingConfig, ConfigError
from compute_pricing.catalog import CachedPlanCatalog
from compute_pricing.memory import EventRecorder, InMemoryPlanRepository
from compute_pricing.ports import PlanRepository
from compute_pricing.timekeeping import FakeClock
from compute_pricing_mongo import MongoStores
from tests.support.mongo_fixtures import DatabaseFactory

_T0 = datetime(2026, 1, 5, tzinfo=UTC)


def _config(quota: int, *, ratio: float = 1.0) -> BillingConfig:
    return BillingConfig.from_dict(
        {
            "plans": [
                {"plan_id": "free"},
                {"plan_id": "pro", "compute_quota": quota, "ratios": {"gpu": ratio}},
            ]
        }
    )


@pytest.fixture(params=["memory", "mongomock"])
def repository_factory(
    request: pytest.FixtureRequest, mongomock_databases: DatabaseFactory
) -> Callable[[], PlanRepository]:
    """A maker of one shared plan repository, in memory or on mongomock."""
    if request.param == "memory":
        shared: PlanRepository = InMemoryPlanRepository()
    else:
        plans = MongoStores(mongomock_databases()).plans
        assert plans is not None
        shared = plans
    return lambda: shared


def _seed(repository: PlanRepository, config: BillingConfig) -> CachedPlanCatalog:
    return CachedPlanCatalog.seeded(repository, config, FakeClock(_T0), EventRecorder())


def test_an_edited_published_version_is_refused_with_the_bump_message(
    repository_factory: Callable[[], PlanRepository],
) -> None:
    """Changing pro v1's quota in the config after it was published refuses to start."""
    repository = repository_factory()
    _seed(repository, _config(500_000))

    with pytest.raises(ConfigError) as caught:
        _seed(repository, _config(600_000))

    assert "plans.1.compute_quota" == caught.value.field
    assert "bump the version" in caught.value.reason
    assert 500_000 == repository.get("pro", 1).compute_quota  # type: ignore[union-attr]


def test_an_edited_ratio_is_refused_too(repository_factory: Callable[[], PlanRepository]) -> None:
    """Ratios are terms of a version: editing one is refused as well."""
    repository = repository_factory()
    _seed(repository, _config(500_000, ratio=2.0))

    with pytest.raises(ConfigError) as caught:
        _seed(repository, _config(500_000, ratio=3.0))

    assert "plans.1.ratios" == caught.value.field


def test_the_same_config_seeds_again_and_a_bumped_version_still_starts(
    repository_factory: Callable[[], PlanRepository],
) -> None:
    """Restarting with an unchanged config is fine, also after a bump closed version 1."""
    repository = repository_factory()
    catalog = _seed(repository, _config(500_000, ratio=2.5))
    catalog.bump_version("pro", {"compute_quota": 700_000})

    again = _seed(repository, _config(500_000, ratio=2.5))

    assert 700_000 == again.get_active_plan("pro", _T0).compute_quota
