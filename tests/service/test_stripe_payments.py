"""What Stripe's invoice, pack, refund and dispute facts do to an account."""

from __future__ import annotations

from datetime import timedelta

import pytest

from compute_pricing import Billing, FakeClock
from compute_pricing import events as ev
from compute_pricing.errors import IdempotencyConflictError, PaymentPastDueError, UnknownPackError
from compute_pricing.memory import EventRecorder
from tests.conftest import START, BillingFactory
from tests.support.stripe_accounts import stripe_billing, sub


@pytest.fixture
def billing(make_billing: BillingFactory) -> Billing:
    """Stripe-priced billing with a fake gateway, on each store kind."""
    return stripe_billing(make_billing)


def published(billing: Billing, kind: type[ev.Event]) -> list[ev.Event]:
    """Events of ``kind`` published so far."""
    assert isinstance(billing.events, EventRecorder)
    return billing.events.of_type(kind)


def subscribed(billing: Billing) -> None:
    """org_a on starter through a subscription event, linked to cus_1."""
    billing.subscription_changed("org_a", sub(), event_id="evt_sub", event_created=START)


def test_a_failed_invoice_starts_dunning_once(billing: Billing, clock: FakeClock) -> None:
    """past_due, past_due_since set on the first failure only, payment.failed each time."""
    subscribed(billing)
    first = billing.invoice_payment_failed(
        None, customer_id="cus_1", has_subscription=True, event_id="evt_1", event_created=START
    )
    clock.advance(days=2)
    second = billing.invoice_payment_failed(
        "org_a", has_subscription=True, event_id="evt_2", event_created=clock.now()
    )
    assert ("applied", START.isoformat()) == (first.status, first.outcome["past_due_since"])
    assert START.isoformat() == second.outcome["past_due_since"]
    assert 2 == len(published(billing, ev.PaymentFailed))
    assert "past_due" == billing.accounts.load("org_a")[0].subscription.status


def test_a_failed_one_off_invoice_does_not_start_dunning(billing: Billing) -> None:
    """An invoice without a subscription: status untouched, no payment.failed."""
    subscribed(billing)
    change = billing.invoice_payment_failed(
        "org_a", has_subscription=False, event_id="evt_1", event_created=START
    )
    assert "ignored" == change.status
    assert "active" == billing.accounts.load("org_a")[0].subscription.status
    assert [] == published(billing, ev.PaymentFailed)


def test_an_older_invoice_event_is_stale(billing: Billing, clock: FakeClock) -> None:
    """Paid at t+10 then a failure created at t+5 arrives: stale, still active."""
    subscribed(billing)
    billing.invoice_paid("org_a", event_id="evt_paid", event_created=START + timedelta(seconds=10))
    late = billing.invoice_payment_failed(
        "org_a",
        has_subscription=True,
        event_id="evt_fail",
        event_created=START + timedelta(seconds=5),
    )
    assert "stale" == late.status
    assert "active" == billing.accounts.load("org_a")[0].subscription.status


def test_invoice_events_of_an_unknown_customer_are_unresolved(billing: Billing) -> None:
    """No org and no linked customer: unresolved, nothing raised."""
    failed = billing.invoice_payment_failed(
        None, customer_id="cus_x", has_subscription=True, event_id="e1", event_created=START
    )
    paid = billing.invoice_paid(None, event_id="e2", event_created=START)
    assert ("unresolved", "unresolved") == (failed.status, paid.status)


def test_a_paid_pack_is_credited_once_per_session_with_its_payment_intent(
    billing: Billing,
) -> None:
    """The lot records the payment intent; the same session again (any path) credits nothing."""
    first = billing.extras_pack_paid("org_a", "small", "cs_1", "pi_1")
    again = billing.extras_pack_paid("org_a", "small", "cs_1", "pi_1")
    assert ("applied", "duplicate") == (first.status, again.status)
    with pytest.raises(IdempotencyConflictError):  # same session key, another kind of credit
        billing.extras.credit_pack("org_a", "small", "cs_1")
    assert 500 == billing.extras.balance("org_a").balance
    lot = billing.accounts.load("org_a")[0].lot("pack:cs_1")
    assert lot is not None
    assert ("pi_1", 500) == (lot.payment_intent, lot.remaining)
    with pytest.raises(UnknownPackError):
        billing.extras_pack_paid("org_a", "nope", "cs_2", "pi_2")


def test_refunds_are_found_by_payment_intent_and_counted_by_refund_id(billing: Billing) -> None:
    """Two refunds of one amount debit twice; the same refund twice debits once."""
    billing.extras_pack_paid("org_a", "big", "cs_big", "pi_big")
    one = billing.payment_refunded("pi_big", "re_1", 980)
    two = billing.payment_refunded("pi_big", "re_2", 980)
    replay = billing.payment_refunded("pi_big", "re_1", 980)
    assert ("applied", "applied", "duplicate") == (one.status, two.status, replay.status)
    assert (100_000, "org_a") == (one.outcome["units"], one.org)
    assert 300_000 == billing.extras.balance("org_a").balance


def test_a_full_refund_of_a_49_dollar_pack_is_exactly_its_units(billing: Billing) -> None:
    """4,900 cents of a $49 / 500,000-unit pack is exactly 500,000 units."""
    billing.extras_pack_paid("org_a", "big", "cs_big", "pi_big")
    refund = billing.payment_refunded("pi_big", "re_1", 4_900)
    assert (500_000, 0) == (refund.outcome["units"], refund.outcome["balance"])


def test_refunds_without_id_or_amount_are_skipped_and_unknown_ones_unresolved(
    billing: Billing,
) -> None:
    """Zero amount or no id: skipped; an unknown payment intent: refund.unresolved, no error."""
    billing.extras_pack_paid("org_a", "small", "cs_1", "pi_1")
    assert "skipped" == billing.payment_refunded("pi_1", "re_0", 0).status
    assert "skipped" == billing.payment_refunded("pi_1", None, 100).status
    unknown = billing.payment_refunded("pi_other", "re_9", 100)
    nothing = billing.payment_refunded(None, "re_8", 100)
    assert ("unresolved", "unresolved") == (unknown.status, nothing.status)
    reasons = [(e.refund_id, e.reason) for e in published(billing, ev.RefundUnresolved)]  # type: ignore[attr-defined]
    assert [("re_9", "unknown_payment"), ("re_8", "unknown_payment")] == reasons
    assert 500 == billing.extras.balance("org_a").balance


def test_a_refund_above_the_pack_price_takes_the_pack_and_no_more(billing: Billing) -> None:
    """A refund including tax (1,000 cents on a 900-cent pack) takes back 500 units."""
    billing.extras_pack_paid("org_a", "small", "cs_1", "pi_1")
    refund = billing.payment_refunded("pi_1", "re_1", 1_000)
    assert 500 == refund.outcome["units"]


def test_disputes_alert_and_debit_like_a_refund_once_per_dispute(billing: Billing) -> None:
    """Opened: alert; funds withdrawn: units back once by dispute id; reinstated: alert."""
    billing.extras_pack_paid("org_a", "big", "cs_big", "pi_big")
    opened = billing.dispute_opened("dp_1", "pi_big", 4_900, event_id="evt_1", reason="fraudulent")
    withdrawn = billing.dispute_funds_withdrawn("dp_1", "pi_big", 4_900)
    twice = billing.dispute_funds_withdrawn("dp_1", "pi_big", 4_900)
    back = billing.dispute_funds_reinstated("dp_1", "pi_big", 4_900, event_id="evt_3")
    assert ("applied", "applied", "duplicate", "applied") == (
        opened.status,
        withdrawn.status,
        twice.status,
        back.status,
    )
    assert 0 == billing.extras.balance("org_a").balance
    names = [e.name for e in billing.events.published if e.name.startswith("dispute.")]  # type: ignore[attr-defined]
    assert ["dispute.opened", "dispute.lost", "dispute.reinstated"] == names
    ledger = billing.extras.list_ledger("org_a")
    assert [("refund", -500_000, "dp_1")] == [
        (line.kind, line.units, line.ref) for line in ledger.entries if line.kind == "refund"
    ]


def test_disputes_of_unknown_payments_are_unresolved(billing: Billing) -> None:
    """A dispute on a payment no account holds: dispute.unresolved, nothing written."""
    opened = billing.dispute_opened("dp_1", "pi_x", 100, event_id="evt_1")
    withdrawn = billing.dispute_funds_withdrawn("dp_1", None, 100)
    skipped = billing.dispute_funds_withdrawn("dp_1", "pi_x", 0)
    assert ("unresolved", "unresolved", "skipped") == (
        opened.status,
        withdrawn.status,
        skipped.status,
    )
    assert 2 == len(published(billing, ev.DisputeUnresolved))


def test_direct_extras_spending_while_degraded_is_refused(
    billing: Billing, clock: FakeClock
) -> None:
    """From day 7 past due, extras.debit raises PaymentPastDueError and writes nothing."""
    subscribed(billing)
    billing.extras.credit_pack("org_a", "small", "cs_1")
    billing.invoice_payment_failed(
        "org_a", has_subscription=True, event_id="evt_1", event_created=START
    )
    clock.advance(days=6)
    assert 100 == billing.extras.debit("org_a", 100, "d_1").units  # grace: still allowed
    clock.advance(days=1)
    entries = len(billing.stores.accounts.read_journal("org_a"))
    with pytest.raises(PaymentPastDueError) as caught:
        billing.extras.debit("org_a", 100, "d_2")
    assert 402 == caught.value.status
    assert entries == len(billing.stores.accounts.read_journal("org_a"))
    assert 400 == billing.extras.balance("org_a").balance
