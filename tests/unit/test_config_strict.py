"""Strict configuration: no coercion, bounds on amounts and days, Stripe maps, redirect hosts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from compute_pricing import BillingConfig, ConfigError
from compute_pricing.config import MAX_DAYS, ComputeSettings, PackSettings, PlanSettings
from compute_pricing.validation import MAX_UNITS

_PACK = {"pack_id": "boost", "units": 1000, "price_cents": 900}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"packs": [{**_PACK, "price_cents": "9.00"}]}, "packs.0.price_cents"),
        ({"compute_mode": "yes"}, "compute_mode"),
        ({"compute_mode": 1}, "compute_mode"),
        ({"plans": [{"plan_id": "free", "compute_quota": "1000"}]}, "plans.0.compute_quota"),
        ({"plans": [{"plan_id": "free", "compute_quota": 10.0}]}, "plans.0.compute_quota"),
        ({"compute": {"dollars_to_compute": "1000"}}, "compute.dollars_to_compute"),
        ({"plans": [{"plan_id": "free", "ratios": {"gpu": "2"}}]}, "plans.0.ratios.gpu"),
        ({"plans": [{"plan_id": "free", "active": "false"}]}, "plans.0.active"),
        ({"grace_days": "7"}, "grace_days"),
        ({"stripe": {"automatic_tax": "on"}}, "stripe.automatic_tax"),
        ({"stripe": {"webhook_secret": 42}}, "stripe.webhook_secret"),
        ({"plans": [{"plan_id": 7}]}, "plans.0.plan_id"),
        (
            {"plans": [{"plan_id": "free", "effective_from": "2026-01-01T00:00:00Z"}]},
            "plans.0.effective_from",
        ),
    ],
)
def test_strings_are_never_coerced(data: dict[str, Any], field: str) -> None:
    """A string (or number) where another type belongs is refused, naming the dotted field."""
    with pytest.raises(ConfigError) as caught:
        BillingConfig.from_dict(data)

    assert field == caught.value.field


def test_direct_construction_raises_config_error_naming_the_field() -> None:
    """BillingConfig(...) and every settings class raise ConfigError, never a raw pydantic error."""
    with pytest.raises(ConfigError) as top:
        BillingConfig(compute_mode="yes")  # type: ignore[arg-type]
    with pytest.raises(ConfigError) as nested:
        BillingConfig(plans=({"plan_id": "free", "compute_quota": "1"},))  # type: ignore[arg-type]
    with pytest.raises(ConfigError) as plan:
        PlanSettings(plan_id="free", compute_quota="1")  # type: ignore[arg-type]
    with pytest.raises(ConfigError) as compute:
        ComputeSettings(max_compute_per_run=0)

    assert ("compute_mode", "plans.0.compute_quota", "compute_quota", "max_compute_per_run") == (
        top.value.field,
        nested.value.field,
        plan.value.field,
        compute.value.field,
    )


def test_native_toml_values_still_load(tmp_path: Path) -> None:
    """Integers, floats for ratios, strings, bools, datetimes and arrays load as before."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    data = {
        "compute_mode": True,
        "plans": [
            {"plan_id": "free"},
            {"plan_id": "pro", "compute_quota": 500, "ratios": {"gpu": 2.5, "llm": 1}},
            {"plan_id": "pro", "version": 2, "effective_from": start},
        ],
        "packs": [_PACK],
        "alerts": {"threshold_percents": [100, 80]},
        "allowed_redirect_hosts": ["app.example.com"],
        "exempt_orgs": ["internal"],
        "stripe": {"webhook_secret": ["whsec_new", "whsec_old"]},
    }
    path = tmp_path / "billing.toml"
    path.write_text(tomli_w.dumps(data), encoding="utf-8")

    config = BillingConfig.from_toml(path)

    assert (True, 2.5, 1.0, start, (80, 100)) == (
        config.compute_mode,
        config.plans[1].ratios["gpu"],
        config.plans[1].ratios["llm"],
        config.plans[2].effective_from,
        config.alerts.threshold_percents,
    )
    assert ("whsec_new", "whsec_old") == config.stripe.webhook_secrets()


def test_a_toml_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    """A file that is not TOML raises ConfigError with the position of the error."""
    path = tmp_path / "broken.toml"
    path.write_text("compute_mode = true\ngrace_days = = 3\n", encoding="utf-8")

    with pytest.raises(ConfigError) as caught:
        BillingConfig.from_toml(path)

    assert "toml" == caught.value.field
    assert "line 2, column" in caught.value.reason


def test_a_missing_toml_file_is_a_config_error(tmp_path: Path) -> None:
    """A missing file is reported as a ConfigError, not a raw OSError."""
    with pytest.raises(ConfigError, match="no such file"):
        BillingConfig.from_toml(tmp_path / "absent.toml")


def test_an_unreadable_toml_path_is_a_config_error(tmp_path: Path) -> None:
    """A path that cannot be read (a directory) is a ConfigError naming why."""
    with pytest.raises(ConfigError, match="cannot read"):
        BillingConfig.from_toml(tmp_path)


def test_a_non_mapping_is_refused() -> None:
    """from_dict wants a mapping of setting names."""
    with pytest.raises(ConfigError) as caught:
        BillingConfig.from_dict({1: True})  # type: ignore[dict-item]

    assert "config" == caught.value.field


def test_the_webhook_secret_is_never_printed_but_round_trips(tmp_path: Path) -> None:
    """repr and str hide the secret; to_toml_dict writes it so the file loads back equal."""
    config = BillingConfig.from_dict({"stripe": {"webhook_secret": "whsec_topsecret"}})
    path = tmp_path / "billing.toml"
    path.write_text(tomli_w.dumps(config.to_toml_dict()), encoding="utf-8")

    assert "whsec_topsecret" not in repr(config)
    assert "whsec_topsecret" not in str(config)
    assert "whsec_topsecret" not in repr(config.model_dump())
    assert config == BillingConfig.from_toml(path)
    assert ("whsec_topsecret",) == BillingConfig.from_toml(path).stripe.webhook_secrets()


# -- upper bounds ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"plans": [{"plan_id": "free", "compute_quota": MAX_UNITS + 1}]}, "plans.0.compute_quota"),
        ({"plans": [{"plan_id": "free", "signup_grant": 10**19}]}, "plans.0.signup_grant"),
        ({"packs": [{**_PACK, "units": 10**19}]}, "packs.0.units"),
        ({"packs": [{**_PACK, "price_cents": MAX_UNITS + 1}]}, "packs.0.price_cents"),
        ({"packs": [{**_PACK, "expiry_days": MAX_DAYS + 1}]}, "packs.0.expiry_days"),
        ({"packs": [{**_PACK, "expiry_days": 10**7}]}, "packs.0.expiry_days"),
        ({"compute": {"max_compute_per_run": MAX_UNITS + 1}}, "compute.max_compute_per_run"),
        ({"compute": {"run_base_units": MAX_UNITS + 1}}, "compute.run_base_units"),
        ({"compute": {"dollars_to_compute": MAX_UNITS + 1}}, "compute.dollars_to_compute"),
        ({"compute": {"max_categories_per_run": 257}}, "compute.max_categories_per_run"),
        ({"compute": {"max_breakdown_categories": 0}}, "compute.max_breakdown_categories"),
        ({"grace_days": 366, "dunning_days": 367}, "grace_days"),
        ({"dunning_days": 367}, "dunning_days"),
        ({"processed_event_ttl_days": 3661}, "processed_event_ttl_days"),
        ({"reservation_ttl_seconds": 366 * 24 * 3600 + 1}, "reservation_ttl_seconds"),
        ({"webhook_max_attempts": 101}, "webhook_max_attempts"),
        ({"max_commit_attempts": 1001}, "max_commit_attempts"),
        ({"plans": [{"plan_id": "free", "version": 10**7}]}, "plans.0.version"),
        ({"plans": [{"plan_id": "free", "ratios": {"gpu": 1001.0}}]}, "plans.0.ratios"),
        ({"plans": [{"plan_id": "free", "limits": {"a.b": 1e13}}]}, "plans.0.limits"),
        ({"alerts": {"threshold_percents": list(range(1, 18))}}, "alerts.threshold_percents"),
    ],
)
def test_amounts_and_day_counts_are_bounded(data: dict[str, Any], field: str) -> None:
    """Every amount stays within the storage cap and every day count within a century."""
    with pytest.raises(ConfigError) as caught:
        BillingConfig.from_dict(data)

    assert field == caught.value.field


def test_the_largest_allowed_values_are_usable() -> None:
    """At the bounds, quantities are accepted and the longest expiry is a valid datetime."""
    pack = PackSettings(pack_id="p", units=MAX_UNITS, price_cents=MAX_UNITS, expiry_days=MAX_DAYS)
    plan = PlanSettings(plan_id="free", compute_quota=MAX_UNITS, signup_grant=MAX_UNITS)
    now = datetime(2026, 12, 2, tzinfo=UTC)

    assert (MAX_UNITS, MAX_UNITS) == (pack.units, plan.compute_quota)
    assert now.year + 99 <= (now + timedelta(days=pack.expiry_days or 0)).year


# -- Stripe prices and redirects -------------------------------------------------------------


def _priced() -> BillingConfig:
    return BillingConfig.from_dict(
        {
            "plans": [
                {"plan_id": "free"},
                {"plan_id": "pro", "stripe_price_monthly": "price_pro_m"},
                {"plan_id": "pro", "version": 2, "stripe_price_annual": "price_pro_y"},
                {"plan_id": "team", "stripe_price_monthly": "price_team_m"},
            ],
            "packs": [{**_PACK, "stripe_price": "price_boost"}],
        }
    )


def test_prices_map_to_their_plan_and_pack() -> None:
    """plan_for_price and pack_for_price read each plan's and pack's Stripe prices."""
    config = _priced()

    assert ("pro", "pro", "team", None, None) == (
        config.plan_for_price("price_pro_m"),
        config.plan_for_price("price_pro_y"),
        config.plan_for_price("price_team_m"),
        config.plan_for_price("price_boost"),
        config.plan_for_price("price_unknown"),
    )
    pack = config.pack_for_price("price_boost")
    assert "boost" == (pack.pack_id if pack else None)
    assert config.pack_for_price("price_pro_m") is None


@pytest.mark.parametrize(
    "data",
    [
        {
            "plans": [
                {"plan_id": "free", "stripe_price_monthly": "price_x"},
                {"plan_id": "pro", "stripe_price_annual": "price_x"},
            ]
        },
        {
            "plans": [{"plan_id": "free", "stripe_price_monthly": "price_x"}],
            "packs": [{**_PACK, "stripe_price": "price_x"}],
        },
        {
            "packs": [
                {**_PACK, "stripe_price": "price_x"},
                {**_PACK, "pack_id": "other", "stripe_price": "price_x"},
            ]
        },
    ],
)
def test_a_price_billing_two_things_is_refused(data: dict[str, Any]) -> None:
    """One Stripe price names one plan or one pack, never two."""
    with pytest.raises(ConfigError, match="price_x"):
        BillingConfig.from_dict(data)


def test_automatic_tax_is_off_unless_asked_for() -> None:
    """stripe.automatic_tax defaults to off and loads a TOML bool."""
    assert (False, True) == (
        BillingConfig().stripe.automatic_tax,
        BillingConfig.from_dict({"stripe": {"automatic_tax": True}}).stripe.automatic_tax,
    )


@pytest.mark.parametrize("host", ["", "-bad.example", "a b.example", "x" * 64 + ".com", "a/b"])
def test_redirect_hosts_must_be_host_names(host: str) -> None:
    """Each allow-list entry is a host name; anything else names the field."""
    with pytest.raises(ConfigError) as caught:
        BillingConfig.from_dict({"allowed_redirect_hosts": [host]})

    assert "allowed_redirect_hosts" == caught.value.field


def test_redirects_are_https_to_listed_hosts_unless_http_is_allowed() -> None:
    """https to a listed host passes; http only with allow_http_redirects; others never."""
    strict = BillingConfig.from_dict({"allowed_redirect_hosts": ["App.Example.com", "127.0.0.1"]})
    lenient = BillingConfig.from_dict(
        {"allowed_redirect_hosts": ["127.0.0.1"], "allow_http_redirects": True}
    )

    assert ("app.example.com", "127.0.0.1") == strict.allowed_redirect_hosts
    assert [True, False, False, False, False] == [
        strict.redirect_allowed("https://app.example.com/done?x=1"),
        strict.redirect_allowed("http://app.example.com/done"),
        strict.redirect_allowed("https://evil.example/done"),
        strict.redirect_allowed("javascript:alert(1)"),
        strict.redirect_allowed("https://[::1"),
    ]
    assert [True, True, False] == [
        lenient.redirect_allowed("http://127.0.0.1:8000/ok"),
        lenient.redirect_allowed("https://127.0.0.1/ok"),
        lenient.redirect_allowed("ftp://127.0.0.1/ok"),
    ]


@pytest.mark.parametrize("secret", ["", [], ["whsec_a", ""]])
def test_an_empty_webhook_secret_is_refused(secret: object) -> None:
    """An empty signing secret (which anyone could sign with) is refused on the field."""
    with pytest.raises(ConfigError) as caught:
        BillingConfig.from_dict({"stripe": {"webhook_secret": secret}})

    assert ("stripe.webhook_secret", "must be a non-empty secret or a non-empty list of them") == (
        caught.value.field,
        caught.value.reason,
    )


@pytest.mark.parametrize(
    ("plan", "field"),
    [
        ({"effective_from": datetime(2026, 1, 1)}, "plans.0.effective_from"),  # noqa: DTZ001
        ({"limits": {"documents.create": 2.5}}, "plans.0.limits"),
        ({"ratios": {"gpu/hour": 1.0}}, "plans.0.ratios.gpu/hour"),
    ],
)
def test_plan_terms_are_checked(plan: dict[str, Any], field: str) -> None:
    """Naive instants, fractional limits and badly named ratio categories name their field."""
    with pytest.raises(ConfigError) as caught:
        BillingConfig.from_dict({"plans": [{"plan_id": "free", **plan}]})

    assert field == caught.value.field
