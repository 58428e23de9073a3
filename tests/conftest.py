"""Shared fixtures: a fake clock, compute and legacy configs, and a Billing factory."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, settings

from compute_pricing import Billing, BillingConfig, FakeClock, PackSettings, PlanSettings
from compute_pricing.memory import SequentialIds
from tests.support.stores import STORE_KINDS, activate
from tests.support.tiers import REAL_URI_ENV

# Mongo tiers: session wire server, fresh databases, the ``mongo_wire_stores`` store kind.
pytest_plugins = ["tests.support.mongo_fixtures"]

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_configure(config: pytest.Config) -> None:
    """Register the real-MongoDB tier's marker."""
    config.addinivalue_line("markers", "real_mongodb: needs the real MongoDB named by the URI")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without a real MongoDB URI, leave that tier's tests out (one status test reports it)."""
    if os.environ.get(REAL_URI_ENV):
        return
    tier = [item for item in items if item.get_closest_marker("real_mongodb")]
    if tier:
        config.hook.pytest_deselected(items=tier)
        items[:] = [item for item in items if not item.get_closest_marker("real_mongodb")]


#: Monday 2026-01-05 09:00 UTC, week 2026-W02.
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

BillingFactory = Callable[..., Billing]


def compute_config(**overrides: object) -> BillingConfig:
    """Compute mode with small, readable numbers: starter 1,000 units/week, a 500-unit pack."""
    values: dict[str, object] = {
        "compute_mode": True,
        "plans": (
            PlanSettings(plan_id="free", compute_quota=0),
            PlanSettings(
                plan_id="starter",
                compute_quota=1_000,
                ratios={"default": 1, "scrap": 1, "autofix": 2},
            ),
            PlanSettings(plan_id="pro", compute_quota=5_000),
        ),
        "packs": (
            PackSettings(pack_id="small", units=500, price_cents=900, expiry_days=30),
            PackSettings(pack_id="big", units=500_000, price_cents=4_900, expiry_days=365),
            PackSettings(pack_id="forever", units=100, price_cents=100),
        ),
        "upgrade_url": "https://example.test/upgrade",
    }
    values.update(overrides)
    return BillingConfig.model_validate(values)


def legacy_config(**overrides: object) -> BillingConfig:
    """Compute mode off; free allows 3 documents a month, team 100, exports unlimited."""
    values: dict[str, object] = {
        "plans": (
            PlanSettings(plan_id="free", limits={"documents.create": 3}),
            PlanSettings(
                plan_id="team", limits={"documents.create": 100, "documents.export": float("inf")}
            ),
        ),
        "upgrade_url": "https://example.test/upgrade",
    }
    values.update(overrides)
    return BillingConfig.model_validate(values)


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock at :data:`START`."""
    return FakeClock(START)


@pytest.fixture(params=sorted(STORE_KINDS))
def store_kind(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each registered store back end in turn (``STORE_KINDS[kind](clock)`` works meanwhile)."""
    kind = str(request.param)
    with activate(kind, request):
        yield kind


@pytest.fixture
def make_billing(clock: FakeClock, store_kind: str) -> BillingFactory:
    """Build a :class:`Billing` on the current store kind: ``make_billing(config)``."""

    def build(config: BillingConfig | None = None) -> Billing:
        stores = STORE_KINDS[store_kind](clock)
        return Billing(config or compute_config(), stores=stores, clock=clock, ids=SequentialIds())

    return build


@pytest.fixture
def billing(make_billing: BillingFactory) -> Billing:
    """Compute-mode billing on the current store kind."""
    return make_billing(compute_config())
