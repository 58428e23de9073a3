"""Quickstart: compute mode in a dozen calls on the embedded in-memory back end.

An org on the ``starter`` plan runs work; each run's dollar costs become compute units charged
to the week's quota, then to a prepaid extras pack; the gate answers 402 when nothing is left.

Run it with ``.venv/bin/python examples/quickstart.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from compute_pricing import (
    Billing,
    BillingConfig,
    ComputeExhaustedError,
    EventRecorder,
    FakeClock,
    PackSettings,
    PlanSettings,
    ThresholdCrossed,
)


def main() -> None:
    """Charge a few runs, cross the thresholds, hit the 402, buy a pack, and carry on."""
    config = BillingConfig(
        compute_mode=True,
        plans=(
            PlanSettings(plan_id="free", compute_quota=0),
            # 1,000 units a week; "gpu" costs count double.
            PlanSettings(plan_id="starter", compute_quota=1_000, ratios={"default": 1, "gpu": 2}),
        ),
        packs=(PackSettings(pack_id="boost", units=500, price_cents=900, expiry_days=30),),
        upgrade_url="https://example.test/upgrade",
    )
    events = EventRecorder()
    billing = Billing.in_memory(
        config, clock=FakeClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC)), publisher=events
    )
    billing.subscribe("org_1", "starter")

    # $0.25 of LLM + $0.10 of GPU = 250 + 2 * 100 = 450 units (1 unit = $0.001).
    result = billing.attribute("org_1", "run_1", {"llm": Decimal("0.25"), "gpu": Decimal("0.10")})
    print(f"run_1: {result.units} units, week used {result.compute_used}")

    # The same run id and step again is a replay: nothing is charged twice.
    replay = billing.attribute("org_1", "run_1", {"llm": Decimal("0.25"), "gpu": Decimal("0.10")})
    print(f"run_1 again: replayed={replay.replayed}, week used {replay.compute_used}")

    # A second step of the same run is a new charge; this one crosses 80 % and 100 %.
    result = billing.attribute("org_1", "run_1", {"llm": Decimal("0.60")}, step="review")
    print(
        f"run_1:review: {result.units} units ({result.from_quota} from quota, "
        f"{result.from_extras} overflow), week used {result.compute_used}"
    )
    for event in events.published:
        if isinstance(event, ThresholdCrossed):
            print(f"event {event.name}: {event.threshold}% ({event.used}/{event.quota})")

    try:
        billing.check_quota("org_1")
    except ComputeExhaustedError as exc:
        print(f"gate: {exc.status} {exc.code} extras_remaining={exc.extras_remaining}")

    # A pack (normally credited by the Stripe webhook) repays the overflow first.
    credit = billing.extras.credit_pack("org_1", "boost", "cs_test_1")
    print(f"bought boost: +{credit.units} units, extras balance {credit.balance}")
    print(f"gate: remaining {billing.check_quota('org_1').remaining}")

    usage = billing.usage("org_1")
    print(
        f"usage: {usage['compute_used']}/{usage['compute_quota']} in {usage['week_key']}, "
        f"breakdown {usage['compute_breakdown']}"
    )


if __name__ == "__main__":
    main()
