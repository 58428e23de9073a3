"""What Stripe's subscription and customer facts do to an account (plain-value use cases)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from compute_pricing import Billing, FakeClock
from compute_pricing import events as ev
from compute_pricing.errors import PaymentProviderUnavailableError
from compute_pricing.memory import EventRecorder
from tests.conftest import START, BillingFactory
from tests.support.stripe_accounts import CatalogWithout, fake, stripe_billing, sub


@pytest.fixture
def billing(make_billing: BillingFactory) -> Billing:
    """Stripe-priced billing with a fake gateway, on each store kind."""
    return stripe_billing(make_billing)


def published(billing: Billing, kind: type[ev.Event]) -> list[ev.Event]:
    """Events of ``kind`` published so far."""
    assert isinstance(billing.events, EventRecorder)
    return billing.events.of_type(kind)


def test_checkout_links_customer_and_subscription_with_the_fetched_status(
    billing: Billing,
) -> None:
    """Checkout completion fetches the subscription: trialing is stored, never assumed active."""
    fake(billing).add_subscription(sub("trialing", customer_id=None))
    change = billing.subscription_checkout_completed(
        "org_a", "cus_1", "sub_1", event_id="evt_1", event_created=START
    )
    assert ("applied", "starter") == (change.status, change.outcome["plan_id"])
    subscription = billing.accounts.load("org_a")[0].subscription
    assert ("cus_1", "sub_1", "trialing") == (
        subscription.customer_id,
        subscription.subscription_id,
        subscription.status,
    )
    assert "org_a" == billing.stores.accounts.org_for_customer("cus_1")


def test_checkout_with_a_provider_outage_propagates_and_writes_nothing(billing: Billing) -> None:
    """A transient gateway failure is raised (the webhook retries) and nothing is journaled."""
    fake(billing).add_subscription(sub())
    fake(billing).fail_next()
    with pytest.raises(PaymentProviderUnavailableError):
        billing.subscription_checkout_completed(
            "org_a", "cus_1", "sub_1", event_id="evt_1", event_created=START
        )
    assert [] == list(billing.stores.accounts.read_journal("org_a"))


def test_a_subscription_without_status_writes_nothing_and_says_unresolved(
    billing: Billing,
) -> None:
    """No status: nothing written, ``subscription.unresolved`` published."""
    fake(billing).add_subscription(sub(None))
    change = billing.subscription_checkout_completed(
        "org_a", "cus_1", "sub_1", event_id="evt_1", event_created=START
    )
    assert "unresolved" == change.status
    assert [] == list(billing.stores.accounts.read_journal("org_a"))
    assert ["no_status"] == [e.reason for e in published(billing, ev.SubscriptionUnresolved)]  # type: ignore[attr-defined]


def test_plan_resolution_uses_the_price_map_then_price_metadata(billing: Billing) -> None:
    """Annual price -> starter; unknown price whose metadata names pro -> pro."""
    annual = billing.subscription_changed(
        "org_a", sub(prices=("price_starter_y",)), event_id="evt_1", event_created=START
    )
    assert "starter" == annual.outcome["plan_id"]
    named = sub(prices=("price_other",), price_plan_ids={"price_other": "pro"})
    moved = billing.subscription_changed(
        "org_a", named, event_id="evt_2", event_created=START + timedelta(seconds=1)
    )
    assert "pro" == moved.outcome["plan_id"]
    changes = published(billing, ev.PlanChanged)
    assert [("free", "starter"), ("starter", "pro")] == [
        (e.previous_plan_id, e.plan_id)  # type: ignore[attr-defined]
        for e in changes
    ]


def test_an_unknown_price_keeps_the_last_plan_and_says_plan_unresolved(billing: Billing) -> None:
    """No configured plan for the price (metadata naming an unknown plan too): plan kept."""
    billing.subscription_changed("org_a", sub(), event_id="evt_1", event_created=START)
    odd = sub("active", prices=("price_x",), price_plan_ids={"price_x": "platinum"})
    change = billing.subscription_changed(
        "org_a", odd, event_id="evt_2", event_created=START + timedelta(seconds=1)
    )
    assert ("applied", "starter", True) == (
        change.status,
        change.outcome["plan_id"],
        change.outcome["plan_unresolved"],
    )
    unresolved = published(billing, ev.PlanUnresolved)
    assert [("starter", ("price_x",))] == [(e.kept_plan_id, e.price_ids) for e in unresolved]  # type: ignore[attr-defined]
    assert "starter" == billing.usage("org_a")["plan"]


def test_an_older_event_is_stale_and_changes_nothing(billing: Billing) -> None:
    """Updated at t+10 (pro) then an older one at t+5 (starter): stale, pro kept."""
    later = START + timedelta(seconds=10)
    billing.subscription_changed(
        "org_a", sub(prices=("price_pro_m",)), event_id="evt_b", event_created=later
    )
    stale = billing.subscription_changed(
        "org_a", sub(), event_id="evt_a", event_created=START + timedelta(seconds=5)
    )
    assert "stale" == stale.status
    assert "pro" == billing.usage("org_a")["plan"]
    tie_older = billing.subscription_changed("org_a", sub(), event_id="evt_a", event_created=later)
    tie_newer = billing.subscription_changed("org_a", sub(), event_id="evt_c", event_created=later)
    assert ("stale", "applied") == (tie_older.status, tie_newer.status)


def test_an_event_delivered_twice_applies_once(billing: Billing) -> None:
    """The same event id twice: the second is a duplicate and writes nothing."""
    first = billing.subscription_changed("org_a", sub(), event_id="evt_1", event_created=START)
    entries = len(billing.stores.accounts.read_journal("org_a"))
    again = billing.subscription_changed("org_a", sub(), event_id="evt_1", event_created=START)
    assert ("applied", "duplicate") == (first.status, again.status)
    assert entries == len(billing.stores.accounts.read_journal("org_a"))


def test_the_invoice_family_has_its_own_watermark(billing: Billing, clock: FakeClock) -> None:
    """A newer subscription event does not make an older invoice event stale."""
    billing.subscription_changed(
        "org_a", sub(), event_id="evt_s", event_created=START + timedelta(hours=1)
    )
    failed = billing.invoice_payment_failed(
        "org_a", has_subscription=True, event_id="evt_i", event_created=START
    )
    assert "applied" == failed.status


def test_admin_subscribe_moves_the_subscription_watermark(
    billing: Billing, clock: FakeClock
) -> None:
    """A Stripe event created before an admin plan change is stale afterwards."""
    clock.advance(minutes=5)
    billing.subscribe("org_a", "pro")
    late = billing.subscription_changed("org_a", sub(), event_id="evt_1", event_created=START)
    assert "stale" == late.status
    assert "pro" == billing.usage("org_a")["plan"]


def test_a_new_period_start_resets_the_week_in_the_same_commit(
    billing: Billing, clock: FakeClock
) -> None:
    """Renewal three days in: the week re-anchors at the period start and usage restarts."""
    billing.subscription_changed(
        "org_a", sub(period_start=START), event_id="evt_1", event_created=START
    )
    billing.attribute("org_a", "run_1", {"llm": Decimal("0.300")})
    clock.advance(days=8)
    renewal = START + timedelta(days=8)
    change = billing.subscription_changed(
        "org_a", sub(period_start=renewal), event_id="evt_2", event_created=renewal
    )
    assert True is change.outcome["week_reset"]
    usage = billing.usage("org_a")
    assert (0, (renewal + timedelta(days=7)).isoformat()) == (
        usage["compute_used"],
        usage["week_reset_at"],
    )
    again = billing.subscription_changed(
        "org_a",
        sub(period_start=renewal, cancel_at_period_end=True),
        event_id="evt_3",
        event_created=renewal + timedelta(seconds=1),
    )
    assert False is again.outcome["week_reset"]  # same period start: no second reset


def test_a_plan_change_keeps_a_grandfathered_version(billing: Billing) -> None:
    """An update naming the plan id the org holds keeps its pinned version."""
    billing.subscription_changed("org_a", sub(), event_id="evt_1", event_created=START)
    billing.attribute("org_a", "run_1", None)  # first billed: version pinned
    billing.plans.bump_version("starter", {"compute_quota": 2_000})
    change = billing.subscription_changed(
        "org_a", sub(), event_id="evt_2", event_created=START + timedelta(seconds=1)
    )
    assert ("starter", 1) == (change.outcome["plan_id"], change.outcome["plan_version"])


def test_pending_cancellation_is_stored_and_shown_in_usage(billing: Billing) -> None:
    """cancel_at and cancel_at_period_end appear in the usage view."""
    end = START + timedelta(days=30)
    info = sub(cancel_at=end, cancel_at_period_end=True)
    billing.subscription_changed("org_a", info, event_id="evt_1", event_created=START)
    usage = billing.usage("org_a")
    assert (end.isoformat(), True) == (usage["cancel_at"], usage["cancel_at_period_end"])


@pytest.mark.parametrize(("status", "deleted"), [("incomplete_expired", False), ("active", True)])
def test_an_ended_subscription_falls_to_the_default_plan_without_usage(
    billing: Billing, status: str, deleted: bool
) -> None:
    """incomplete_expired or deletion: default plan, usage reset; deletion unlinks."""
    billing.subscription_changed("org_a", sub(), event_id="evt_1", event_created=START)
    billing.attribute("org_a", "run_1", {"llm": Decimal("0.300")})
    change = billing.subscription_changed(
        "org_a",
        sub(status),
        deleted=deleted,
        event_id="evt_2",
        event_created=START + timedelta(seconds=1),
    )
    assert ("applied", "free") == (change.status, change.outcome["plan_id"])
    usage = billing.usage("org_a")
    assert ("free", 0) == (usage["plan"], usage["compute_used"])
    subscription = billing.accounts.load("org_a")[0].subscription
    assert (None if deleted else "sub_1") == subscription.subscription_id


def test_deleting_another_subscription_leaves_the_live_one(billing: Billing) -> None:
    """The end of a subscription the org no longer holds is ignored."""
    billing.subscription_changed("org_a", sub(), event_id="evt_1", event_created=START)
    old = billing.subscription_changed(
        "org_a",
        sub("canceled", subscription_id="sub_0"),
        deleted=True,
        event_id="evt_2",
        event_created=START + timedelta(seconds=1),
    )
    assert "ignored" == old.status
    assert "starter" == billing.usage("org_a")["plan"]


def test_org_is_resolved_from_metadata_or_the_customer_index(billing: Billing) -> None:
    """No org given: metadata organization_id, else the linked customer; neither -> unresolved."""
    tagged = sub(metadata={"organization_id": "org_m"}, customer_id="cus_m")
    assert (
        "org_m"
        == billing.subscription_changed(None, tagged, event_id="evt_1", event_created=START).org
    )
    later = START + timedelta(seconds=1)
    assert (
        "org_m"
        == billing.subscription_changed(
            None, sub(customer_id="cus_m"), event_id="evt_2", event_created=later
        ).org
    )
    nobody = billing.subscription_changed(
        None, sub(customer_id="cus_zz"), event_id="evt_3", event_created=later
    )
    assert ("unresolved", None) == (nobody.status, nobody.org)
    assert ["no_org"] == [e.reason for e in published(billing, ev.SubscriptionUnresolved)]  # type: ignore[attr-defined]


def test_customer_deleted_unlinks_cancels_and_starts_a_new_generation(
    billing: Billing, clock: FakeClock
) -> None:
    """Customer gone: unlinked, default plan, canceled, no usage, the next customer is new."""
    billing.create_extras_checkout(
        "org_a", "small", "https://app.example.test/ok", "https://app.example.test/no"
    )
    customer = billing.accounts.load("org_a")[0].subscription.customer_id
    assert customer is not None
    billing.subscription_changed(
        "org_a", sub(customer_id=customer), event_id="evt_1", event_created=START
    )
    billing.attribute("org_a", "run_1", {"llm": Decimal("0.300")})
    change = billing.customer_deleted(
        None, customer, event_id="evt_2", event_created=START + timedelta(seconds=1)
    )
    assert ("applied", 1) == (change.status, change.outcome["customer_generation"])
    subscription = billing.accounts.load("org_a")[0].subscription
    assert (None, None, "canceled", "free") == (
        subscription.customer_id,
        subscription.subscription_id,
        subscription.status,
        subscription.plan_id,
    )
    assert 0 == billing.usage("org_a")["compute_used"]
    clock.advance(minutes=1)  # a new minute bucket: another checkout key
    billing.create_extras_checkout(
        "org_a", "small", "https://app.example.test/ok", "https://app.example.test/no"
    )
    keys = [call.idempotency_key for call in fake(billing).calls_to("create_customer")]
    assert ["cus_create_org_a_0", "cus_create_org_a_1"] == keys
    assert customer != billing.accounts.load("org_a")[0].subscription.customer_id


def test_deleting_an_unknown_customer_is_unresolved(billing: Billing) -> None:
    """A customer no account links, and no org: unresolved, nothing written."""
    change = billing.customer_deleted(None, "cus_x", event_id="evt_1", event_created=START)
    assert ("unresolved", None) == (change.status, change.org)


def test_customer_deleted_is_ordered_and_checks_the_customer(billing: Billing) -> None:
    """An older deletion is stale; a deletion of another customer is ignored; plan kept."""
    billing.subscription_changed(
        "org_a", sub(), event_id="evt_2", event_created=START + timedelta(seconds=5)
    )
    old = billing.customer_deleted("org_a", "cus_1", event_id="evt_1", event_created=START)
    other = billing.customer_deleted(
        "org_a", "cus_9", event_id="evt_3", event_created=START + timedelta(seconds=9)
    )
    assert ("stale", "ignored") == (old.status, other.status)
    assert "starter" == billing.usage("org_a")["plan"]


def test_a_price_of_a_plan_the_catalog_lacks_is_unresolved(billing: Billing) -> None:
    """A configured price whose plan has no active version keeps the plan (plan.unresolved)."""
    billing.subscription_changed("org_a", sub(), event_id="evt_1", event_created=START)
    billing.accounts.catalog = CatalogWithout("pro", billing.accounts.catalog)
    change = billing.subscription_changed(
        "org_a",
        sub(prices=("price_pro_m",)),
        event_id="evt_2",
        event_created=START + timedelta(seconds=1),
    )
    assert (True, "starter") == (change.outcome["plan_unresolved"], change.outcome["plan_id"])
