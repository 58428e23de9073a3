"""Replay property: a lifecycle delivered in order, or every event twice shuffled, ends the same.

The lifecycle: a subscription created, an extras pack bought, a partial refund reported twice
(``charge.refunded`` and ``refund.updated``), a renewal with a new period start, an invoice
payment failure and its recovery, a dispute opened and its funds withdrawn; then usage through
``attribute``. Every delivery is signed and goes through ``billing.handle_stripe_webhook``.

The shuffle is free except for one causal rule: a refund or dispute is delivered only after the
pack purchase it refunds has been delivered once (a refund of a payment no account holds yet is
answered ``ignored`` with ``refund.unresolved``, as for any payment the library did not sell).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compute_pricing import Billing, FakeClock
from tests.conftest import START, BillingFactory
from tests.support.stripe_events import (
    charge,
    deliver,
    dispute,
    event,
    invoice,
    pack_session,
    refund,
    subscription,
    webhook_billing,
)

RENEWAL = START + timedelta(days=7)
#: The clock while the events are delivered: after every event was created.
DELIVERED_AT = START + timedelta(days=8)

#: (event id, type, object, created): the lifecycle in the order Stripe created it.
LIFECYCLE: tuple[tuple[str, str, dict[str, Any], Any], ...] = (
    ("evt_01", "customer.subscription.created", subscription(period_start=START), START),
    (
        "evt_02",
        "checkout.session.completed",
        pack_session("cs_big", "pi_1", pack_id="big"),
        START + timedelta(hours=1),
    ),
    (
        "evt_03",
        "charge.refunded",
        charge(refunds=[refund("re_1", 490)], amount_refunded=490),
        START + timedelta(days=2),
    ),
    ("evt_04", "refund.updated", refund("re_1", 490), START + timedelta(days=2, seconds=1)),
    (
        "evt_05",
        "customer.subscription.updated",
        subscription(period_start=RENEWAL),
        RENEWAL,
    ),
    ("evt_06", "invoice.payment_failed", invoice("in_2"), RENEWAL + timedelta(hours=1)),
    ("evt_07", "invoice.paid", invoice("in_2"), RENEWAL + timedelta(hours=3)),
    ("evt_08", "charge.dispute.created", dispute("dp_1", 980), RENEWAL + timedelta(hours=4)),
    (
        "evt_09",
        "charge.dispute.funds_withdrawn",
        dispute("dp_1", 980),
        RENEWAL + timedelta(hours=5),
    ),
)
PAYLOADS = tuple(event(*spec) for spec in LIFECYCLE)
PURCHASE = 1
MONEY_FACTS = frozenset({2, 3, 7, 8})
DOUBLED = tuple(range(len(PAYLOADS))) * 2


def causal(order: Sequence[int]) -> list[int]:
    """``order`` with the first purchase moved before any refund or dispute ahead of it."""
    order = list(order)
    first_money = min(i for i, event_index in enumerate(order) if event_index in MONEY_FACTS)
    first_purchase = order.index(PURCHASE)
    if first_purchase > first_money:
        order.insert(first_money, order.pop(first_purchase))
    return order


def run(billing: Billing, clock: FakeClock, order: Sequence[int]) -> dict[str, Any]:
    """Deliver ``order`` at :data:`DELIVERED_AT`, charge a run, and read everything back."""
    clock.set(DELIVERED_AT)
    for index in order:
        assert deliver(billing, PAYLOADS[index]).status == 200
    billing.attribute("org_a", "run_1", {"gpu": 2})
    lines = billing.extras.list_ledger("org_a", limit=100).entries
    return {
        "usage": billing.usage("org_a").to_dict(),
        "balance": billing.extras.balance("org_a"),
        "ledger": sorted(lines, key=lambda line: (line.kind, line.ref, line.units)),
        "state": billing.accounts.load("org_a")[0],
    }


def test_in_order_and_shuffled_twice_end_in_the_same_account(
    make_billing: BillingFactory, clock: FakeClock, store_kind: str
) -> None:
    """Every event twice in a shuffled (causal) order: the same usage, balance, ledger, state."""
    expected = run(webhook_billing(make_billing), clock, range(len(PAYLOADS)))
    assert 349_000 == expected["balance"].balance  # 500,000 - 50,000 - 100,000 - 1,000
    assert ("starter", "active", 2_000) == (
        expected["state"].subscription.plan_id,
        expected["state"].subscription.status,
        expected["usage"]["compute_used"],
    )

    @settings(
        max_examples=25 if store_kind == "memory" else 3,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(st.permutations(DOUBLED))
    def shuffled(order: list[int]) -> None:
        assert expected == run(webhook_billing(make_billing), clock, causal(order))

    shuffled()
