"""The worked dunning timeline, driven by the Stripe facts (grace, degraded, sweep, recovery)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from compute_pricing import Billing, FakeClock
from compute_pricing.errors import PaymentPastDueError, PlanNotConfiguredError
from tests.conftest import START, BillingFactory
from tests.support.stripe_accounts import CatalogWithout, stripe_billing, sub

OK = "https://app.example.test/ok"


@pytest.fixture
def billing(make_billing: BillingFactory) -> Billing:
    """Stripe-priced billing with a fake gateway, on each store kind."""
    return stripe_billing(make_billing)


def pro_then_failed(billing: Billing) -> None:
    """org_a on pro v1 (pinned by a first charge) with a pack; its invoice fails at START."""
    billing.subscription_changed(
        "org_a", sub(prices=("price_pro_m",)), event_id="evt_sub", event_created=START
    )
    billing.attribute("org_a", "run_0", None)  # first billed: pro v1 pinned
    billing.extras_pack_paid("org_a", "small", "cs_1", "pi_1")
    billing.plans.bump_version("pro", {"compute_quota": 9_000})  # v2 exists; org stays on v1
    billing.invoice_payment_failed(
        "org_a", has_subscription=True, event_id="evt_fail", event_created=START
    )


def test_grace_then_degraded_then_swept_then_paid_restores_plan_and_version(
    billing: Billing, clock: FakeClock
) -> None:
    """Day 0-6 flagged, 7-13 degraded, 14 swept to free/unpaid, paid -> pro v1 back."""
    pro_then_failed(billing)
    for day in range(7):
        clock.set(START + timedelta(days=day, hours=1))
        admission = billing.check_quota("org_a")
        assert (True, False) == (admission.payment_failing, admission.degraded), day
    assert 1 == billing.extras.debit("org_a", 1, "d_grace").units
    for day in range(7, 14):
        clock.set(START + timedelta(days=day, hours=1))
        assert True is billing.check_quota("org_a").degraded, day
        with pytest.raises(PaymentPastDueError):
            billing.extras.debit("org_a", 1, f"d_{day}")
        with pytest.raises(PaymentPastDueError):
            billing.create_extras_checkout("org_a", "small", OK, OK)
    clock.set(START + timedelta(days=14, hours=1))
    assert 1 == billing.dunning_sweep().processed
    swept = billing.accounts.load("org_a")[0].subscription
    assert ("free", "unpaid") == (swept.plan_id, swept.status)
    assert 0 == billing.dunning_sweep().processed  # a second sweep finds nothing to do
    paid = billing.invoice_paid(
        "org_a", event_id="evt_paid", event_created=START + timedelta(days=14, hours=2)
    )
    assert ("applied", "pro") == (paid.status, paid.outcome["restored_plan_id"])
    back = billing.accounts.load("org_a")[0].subscription
    assert ("pro", 1, "active", None) == (
        back.plan_id,
        back.plan_version,
        back.status,
        back.past_due_since,
    )
    assert 5_000 == billing.usage("org_a")["compute_quota"]
    assert 1 == billing.extras.debit("org_a", 1, "d_after").units


def test_invoice_paid_on_day_13_leaves_the_sweep_nothing_and_keeps_the_plan(
    billing: Billing, clock: FakeClock
) -> None:
    """Paid on day 13: dunning cleared, the day-14 sweep skips the org, pro kept."""
    pro_then_failed(billing)
    clock.set(START + timedelta(days=13))
    billing.invoice_paid("org_a", event_id="evt_paid", event_created=clock.now())
    clock.set(START + timedelta(days=14, hours=1))
    assert 0 == billing.dunning_sweep().processed
    kept = billing.accounts.load("org_a")[0].subscription
    assert ("pro", 1, "active") == (kept.plan_id, kept.plan_version, kept.status)


def test_admin_payment_succeeded_after_a_sweep_restores_the_plan(
    billing: Billing, clock: FakeClock
) -> None:
    """The direct payment_succeeded call restores like the webhook does."""
    pro_then_failed(billing)
    clock.set(START + timedelta(days=15))
    billing.dunning_sweep()
    outcome = billing.payment_succeeded("org_a", "in_1")
    assert "pro" == outcome["restored_plan_id"]
    assert "pro" == billing.usage("org_a")["plan"]


def test_a_subscription_event_older_than_the_sweep_does_not_undo_it(
    billing: Billing, clock: FakeClock
) -> None:
    """The sweep moves the subscription watermark: an update created before it is stale."""
    pro_then_failed(billing)
    clock.set(START + timedelta(days=15))
    billing.dunning_sweep()
    late = billing.subscription_changed(
        "org_a",
        sub("past_due", prices=("price_pro_m",)),
        event_id="evt_old",
        event_created=START + timedelta(days=3),
    )
    assert "stale" == late.status
    assert "free" == billing.usage("org_a")["plan"]


def test_a_sweep_before_the_first_charge_restores_the_plan_on_payment(
    billing: Billing, clock: FakeClock
) -> None:
    """Never billed (no version pinned) when swept: payment puts the plan's active version back."""
    billing.subscribe("org_a", "starter")
    billing.payment_failed("org_a", "in_1")
    clock.advance(days=15)
    billing.dunning_sweep()
    billing.payment_succeeded("org_a", "in_2")
    back = billing.accounts.load("org_a")[0].subscription
    assert ("starter", 1, "active") == (back.plan_id, back.plan_version, back.status)


def test_a_restore_plan_no_longer_configured_is_a_503(
    make_billing: BillingFactory, clock: FakeClock
) -> None:
    """The plan put aside was removed from the catalog: PlanNotConfiguredError, nothing written."""
    billing = stripe_billing(make_billing)
    pro_then_failed(billing)
    clock.set(START + timedelta(days=15))
    billing.dunning_sweep()
    billing.accounts.catalog = CatalogWithout("pro", billing.accounts.catalog)
    entries = len(billing.stores.accounts.read_journal("org_a"))
    with pytest.raises(PlanNotConfiguredError):
        billing.invoice_paid("org_a", event_id="evt_paid", event_created=clock.now())
    assert entries == len(billing.stores.accounts.read_journal("org_a"))
