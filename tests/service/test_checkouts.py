"""Outbound Stripe use cases: checkout sessions, the customer, refunds (through the gateway)."""

from __future__ import annotations

import pytest

from compute_pricing import Billing, FakeClock
from compute_pricing.errors import (
    CheckoutConflictError,
    InvalidInputError,
    PaymentConfigurationError,
    PaymentPastDueError,
    RedirectNotAllowedError,
    UnknownPackError,
)
from compute_pricing.keys import provider_key
from tests.conftest import START, BillingFactory
from tests.support.stripe_accounts import fake, stripe_billing, sub

OK = "https://app.example.test/done"
NO = "https://app.example.test/cancel"


@pytest.fixture
def billing(make_billing: BillingFactory) -> Billing:
    """Stripe-priced billing with a fake gateway, on each store kind."""
    return stripe_billing(make_billing)


def test_extras_checkout_carries_metadata_tax_and_its_key(make_billing: BillingFactory) -> None:
    """mode payment, pack price, metadata on session and intent, tax from config, keyed."""
    billing = stripe_billing(make_billing, stripe={"automatic_tax": True})
    link = billing.create_extras_checkout("org_a", "small", OK, NO, intent_id="buy_1")
    assert {"session_id": link.session_id, "url": link.url} == link.to_dict()
    (call,) = fake(billing).calls_to("create_checkout_session")
    request = fake(billing).sessions[link.session_id]
    metadata = {"organization_id": "org_a", "pack_id": "small", "kind": "extras"}
    assert ("payment", "price_small", True) == (
        request.mode,
        request.price_id,
        request.automatic_tax,
    )
    assert (metadata, metadata) == (dict(request.metadata), request.payment_intent_metadata)
    assert provider_key("extras_checkout", "org_a", "small", "buy_1") == call.idempotency_key


def test_extras_checkout_without_intent_is_keyed_by_the_minute(
    billing: Billing, clock: FakeClock
) -> None:
    """Two clicks in one minute get one session; the next minute another."""
    first = billing.create_extras_checkout("org_a", "small", OK, NO)
    same = billing.create_extras_checkout("org_a", "small", OK, NO)
    clock.advance(minutes=1)
    later = billing.create_extras_checkout("org_a", "small", OK, NO)
    assert first == same
    assert first != later
    bucket = int(START.timestamp()) // 60
    keys = [c.idempotency_key for c in fake(billing).calls_to("create_checkout_session")]
    assert provider_key("extras_checkout", "org_a", "small", str(bucket)) == keys[0]


def test_a_customer_is_created_once_per_org(billing: Billing) -> None:
    """Several checkouts create one customer, keyed cus_create_<org>_0, and linked."""
    billing.create_extras_checkout("org_a", "small", OK, NO, intent_id="a")
    billing.create_extras_checkout("org_a", "big", OK, NO, intent_id="b")
    calls = fake(billing).calls_to("create_customer")
    assert ["cus_create_org_a_0"] == [c.idempotency_key for c in calls]
    customer = billing.accounts.load("org_a")[0].subscription.customer_id
    assert customer is not None
    assert "org_a" == fake(billing).customers[customer]
    assert "org_a" == billing.stores.accounts.org_for_customer(customer)


def test_subscription_checkout_is_keyed_and_refused_while_one_is_live(billing: Billing) -> None:
    """Keyed by (org, price, generation, no subscription yet); once one is live -> 409."""
    link = billing.create_subscription_checkout("org_a", "price_pro_m", OK, NO)
    (call,) = fake(billing).calls_to("create_checkout_session")
    assert (provider_key("sub_checkout", "org_a", "price_pro_m", "0", ""), "subscription") == (
        call.idempotency_key,
        fake(billing).sessions[link.session_id].mode,
    )
    billing.subscription_changed("org_a", sub(), event_id="evt_1", event_created=START)
    with pytest.raises(CheckoutConflictError) as caught:
        billing.create_subscription_checkout("org_a", "price_pro_m", OK, NO)
    assert (409, "active") == (caught.value.status, caught.value.subscription_status)


def test_a_checkout_after_the_subscription_ended_is_a_new_session(
    billing: Billing, clock: FakeClock
) -> None:
    """A retry replays the open session; after cancellation the next checkout is a new one."""
    first = billing.create_subscription_checkout("org_a", "price_pro_m", OK, NO)
    assert first == billing.create_subscription_checkout("org_a", "price_pro_m", OK, NO)
    billing.subscription_changed("org_a", sub(), event_id="evt_1", event_created=START)
    clock.advance(minutes=5)  # well inside Stripe's 24-hour key window
    ended = sub("canceled")
    billing.subscription_changed(
        "org_a", ended, deleted=True, event_id="evt_2", event_created=clock.now()
    )
    again = billing.create_subscription_checkout("org_a", "price_pro_m", OK, NO)
    keys = [c.idempotency_key for c in fake(billing).calls_to("create_checkout_session")]
    assert first.session_id != again.session_id
    assert 2 == len(set(keys))
    mark = f"{clock.now().isoformat()}/evt_2"  # the deletion's watermark
    assert provider_key("sub_checkout", "org_a", "price_pro_m", "0", mark) == keys[-1]


def test_subscription_checkout_needs_a_plan_price(billing: Billing) -> None:
    """A price no plan uses is refused, naming price_id."""
    with pytest.raises(InvalidInputError) as caught:
        billing.create_subscription_checkout("org_a", "price_small", OK, NO)
    assert "price_id" == caught.value.field


@pytest.mark.parametrize(
    ("success", "cancel", "field"),
    [
        ("http://app.example.test/ok", NO, "success_url"),
        (OK, "https://evil.example.test/x", "cancel_url"),
        ("/relative", NO, "success_url"),
        (OK, "", "cancel_url"),
    ],
)
def test_redirects_must_be_https_on_an_allowed_host(
    billing: Billing, success: str, cancel: str, field: str
) -> None:
    """A plain-http, foreign-host, relative or empty URL is refused naming its field."""
    with pytest.raises(RedirectNotAllowedError) as caught:
        billing.create_extras_checkout("org_a", "small", success, cancel)
    assert (400, field) == (caught.value.status, caught.value.field)
    assert [] == fake(billing).calls


def test_checkouts_are_refused_while_degraded(billing: Billing, clock: FakeClock) -> None:
    """Past due for 7 days: both checkouts raise 402 and call nothing."""
    billing.subscription_changed("org_a", sub(), event_id="evt_1", event_created=START)
    billing.invoice_payment_failed(
        "org_a", has_subscription=True, event_id="evt_2", event_created=START
    )
    clock.advance(days=7)
    with pytest.raises(PaymentPastDueError):
        billing.create_extras_checkout("org_a", "small", OK, NO)
    with pytest.raises(PaymentPastDueError):
        billing.create_subscription_checkout("org_a", "price_pro_m", OK, NO)
    assert [] == fake(billing).calls_to("create_checkout_session")


def test_unknown_or_unpriced_packs_are_refused(billing: Billing) -> None:
    """A pack not configured: 404; a pack without stripe_price: configuration error."""
    with pytest.raises(UnknownPackError):
        billing.create_extras_checkout("org_a", "nope", OK, NO)
    with pytest.raises(PaymentConfigurationError):
        billing.create_extras_checkout("org_a", "unpriced", OK, NO)


def test_refund_is_keyed_by_intent_and_amount_and_leaves_the_ledger(billing: Billing) -> None:
    """refund_<pi>_<amount|full>; the same call twice is one refund; no ledger change yet."""
    billing.extras_pack_paid("org_a", "small", "cs_1", "pi_1")
    fake(billing).add_payment("pi_1", 900)
    part = billing.refund("pi_1", 300)
    again = billing.refund("pi_1", 300)
    rest = billing.refund("pi_1", reason="requested_by_customer")
    assert part == again
    assert (300, 600) == (part.amount_cents, rest.amount_cents)
    assert {"refund_id": rest.refund_id, "amount_cents": 600, "status": "succeeded"} == (
        rest.to_dict()
    )
    keys = [c.idempotency_key for c in fake(billing).calls_to("create_refund")]
    assert ["refund_pi_1_300", "refund_pi_1_300", "refund_pi_1_full"] == keys
    assert 500 == billing.extras.balance("org_a").balance
    billing.payment_refunded("pi_1", part.refund_id, part.amount_cents)
    assert 333 == billing.extras.balance("org_a").balance  # 300 of 900 cents: 167 units back


def test_outbound_calls_without_a_gateway_say_so(make_billing: BillingFactory) -> None:
    """Billing built without a gateway: a configuration error, nothing written."""
    billing = stripe_billing(make_billing)
    billing.gateway = None
    with pytest.raises(PaymentConfigurationError):
        billing.create_extras_checkout("org_a", "small", OK, NO)
    with pytest.raises(PaymentConfigurationError):
        billing.refund("pi_1")
    with pytest.raises(PaymentConfigurationError):
        billing.subscription_checkout_completed(
            "org_a", "cus_1", "sub_1", event_id="evt_1", event_created=START
        )
    assert [] == list(billing.stores.accounts.read_journal("org_a"))


def test_a_customer_linked_meanwhile_by_checkout_is_kept(billing: Billing) -> None:
    """A webhook that linked a customer first wins over a later link of another one."""
    billing.subscription_changed(
        "org_a", sub(customer_id="cus_w"), event_id="e", event_created=START
    )
    assert "cus_w" == billing.checkouts.ensure_customer("org_a")
    assert [] == fake(billing).calls_to("create_customer")


def test_plain_http_redirects_only_when_the_config_allows_them(
    make_billing: BillingFactory,
) -> None:
    """allow_http_redirects lets http through (still only to an allowed host)."""
    billing = stripe_billing(
        make_billing, allow_http_redirects=True, allowed_redirect_hosts=("127.0.0.1",)
    )
    link = billing.create_extras_checkout(
        "org_a", "small", "http://127.0.0.1/ok", "http://127.0.0.1/no"
    )
    assert link.url
    with pytest.raises(RedirectNotAllowedError):
        billing.create_extras_checkout(
            "org_a", "small", "http://other.test/ok", "http://127.0.0.1/no"
        )
