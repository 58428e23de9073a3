"""Configuration validation and loading; clocks, week keys and month keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import tomli_w

from compute_pricing import BillingConfig, ClockError, ConfigError, FakeClock, SystemClock
from compute_pricing.errors import InvalidInputError
from compute_pricing.timekeeping import month_key, to_utc_ms, week_key


def test_defaults_match_the_design() -> None:
    """Every knob of docs/rules.md "Config" has its documented default."""
    config = BillingConfig()
    assert (False, 1, 1000, 10_000) == (
        config.compute_mode,
        config.compute.run_base_units,
        config.compute.dollars_to_compute,
        config.compute.max_compute_per_run,
    )
    assert ((80, 100), 7, 14, 30, 5, False) == (
        config.alerts.threshold_percents,
        config.grace_days,
        config.dunning_days,
        config.processed_event_ttl_days,
        config.webhook_max_attempts,
        config.stripe.automatic_tax,
    )
    quotas = {plan.plan_id: plan.compute_quota for plan in config.plans}
    assert {"free": 0, "starter": 50_000, "pro": 500_000, "enterprise": 2_000_000} == quotas


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"compute": {"max_compute_per_run": 0}}, "compute.max_compute_per_run"),
        ({"plans": [{"plan_id": "free", "compute_quota": -1}]}, "plans.0.compute_quota"),
        ({"plans": [{"plan_id": "free", "ratios": {"gpu": -1}}]}, "plans.0.ratios"),
        ({"plans": [{"plan_id": "free", "limits": {"nodot": 1}}]}, "plans.0.limits"),
        ({"packs": [{"pack_id": "p", "units": 0, "price_cents": 1}]}, "packs.0.units"),
        ({"grace_days": 20}, "config"),
        ({"default_plan": "gold"}, "config"),
        ({"compute_mod": True}, "compute_mod"),
    ],
)
def test_invalid_values_fail_naming_the_field(data: dict[str, object], field: str) -> None:
    """ConfigError.field is the dotted path of the first bad value."""
    with pytest.raises(ConfigError) as caught:
        BillingConfig.from_dict(data)
    assert field == caught.value.field


def test_duplicate_plan_versions_and_pack_ids_are_refused() -> None:
    """(plan_id, version) and pack ids are unique."""
    with pytest.raises(ConfigError, match="defined twice"):
        BillingConfig.from_dict({"plans": [{"plan_id": "free"}, {"plan_id": "free"}]})
    pack = {"pack_id": "p", "units": 1, "price_cents": 1}
    with pytest.raises(ConfigError, match="unique"):
        BillingConfig.from_dict({"packs": [pack, pack]})


def test_loads_from_toml_with_or_without_a_table(tmp_path: Path) -> None:
    """A file with a [compute_pricing] table, or flat keys, loads the same config."""
    data = {"compute_mode": True, "packs": [{"pack_id": "p", "units": 5, "price_cents": 100}]}
    flat = tmp_path / "flat.toml"
    flat.write_text(tomli_w.dumps(data))
    nested = tmp_path / "nested.toml"
    nested.write_text(tomli_w.dumps({"compute_pricing": data}))
    assert BillingConfig.from_toml(flat) == BillingConfig.from_toml(nested)
    assert 5 == BillingConfig.from_toml(flat).packs[0].units


def test_infinite_limits_load_from_toml(tmp_path: Path) -> None:
    """``inf`` in TOML is an unlimited legacy counter."""
    path = tmp_path / "c.toml"
    path.write_text('[[plans]]\nplan_id = "free"\nlimits = { "documents.create" = inf }\n')
    assert float("inf") == BillingConfig.from_toml(path).plans[0].limits["documents.create"]


def test_fake_clock_moves_forward_only() -> None:
    """advance and set move forward; going back raises ClockError."""
    clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
    assert datetime(2026, 1, 2, tzinfo=UTC) == clock.advance(days=1)
    assert datetime(2026, 1, 3, tzinfo=UTC) == clock.set(datetime(2026, 1, 3, tzinfo=UTC))
    with pytest.raises(ClockError):
        clock.advance(timedelta(seconds=-1))
    with pytest.raises(ClockError):
        clock.set(datetime(2026, 1, 1, tzinfo=UTC))


def test_instants_are_aware_utc_milliseconds() -> None:
    """Microseconds truncate to milliseconds; other zones convert; naive is refused."""
    plus2 = timezone(timedelta(hours=2))
    assert datetime(2026, 1, 1, 10, 0, 0, 123000, tzinfo=UTC) == to_utc_ms(
        datetime(2026, 1, 1, 12, 0, 0, 123999, tzinfo=plus2)
    )
    with pytest.raises(InvalidInputError):
        to_utc_ms(datetime(2026, 1, 1))  # noqa: DTZ001 - the naive value under test
    now = SystemClock().now()
    assert (UTC, 0) == (now.tzinfo, now.microsecond % 1000)


def test_week_keys_include_53_week_years_and_read_utc() -> None:
    """2026-12-31 is in 2026-W53; Monday 01:00 at +02:00 is still Sunday in UTC."""
    assert "2026-W53" == week_key(datetime(2026, 12, 31, tzinfo=UTC))
    assert "2027-W01" == week_key(datetime(2027, 1, 4, tzinfo=UTC))
    plus2 = timezone(timedelta(hours=2))
    assert "2026-W01" == week_key(datetime(2026, 1, 5, 1, tzinfo=plus2))
    assert "2026-02" == month_key(datetime(2026, 2, 28, 23, tzinfo=UTC))
