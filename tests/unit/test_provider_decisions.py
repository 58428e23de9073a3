"""Pure Stripe-side decisions: watermark ordering, restore points, links, and their storage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import pytest

from compute_pricing import commands as cmd
from compute_pricing import events as ev
from compute_pricing import provider_commands as pc
from compute_pricing.codec import (
    account_from_document,
    account_to_document,
    event_from_document,
    event_to_document,
)
from compute_pricing.config import BillingConfig, PlanSettings
from compute_pricing.decide import Context, decide
from compute_pricing.errors import ConcurrencyConflictError
from compute_pricing.evolve import fold
from compute_pricing.plans import Plan
from compute_pricing.rules.watermarks import is_stale
from compute_pricing.state import Account, Subscription, Watermark

T = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
CONFIG = BillingConfig(
    compute_mode=True,
    plans=(PlanSettings(plan_id="free"), PlanSettings(plan_id="pro", compute_quota=5_000)),
)
FREE = Plan(plan_id="free", version=1, compute_quota=0)
PRO = Plan(plan_id="pro", version=1, compute_quota=5_000)


def ctx(plan: Plan = FREE, now: datetime = T) -> Context:
    """A decision context at ``now`` on ``plan``."""
    return Context(config=CONFIG, now=now, plan=plan, default_plan=FREE)


def marked(created: datetime, event_id: str) -> Subscription:
    """A subscription whose subscription watermark is ``(created, event_id)``."""
    return Subscription(plan_id="free", subscription_mark=Watermark(created, event_id))


@pytest.mark.parametrize(
    ("created", "event_id", "stale"),
    [
        (T, "evt_b", False),  # the same event again: not older
        (T, "evt_c", False),  # same instant, larger id: newer
        (T, "evt_a", True),  # same instant, smaller id: older
        (T - timedelta(seconds=1), "evt_z", True),
        (T + timedelta(seconds=1), "evt_a", False),
    ],
)
def test_staleness_is_created_then_event_id(created: datetime, event_id: str, stale: bool) -> None:
    """An event is stale only when (created, id) is below the watermark."""
    assert stale is is_stale(marked(T, "evt_b"), "subscription", created, event_id)
    assert False is is_stale(marked(T, "evt_b"), "invoice", created, event_id)  # other family


def test_a_watermark_never_moves_back() -> None:
    """Folding an older WatermarkMoved keeps the newer mark."""
    state = Account(org="o", subscription=marked(T, "evt_b"))
    older = ev.WatermarkMoved(org="o", at=T, family="subscription", created=T, event_id="evt_a")
    assert Watermark(T, "evt_b") == fold(state, [older]).subscription.subscription_mark


def test_a_second_sweep_keeps_the_first_restore_point() -> None:
    """Swept on free with pro put aside, past due again and swept: pro is still the restore."""
    since = T - timedelta(days=20)
    sub = Subscription(
        plan_id="free",
        plan_version=1,
        status="past_due",
        past_due_since=since,
        restore_plan_id="pro",
        restore_version=1,
    )
    decision = decide(Account(org="o", subscription=sub), cmd.ExpireSubscription(), ctx())
    expired = decision.events[0]
    assert isinstance(expired, ev.SubscriptionExpired)
    assert ("pro", 1) == (expired.restore_plan_id, expired.restore_version)


def test_paying_with_a_restore_plan_looked_up_on_an_older_state_is_a_retryable_conflict() -> None:
    """The restore point changed since the lookup: 409, nothing decided."""
    sub = Subscription(plan_id="free", plan_version=1, status="unpaid", restore_plan_id="pro")
    sub = attrs.evolve(sub, restore_version=2)
    command = pc.PayInvoice(event_id="evt_1", created=T, restore=PRO)
    with pytest.raises(ConcurrencyConflictError):
        decide(Account(org="o", subscription=sub), command, ctx())


def test_linking_a_customer_twice_or_across_a_deletion_writes_nothing() -> None:
    """Already linked, or a stale generation: no write, the linked customer answered."""
    linked = Account(org="o", subscription=Subscription(plan_id="free", customer_id="cus_1"))
    again = decide(linked, pc.LinkCustomer(customer_id="cus_2", generation=0), ctx())
    assert (False, "cus_1") == (again.write, again.outcome["customer_id"])
    deleted = Account(org="o", subscription=Subscription(plan_id="free", customer_generation=1))
    old = decide(deleted, pc.LinkCustomer(customer_id="cus_2", generation=0), ctx())
    assert False is old.write


def test_keys_follow_the_namespaces() -> None:
    """Webhook changes by event id, packs by session, disputes by id, customers by generation."""
    state = Account.new("o", "free")
    commands: list[tuple[str, cmd.Command]] = [
        ("stripe:evt%3A1", pc.FailInvoice(event_id="evt:1", created=T, has_subscription=True)),
        ("payment_succeeded:in_1", pc.PayInvoice(event_id="in_1", created=T, direct=True)),
        ("pack:cs_1", pc.CreditPaidPack(pack_id="p", session_id="cs_1", payment_intent="pi")),
        ("customer:3", pc.LinkCustomer(customer_id="cus", generation=3)),
        (
            "dispute:dp_1",
            pc.WithdrawDispute(
                dispute_id="dp_1",
                payment_intent="pi",
                session_id="cs",
                amount_cents=1,
                pack_units=1,
                pack_price_cents=1,
            ),
        ),
    ]
    assert [key for key, _ in commands] == [c.key(state) for _, c in commands]


def test_stripe_state_and_events_round_trip_through_storage() -> None:
    """Links, watermarks, restore point and the new events survive encode/decode."""
    sub = Subscription(
        plan_id="pro",
        plan_version=1,
        status="active",
        customer_id="cus_1",
        subscription_id="sub_1",
        customer_generation=2,
        cancel_at=T,
        cancel_at_period_end=True,
        restore_plan_id="pro",
        restore_version=1,
        subscription_mark=Watermark(T, "evt_1"),
        invoice_mark=Watermark(T, ""),
    )
    state = Account(org="o", subscription=sub)
    assert state == account_from_document(account_to_document(state))
    events: list[ev.AccountEvent] = [
        ev.WatermarkMoved(org="o", at=T, family="invoice", created=T, event_id="e"),
        ev.SubscriptionSynced(org="o", at=T, subscription_id=None, customer_id="c", status="x"),
        ev.PlanUnresolved(org="o", at=T, subscription_id="s", price_ids=("p",), kept_plan_id="f"),
        ev.CustomerLinked(org="o", at=T, customer_id="c", generation=1),
        ev.CustomerDeleted(org="o", at=T, customer_id="c", generation=2),
        ev.DisputeOpened(org="o", at=T, dispute_id="d", payment_intent="pi", amount_cents=5),
        ev.DisputeLost(org="o", at=T, dispute_id="d", payment_intent="pi", amount_cents=5, units=1),
        ev.DisputeReinstated(org="o", at=T, dispute_id="d", payment_intent="pi", amount_cents=5),
    ]
    assert events == [event_from_document(event_to_document(e)) for e in events]
