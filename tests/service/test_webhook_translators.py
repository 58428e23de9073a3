"""Signed webhooks through ``billing.handle_stripe_webhook`` reach the account use cases."""

from __future__ import annotations

from datetime import timedelta

import pytest

from compute_pricing import Billing, FakeClock
from compute_pricing.errors import PaymentProviderUnavailableError, WebhookHandlerError
from compute_pricing.events import Event
from compute_pricing.fake_gateway import FakePaymentGateway
from compute_pricing.memory import EventRecorder
from compute_pricing.payments import RefundInfo
from compute_pricing.stripe.handlers import TRANSLATORS
from compute_pricing.stripe.payloads import OBJECT_MODELS
from tests.conftest import START, BillingFactory
from tests.support.stripe_accounts import fake, sub
from tests.support.stripe_events import (
    charge,
    customer,
    deliver,
    dispute,
    event,
    invoice,
    pack_session,
    refund,
    subscription,
    subscription_session,
    webhook_billing,
)


@pytest.fixture
def billing(make_billing: BillingFactory) -> Billing:
    """Stripe-priced billing with the test signing secret and a fake gateway."""
    return webhook_billing(make_billing)


def send(billing: Billing, event_id: str, event_type: str, obj: dict[str, object]) -> str:
    """Deliver one signed event created at the clock's time; its result."""
    return deliver(billing, event(event_id, event_type, obj, billing.clock.now())).result


def balance(billing: Billing, org: str = "org_a") -> int:
    """The org's extras ledger balance."""
    return billing.extras.balance(org).balance


def recorded(billing: Billing) -> list[Event]:
    """Every event the billing published."""
    assert isinstance(billing.events, EventRecorder)
    return list(billing.events.published)


def bought_big(billing: Billing) -> None:
    """org_a bought the $49 / 500,000-unit pack with payment intent pi_1."""
    paid = pack_session("cs_big", "pi_1", pack_id="big")
    assert "applied" == send(billing, "evt_buy", "checkout.session.completed", paid)


def test_every_typed_event_has_a_translator() -> None:
    """The dispatch table covers exactly the event types the payload models read."""
    assert set(OBJECT_MODELS) == set(TRANSLATORS)


def test_a_paid_extras_checkout_credits_once_and_async_success_converges(
    billing: Billing,
) -> None:
    """completed + async_payment_succeeded for one session credit 500 units once."""
    paid = pack_session("cs_1", "pi_1")
    assert "applied" == send(billing, "evt_1", "checkout.session.completed", paid)
    assert "applied" == send(billing, "evt_2", "checkout.session.async_payment_succeeded", paid)
    assert 500 == balance(billing)
    lot = billing.accounts.load("org_a")[0].lots[0]
    assert ("pack:cs_1", "pi_1") == (lot.lot_id, lot.payment_intent)


def test_unpaid_failed_and_non_extras_sessions_credit_nothing(billing: Billing) -> None:
    """Unpaid, async failure, another kind, no org (unlinked customer): 200 ignored, nothing."""
    unpaid = pack_session("cs_1", None, payment_status="unpaid")
    assert "ignored" == send(billing, "evt_1", "checkout.session.completed", unpaid)
    failed = pack_session("cs_1", "pi_1")
    assert "ignored" == send(billing, "evt_2", "checkout.session.async_payment_failed", failed)
    other = {**pack_session("cs_2", "pi_2"), "metadata": {"organization_id": "org_a"}}
    assert "ignored" == send(billing, "evt_3", "checkout.session.completed", other)
    nobody = {**pack_session("cs_3", "pi_3"), "metadata": {"kind": "extras", "pack_id": "small"}}
    assert "ignored" == send(billing, "evt_4", "checkout.session.completed", nobody)
    assert [] == billing.stores.accounts.read_journal("org_a")


def test_a_subscription_checkout_links_with_the_status_fetched_from_stripe(
    billing: Billing,
) -> None:
    """The checkout links cus_1/sub_1 with the status Stripe reports (trialing), not active."""
    fake(billing).add_subscription(sub("trialing"))
    assert "applied" == send(billing, "evt_1", "checkout.session.completed", subscription_session())
    linked = billing.accounts.load("org_a")[0].subscription
    assert ("cus_1", "sub_1", "trialing", "starter") == (
        linked.customer_id,
        linked.subscription_id,
        linked.status,
        linked.plan_id,
    )
    incomplete = {**subscription_session("cs_2"), "subscription": None}
    assert "ignored" == send(billing, "evt_2", "checkout.session.completed", incomplete)


def test_a_provider_outage_during_the_link_fails_so_stripe_retries(billing: Billing) -> None:
    """retrieve_subscription unavailable: 500 (WebhookHandlerError), nothing linked."""
    fake(billing).add_subscription(sub())
    fake(billing).fail_next(1, PaymentProviderUnavailableError("stripe down"))
    with pytest.raises(WebhookHandlerError):
        send(billing, "evt_1", "checkout.session.completed", subscription_session())
    assert billing.accounts.load("org_a")[0].subscription.subscription_id is None
    assert "applied" == send(billing, "evt_1", "checkout.session.completed", subscription_session())


def test_subscription_events_carry_prices_period_and_cancellation(
    billing: Billing, clock: FakeClock
) -> None:
    """Created on a metadata-named plan, renewed from the item's period, cancel flags, deleted."""
    named = subscription(price="price_unmapped", price_metadata={"plan_id": "pro"})
    assert "applied" == send(billing, "evt_1", "customer.subscription.created", named)
    assert "pro" == billing.accounts.load("org_a")[0].subscription.plan_id
    billing.attribute("org_a", "run_1", {"gpu": 0.1})
    assert 100 == billing.usage("org_a")["compute_used"]
    clock.advance(timedelta(days=8))
    cancel = START + timedelta(days=30)
    renewed = subscription(
        price="price_pro_m",
        period_start=START + timedelta(days=7),
        cancel_at=cancel,
        cancel_at_period_end=True,
    )
    assert "applied" == send(billing, "evt_2", "customer.subscription.updated", renewed)
    state = billing.accounts.load("org_a")[0]
    assert (START + timedelta(days=7), cancel, True) == (
        state.subscription.current_period_start,
        state.subscription.cancel_at,
        state.subscription.cancel_at_period_end,
    )
    assert 0 == billing.usage("org_a")["compute_used"]
    older = subscription(price="price_starter_m")
    older_body = event("evt_0", "customer.subscription.updated", older, START)
    assert "stale" == deliver(billing, older_body).result
    assert "applied" == send(billing, "evt_3", "customer.subscription.deleted", subscription())
    assert ("free", "canceled") == (
        billing.accounts.load("org_a")[0].subscription.plan_id,
        billing.accounts.load("org_a")[0].subscription.status,
    )


def test_an_older_api_subscription_reads_its_period_from_the_top_level(
    billing: Billing, clock: FakeClock
) -> None:
    """``current_period_start`` on the subscription itself (older API versions) is read."""
    start = START + timedelta(days=2)
    clock.set(start + timedelta(hours=1))
    old = subscription(period_start=start, item_period=False)
    assert "applied" == send(billing, "evt_1", "customer.subscription.created", old)
    assert start == billing.accounts.load("org_a")[0].subscription.current_period_start


def test_invoice_events_read_the_subscription_in_either_api_shape(billing: Billing) -> None:
    """Failed (either API shape) starts dunning, a one-off does not; the first paid ends it."""
    assert "applied" == send(billing, "evt_0", "customer.subscription.created", subscription())
    one_off = invoice("in_0", subscription_id=None)
    assert "ignored" == send(billing, "evt_1", "invoice.payment_failed", one_off)
    assert billing.accounts.load("org_a")[0].subscription.past_due_since is None
    older = invoice("in_1", current_api=False, org_metadata=False)
    assert "applied" == send(billing, "evt_2", "invoice.payment_failed", older)
    state = billing.accounts.load("org_a")[0].subscription
    assert ("past_due", billing.clock.now()) == (state.status, state.past_due_since)
    assert "applied" == send(billing, "evt_3", "invoice.payment_succeeded", invoice("in_1"))
    state = billing.accounts.load("org_a")[0].subscription
    assert ("active", None) == (state.status, state.past_due_since)
    # invoice.paid reports the same payment again: nothing left to change
    assert "ignored" == send(billing, "evt_4", "invoice.paid", invoice("in_1"))


def test_an_invoice_of_an_unknown_customer_is_ignored(billing: Billing) -> None:
    """No org in metadata and no linked customer: 200 ignored, nothing written."""
    stray = invoice("in_9", org_metadata=False)
    assert "ignored" == send(billing, "evt_1", "invoice.payment_failed", stray)
    assert [] == billing.stores.accounts.read_journal("org_a")


def test_two_refunds_of_the_same_amount_debit_twice(billing: Billing) -> None:
    """re_1 and re_2, 490 cents each, on one charge: two lines of 50,000 units."""
    bought_big(billing)
    both = charge(refunds=[refund("re_2", 490), refund("re_1", 490)], amount_refunded=980)
    assert "applied" == send(billing, "evt_r", "charge.refunded", both)
    assert 400_000 == balance(billing)
    refunds = [
        line for line in billing.extras.list_ledger("org_a").entries if line.kind == "refund"
    ]
    assert [-50_000, -50_000] == [line.units for line in refunds]


def test_a_refund_reported_twice_debits_once(billing: Billing) -> None:
    """charge.refunded then refund.updated for re_1: one debit (keyed by the refund id)."""
    bought_big(billing)
    assert "applied" == send(
        billing, "evt_1", "charge.refunded", charge(refunds=[refund("re_1", 490)])
    )
    assert "applied" == send(billing, "evt_2", "refund.updated", refund("re_1", 490))
    assert "applied" == send(billing, "evt_3", "refund.created", refund("re_1", 490))
    assert 450_000 == balance(billing)


def test_a_full_refund_of_the_49_dollar_pack_is_exactly_its_units(billing: Billing) -> None:
    """4,900 cents of a $49 / 500,000-unit pack take back exactly 500,000 units."""
    bought_big(billing)
    assert "applied" == send(billing, "evt_1", "refund.created", refund("re_1", 4_900))
    assert 0 == balance(billing)
    line = billing.extras.list_ledger("org_a").entries[0]
    assert ("refund", -500_000, "re_1") == (line.kind, line.units, line.ref)


def test_pending_and_failed_refunds_take_nothing_until_they_succeed(billing: Billing) -> None:
    """A pending refund and an embedded failed one are ignored; the refund once succeeded debits."""
    bought_big(billing)
    pending = refund("re_1", 490, status="pending")
    assert "ignored" == send(billing, "evt_1", "refund.created", pending)
    failed = charge(refunds=[refund("re_2", 490, status="failed")])
    assert "ignored" == send(billing, "evt_2", "charge.refunded", failed)
    assert 500_000 == balance(billing)
    assert "applied" == send(billing, "evt_3", "refund.updated", refund("re_1", 490))
    assert 450_000 == balance(billing)


def test_a_charge_without_embedded_refunds_lists_them_through_the_gateway(
    billing: Billing,
) -> None:
    """Current API versions: charge.refunded has no refunds; the gateway's list is applied."""
    bought_big(billing)
    gateway = fake(billing)
    gateway.add_payment("pi_1", 4_900, charge_id="ch_1")
    gateway.create_refund(
        payment_intent="pi_1", amount_cents=980, reason=None, idempotency_key="k1"
    )
    assert "applied" == send(billing, "evt_1", "charge.refunded", charge())
    assert [{"charge_id": "ch_1"}] == [call.params for call in gateway.calls_to("list_refunds")]
    assert 400_000 == balance(billing)
    gateway.create_refund(
        payment_intent="pi_1", amount_cents=490, reason=None, idempotency_key="k2"
    )
    more = charge(refunds=[refund("re_1", 980)], has_more=True)
    assert "applied" == send(billing, "evt_2", "charge.refunded", more)
    assert 350_000 == balance(billing)


def test_a_listed_refund_outage_fails_so_stripe_retries(billing: Billing) -> None:
    """list_refunds unavailable: 500, nothing debited."""
    bought_big(billing)
    fake(billing).fail_next(1)
    with pytest.raises(WebhookHandlerError):
        send(billing, "evt_1", "charge.refunded", charge())
    assert 500_000 == balance(billing)


def test_a_refund_of_no_known_pack_is_ignored(billing: Billing) -> None:
    """A refund of a payment no lot recorded: 200 ignored and refund.unresolved published."""
    assert "ignored" == send(billing, "evt_1", "refund.created", refund("re_1", 490, "pi_x"))
    names = [e.name for e in recorded(billing)]
    assert "refund.unresolved" in names


def test_disputes_alert_debit_once_by_dispute_id_and_alert_back(billing: Billing) -> None:
    """created: alert; funds_withdrawn twice: one debit; reinstated: alert."""
    bought_big(billing)
    assert "applied" == send(billing, "evt_1", "charge.dispute.created", dispute("dp_1", 980))
    assert "applied" == send(
        billing, "evt_2", "charge.dispute.funds_withdrawn", dispute("dp_1", 980)
    )
    assert "applied" == send(
        billing, "evt_3", "charge.dispute.funds_withdrawn", dispute("dp_1", 980)
    )
    assert 400_000 == balance(billing)
    assert "applied" == send(
        billing, "evt_4", "charge.dispute.funds_reinstated", dispute("dp_1", 980)
    )
    names = [e.name for e in recorded(billing)]
    assert ["dispute.opened", "dispute.lost", "dispute.reinstated"] == [
        name for name in names if name.startswith("dispute.")
    ]
    stray = dispute("dp_2", 100, "pi_x")
    assert "ignored" == send(billing, "evt_5", "charge.dispute.created", stray)


def test_customer_deleted_unlinks_and_falls_back_to_the_default_plan(billing: Billing) -> None:
    """customer.deleted: canceled on free, customer unlinked."""
    assert "applied" == send(billing, "evt_1", "customer.subscription.created", subscription())
    assert "applied" == send(billing, "evt_2", "customer.deleted", customer())
    state = billing.accounts.load("org_a")[0].subscription
    assert ("free", "canceled", None) == (state.plan_id, state.status, state.customer_id)


def test_the_gateway_lists_refunds_as_refund_info() -> None:
    """The fake's listing is what charge.refunded reads: id, amount, status, intent."""
    gateway = FakePaymentGateway()
    gateway.add_payment("pi_1", 900, charge_id="ch_1")
    made = gateway.create_refund(
        payment_intent="pi_1", amount_cents=100, reason=None, idempotency_key="k"
    )
    assert [made] == list(gateway.list_refunds("ch_1"))
    assert isinstance(made, RefundInfo)


def test_listing_refunds_without_a_gateway_fails_naming_the_configuration(
    billing: Billing,
) -> None:
    """No gateway configured: charge.refunded without refunds fails (500) and debits nothing."""
    bought_big(billing)
    billing.gateway = None
    with pytest.raises(WebhookHandlerError, match="no payment gateway is configured"):
        send(billing, "evt_1", "charge.refunded", charge())
    assert 500_000 == balance(billing)
