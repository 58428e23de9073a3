"""The worked dunning timeline driven by signed webhooks only (plus the daily sweep)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from compute_pricing import Billing, FakeClock
from compute_pricing.errors import PaymentPastDueError
from tests.conftest import START, BillingFactory
from tests.support.stripe_events import (
    deliver,
    event,
    invoice,
    pack_session,
    subscription,
    webhook_billing,
)

OK = "https://app.example.test/ok"


@pytest.fixture
def billing(make_billing: BillingFactory) -> Billing:
    """Stripe-priced billing with the test signing secret, on each store kind."""
    return webhook_billing(make_billing)


def send(billing: Billing, event_id: str, event_type: str, obj: dict[str, object]) -> str:
    """Deliver one signed event created at the clock's time; its result."""
    return deliver(billing, event(event_id, event_type, obj, billing.clock.now())).result


def pro_with_a_pack_then_failed(billing: Billing) -> None:
    """Webhooks: org_a subscribes to pro, buys the small pack, and its invoice fails at START."""
    pro = subscription(price="price_pro_m")
    assert "applied" == send(billing, "evt_sub", "customer.subscription.created", pro)
    billing.attribute("org_a", "run_0", None)  # first billed: pro v1 pinned
    paid = pack_session("cs_1", "pi_1")
    assert "applied" == send(billing, "evt_pack", "checkout.session.completed", paid)
    assert "applied" == send(billing, "evt_fail", "invoice.payment_failed", invoice("in_1"))


def test_grace_degraded_sweep_and_paid_after_the_sweep(billing: Billing, clock: FakeClock) -> None:
    """Day 0-6 flagged, 7-13 degraded, 14 swept to free/unpaid, invoice.paid -> pro back."""
    pro_with_a_pack_then_failed(billing)
    for day in range(7):
        clock.set(START + timedelta(days=day, hours=1))
        admission = billing.check_quota("org_a")
        assert (True, False) == (admission.payment_failing, admission.degraded), day
    assert 1 == billing.extras.debit("org_a", 1, "d_grace").units
    for day in range(7, 14):
        clock.set(START + timedelta(days=day, hours=1))
        admission = billing.check_quota("org_a")
        assert (True, True) == (admission.payment_failing, admission.degraded), day
        with pytest.raises(PaymentPastDueError):
            billing.extras.debit("org_a", 1, f"d_{day}")
        with pytest.raises(PaymentPastDueError):
            billing.create_extras_checkout("org_a", "small", OK, OK)
        with pytest.raises(PaymentPastDueError):
            billing.create_subscription_checkout("org_a", "price_starter_m", OK, OK)
    clock.set(START + timedelta(days=14, hours=1))
    assert 1 == billing.dunning_sweep().processed
    swept = billing.accounts.load("org_a")[0].subscription
    assert ("free", "unpaid") == (swept.plan_id, swept.status)
    clock.set(START + timedelta(days=14, hours=2))
    assert "applied" == send(billing, "evt_paid", "invoice.paid", invoice("in_1"))
    back = billing.accounts.load("org_a")[0].subscription
    assert ("pro", 1, "active", None) == (
        back.plan_id,
        back.plan_version,
        back.status,
        back.past_due_since,
    )
    assert 5_000 == billing.usage("org_a")["compute_quota"]
    assert 1 == billing.extras.debit("org_a", 1, "d_after").units


def test_invoice_paid_on_day_13_is_left_alone_by_the_sweep(
    billing: Billing, clock: FakeClock
) -> None:
    """invoice.paid on day 13: the day-14 sweep processes nothing and pro is kept."""
    pro_with_a_pack_then_failed(billing)
    clock.set(START + timedelta(days=13, hours=1))
    assert True is billing.check_quota("org_a").degraded
    assert "applied" == send(billing, "evt_paid", "invoice.paid", invoice("in_1"))
    clock.set(START + timedelta(days=14, hours=1))
    assert 0 == billing.dunning_sweep().processed
    kept = billing.accounts.load("org_a")[0].subscription
    assert ("pro", "active", None) == (kept.plan_id, kept.status, kept.past_due_since)
    admission = billing.check_quota("org_a")
    assert (False, False) == (admission.payment_failing, admission.degraded)
