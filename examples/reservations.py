"""Reservations: hold units for runs in flight so concurrent runs cannot overspend.

``check_quota`` alone is a pre-check: ten runs admitted at once could each see the same
headroom. ``reserve(org, units, ttl)`` holds units atomically (402 if they are not there),
``commit(reservation, costs)`` charges the actual costs and frees the hold in the same commit,
``release(reservation)`` gives the hold back, and a forgotten hold expires after its TTL.

Run it with ``.venv/bin/python examples/reservations.py``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal

from compute_pricing import (
    Billing,
    BillingConfig,
    ComputeExhaustedError,
    FakeClock,
    PlanSettings,
    ReservationHandle,
    UnknownReservationError,
)


def main() -> None:
    """Eight concurrent runs race for 1,000 units; then commit, release and expiry."""
    config = BillingConfig(
        compute_mode=True,
        plans=(
            PlanSettings(plan_id="free", compute_quota=0),
            PlanSettings(plan_id="starter", compute_quota=1_000),
        ),
    )
    clock = FakeClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    billing = Billing.in_memory(config, clock=clock)
    billing.subscribe("org_1", "starter")

    def start_run(_: int) -> ReservationHandle | None:
        """A worker: hold 200 units before starting, or give up on a 402."""
        try:
            return billing.reserve("org_1", 200, ttl=600)
        except ComputeExhaustedError:
            return None

    with ThreadPoolExecutor(max_workers=8) as pool:
        handles = list(pool.map(start_run, range(8)))
    held = [h for h in handles if h is not None]
    print(f"8 concurrent reserve(200): {len(held)} held, {len(handles) - len(held)} refused (402)")
    try:
        billing.check_quota("org_1")
    except ComputeExhaustedError as exc:
        print(f"gate while all 1,000 units are held: {exc.status} {exc.code}")

    first, second, third, *rest = held
    result = billing.commit(first, {"llm": Decimal("0.15")})
    print(f"commit {first.reservation_id}: charged {result.units} units (held 200)")
    print(f"release {second.reservation_id}: {billing.release(second)}")
    print(f"release {second.reservation_id} again: {billing.release(second)}")
    print(f"gate remaining: {billing.check_quota('org_1').remaining}")

    # The other holds are never committed or released: they lapse after their TTL.
    clock.advance(seconds=601)
    print(
        f"after the TTL: remaining {billing.check_quota('org_1').remaining} "
        f"({len(rest) + 1} holds expired)"
    )
    try:
        billing.commit(third, {"llm": Decimal("0.10")})
    except UnknownReservationError as exc:
        print(f"commit after the TTL: {exc.status} {exc.code}; charge it with attribute()")
        billing.attribute("org_1", third.reservation_id, {"llm": Decimal("0.10")})
    usage = billing.usage("org_1")
    print(f"usage: {usage['compute_used']}/{usage['compute_quota']}")


if __name__ == "__main__":
    main()
