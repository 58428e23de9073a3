"""Legacy mode (compute mode off, the default): monthly resource.action counters and 429."""

from __future__ import annotations

from decimal import Decimal

import pytest

from compute_pricing import (
    Billing,
    BillingConfig,
    FakeClock,
    InvalidAmountError,
    InvalidNameError,
    OrganizationRequiredError,
    QuotaExceededError,
)
from tests.conftest import BillingFactory, legacy_config


@pytest.fixture
def legacy(make_billing: BillingFactory) -> Billing:
    """Legacy-mode billing on the current store kind."""
    return make_billing(legacy_config())


def test_compute_mode_is_off_by_default() -> None:
    """A default config is legacy mode."""
    assert False is BillingConfig().compute_mode


def test_counter_at_its_limit_is_429_with_its_numbers(legacy: Billing) -> None:
    """Free allows 3 documents a month: the 4th check raises QuotaExceededError."""
    for _ in range(3):
        legacy.check_quota("org_a", "documents", "create")
        legacy.record_usage("org_a", "documents", "create")
    with pytest.raises(QuotaExceededError) as caught:
        legacy.check_quota("org_a", "documents", "create")
    assert 429 == caught.value.status
    assert {
        "error": "QUOTA_EXCEEDED",
        "resource": "documents",
        "action": "create",
        "limit": 3,
        "current": 3,
        "upgrade_url": "https://example.test/upgrade",
    } == {k: v for k, v in caught.value.to_dict().items() if k != "message"}


def test_remaining_counts_down(legacy: Billing) -> None:
    """The admission says how many uses are left this month."""
    legacy.record_usage("org_a", "documents", "create", amount=2)
    assert 1 == legacy.check_quota("org_a", "documents", "create").remaining


def test_no_limit_or_infinite_limit_is_always_allowed(legacy: Billing) -> None:
    """A counter without a limit, or with an infinite one, is admitted unmetered."""
    legacy.subscribe("org_a", "team")
    for _ in range(5):
        legacy.record_usage("org_a", "documents", "export")
    assert None is legacy.check_quota("org_a", "documents", "export").remaining
    assert None is legacy.check_quota("org_a", "images", "upload").remaining
    assert None is legacy.check_quota("org_a").remaining


def test_paid_plan_limits_apply_while_active(legacy: Billing) -> None:
    """A team org gets team's limit of 100."""
    legacy.subscribe("org_a", "team")
    legacy.record_usage("org_a", "documents", "create", amount=50)
    assert 50 == legacy.check_quota("org_a", "documents", "create").remaining


@pytest.mark.parametrize("status", ["past_due", "canceled", "unpaid", "incomplete"])
def test_inactive_subscription_is_limited_as_free(legacy: Billing, status: str) -> None:
    """A team org whose subscription is not active/trialing gets free's limit of 3."""
    legacy.subscribe("org_a", "team", status=status)
    legacy.record_usage("org_a", "documents", "create", amount=3)
    with pytest.raises(QuotaExceededError) as caught:
        legacy.check_quota("org_a", "documents", "create")
    assert 3 == caught.value.limit


def test_counters_restart_each_month(legacy: Billing, clock: FakeClock) -> None:
    """January's usage does not count in February."""
    legacy.record_usage("org_a", "documents", "create", amount=3)
    clock.advance(days=31)
    assert 3 == legacy.check_quota("org_a", "documents", "create").remaining
    assert 1 == legacy.record_usage("org_a", "documents", "create")


def test_usage_has_the_legacy_shape(legacy: Billing) -> None:
    """``usage()`` is ``{plan, period, usage, limits}``."""
    legacy.record_usage("org_a", "documents", "create", amount=2)
    assert {
        "plan": "free",
        "period": "2026-01",
        "usage": {"documents.create": 2},
        "limits": {"documents.create": 3},
    } == legacy.usage("org_a").to_dict()


def test_record_usage_with_a_key_counts_once(legacy: Billing) -> None:
    """A retried record_usage with the same key is not counted twice."""
    assert 1 == legacy.record_usage("org_a", "documents", "create", key="req_1")
    assert 1 == legacy.record_usage("org_a", "documents", "create", key="req_1")
    assert 2 == legacy.record_usage("org_a", "documents", "create", key="req_2")


@pytest.mark.parametrize(
    ("resource", "action", "field"),
    [("Documents", "create", "resource"), ("documents", "", "action"), ("doc.x", "a", "resource")],
)
def test_malformed_names_are_refused_and_nothing_is_written(
    legacy: Billing, resource: str, action: str, field: str
) -> None:
    """Counter names must be lower-case words; the bad part is named."""
    with pytest.raises(InvalidNameError) as caught:
        legacy.record_usage("org_a", resource, action)
    assert field == caught.value.field
    assert [] == list(legacy.accounts.store.read_journal("org_a"))


@pytest.mark.parametrize("amount", [0, -1, 1.5, True])
def test_amount_must_be_a_positive_whole_number(legacy: Billing, amount: object) -> None:
    """Negative, zero, fractional or boolean amounts raise InvalidAmountError."""
    with pytest.raises(InvalidAmountError):
        legacy.record_usage("org_a", "documents", "create", amount=amount)  # type: ignore[arg-type]
    assert [] == list(legacy.accounts.store.read_journal("org_a"))


def test_every_compute_call_is_a_no_op(legacy: Billing) -> None:
    """attribute, reserve, release, reset_week and reset_all_due do nothing in legacy mode."""
    assert "compute_mode_off" == legacy.attribute("org_a", "run_1", {"x": Decimal(1)}).reason
    hold = legacy.reserve("org_a", 5)
    assert (0, False) == (hold.units, legacy.release(hold))
    assert False is legacy.reset_week("org_a")["applied"]
    assert 0 == legacy.reset_all_due().processed
    assert [] == list(legacy.accounts.store.read_journal("org_a"))


def test_no_org_is_403(legacy: Billing) -> None:
    """A request without an org context is refused before anything is read."""
    with pytest.raises(OrganizationRequiredError):
        legacy.check_quota(None, "documents", "create")  # type: ignore[arg-type]
