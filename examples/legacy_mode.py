"""Legacy mode: monthly ``resource.action`` counters and the 429 gate (compute mode off).

This is the default (``compute_mode=False``): each plan sets monthly limits per counter such as
``documents.create``; the gate refuses with 429 once a counter reaches its limit, counters
start over each calendar month, and every compute call is a no-op that says so.

Run it with ``.venv/bin/python examples/legacy_mode.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from compute_pricing import Billing, BillingConfig, FakeClock, PlanSettings, QuotaExceededError


def main() -> None:
    """Create documents until the 429, upgrade, then watch the counter reset next month."""
    config = BillingConfig(
        plans=(
            PlanSettings(plan_id="free", limits={"documents.create": 3}),
            PlanSettings(
                plan_id="team",
                limits={"documents.create": 100, "documents.export": float("inf")},
            ),
        ),
        upgrade_url="https://example.test/upgrade",
    )
    clock = FakeClock(datetime(2026, 2, 2, 9, 0, tzinfo=UTC))
    billing = Billing.in_memory(config, clock=clock)

    def create_document() -> bool:
        """What a host route does: ask the gate, do the work, count it."""
        try:
            billing.check_quota("org_1", "documents", "create")
        except QuotaExceededError as exc:
            print(f"{exc.status} {exc.code}: {exc.to_dict()}")
            return False
        count = billing.record_usage("org_1", "documents", "create")
        print(f"document created ({count} this month)")
        return True

    while create_document():
        clock.advance(days=1)

    print(f"usage: {billing.usage('org_1').to_dict()}")
    result = billing.attribute("org_1", "run_1", {"llm": Decimal("1.00")})
    print(f"attribute: applied={result.applied} reason={result.reason}")

    billing.subscribe("org_1", "team")
    print(f"on team: remaining {billing.check_quota('org_1', 'documents', 'create').remaining}")
    exports = billing.check_quota("org_1", "documents", "export")
    print(f"exports: remaining={exports.remaining} (unlimited)")

    clock.set(datetime(2026, 3, 1, 0, 0, tzinfo=UTC))
    print(f"March: usage {billing.usage('org_1')['usage']}")


if __name__ == "__main__":
    main()
