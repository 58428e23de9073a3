"""A failing webhook handler: retried by Stripe until it applies once, or dead-lettered."""

from __future__ import annotations

from datetime import timedelta

import pytest

from compute_pricing import Billing, FakeClock
from compute_pricing.errors import WebhookHandlerError
from tests.conftest import BillingFactory
from tests.support.stripe_accounts import fake, sub
from tests.support.stripe_events import deliver, event, subscription_session, webhook_billing

CHECKOUT = "checkout.session.completed"


@pytest.fixture
def billing(make_billing: BillingFactory) -> Billing:
    """Stripe-priced billing whose fake gateway knows sub_1 (active, starter)."""
    built = webhook_billing(make_billing)
    fake(built).add_subscription(sub())
    return built


def linked(billing: Billing) -> list[str]:
    """The journal keys of org_a's Stripe changes."""
    return [
        e.key for e in billing.stores.accounts.read_journal("org_a") if e.key.startswith("stripe")
    ]


def retrievals(billing: Billing) -> int:
    """How often the handler asked the gateway for the subscription."""
    return len(fake(billing).calls_to("retrieve_subscription"))


def test_failing_four_times_then_succeeding_applies_once(
    billing: Billing, clock: FakeClock
) -> None:
    """Four 500s counting attempts 1-4, then applied; one journal entry; then duplicate."""
    payload = event("evt_1", CHECKOUT, subscription_session(), clock.now())
    fake(billing).fail_next(4)
    for attempt in range(1, 5):
        with pytest.raises(WebhookHandlerError) as failed:
            deliver(billing, payload)
        assert (500, attempt) == (failed.value.status, failed.value.attempts)
        clock.advance(timedelta(minutes=attempt * 5))
    assert "applied" == deliver(billing, payload).result
    assert ["stripe:evt_1"] == linked(billing)
    assert "sub_1" == billing.accounts.load("org_a")[0].subscription.subscription_id
    assert "duplicate" == deliver(billing, payload).result
    assert 5 == retrievals(billing)


def test_failing_five_times_dead_letters_and_replay_runs_it_once(
    billing: Billing, clock: FakeClock
) -> None:
    """The 5th failure answers 200 dead_lettered; redeliveries do not run; replay applies once."""
    payload = event("evt_1", CHECKOUT, subscription_session(), clock.now())
    fake(billing).fail_next(5)
    for _ in range(4):
        with pytest.raises(WebhookHandlerError):
            deliver(billing, payload)
    fifth = deliver(billing, payload)
    assert (200, "dead_lettered") == (fifth.status, fifth.result)
    assert [("evt_1", 5)] == [(r.event_id, r.attempts) for r in billing.webhooks.dead_letters()]
    clock.advance(timedelta(hours=1))
    assert "dead_lettered" == deliver(billing, payload).result
    assert 5 == retrievals(billing)
    assert [] == linked(billing)
    assert "applied" == billing.webhooks.replay("evt_1", payload).result
    assert (6, ["stripe:evt_1"]) == (retrievals(billing), linked(billing))
    assert [] == billing.webhooks.dead_letters()
    assert "duplicate" == billing.webhooks.replay("evt_1", payload).result
    assert "duplicate" == deliver(billing, payload).result
    assert 6 == retrievals(billing)
