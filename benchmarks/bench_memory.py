"""Memory per attribution of the in-memory store, with and without journal retention.

Target (issue "Performance"): a long-running embedded process stays bounded when it asks for
it. ``InMemoryAccountStore(retain_keys=N)`` keeps only the entries past each snapshot and the
last ``N`` idempotency keys per org; the default keeps every entry (the full ledger history).

How: ``tracemalloc`` measures the memory still allocated after N attributions on 10 orgs
(``Billing`` on ``InMemoryStores``, the event recorder keeping nothing), minus before them,
divided by N; with the default and with ``retain_keys=100``, at N and 2N (the retained total
stays flat when it is bounded). Prints figures only.

Run: ``.venv/bin/python benchmarks/bench_memory.py [--runs 20000]``.
"""

from __future__ import annotations

import argparse
import gc
import tracemalloc
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

from compute_pricing import Billing, BillingConfig, EventRecorder, FakeClock, PlanSettings
from compute_pricing.billing import InMemoryStores

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
ORGS = [f"org_{i}" for i in range(10)]
COSTS = {"llm": Decimal("0.012"), "tools": Decimal("0.003")}


def per_attribution(runs: int, retain: int | None) -> float:
    """Bytes still allocated per attribution after ``runs`` of them."""
    config = BillingConfig(
        compute_mode=True,
        plans=(
            PlanSettings(plan_id="free", compute_quota=0),
            PlanSettings(plan_id="big", compute_quota=2_000_000_000),
        ),
    )
    clock = FakeClock(START)
    stores = InMemoryStores(clock, retain_keys=retain)
    billing = Billing(config, stores=stores, clock=clock, publisher=EventRecorder(keep=0))
    for org in ORGS:
        billing.subscribe(org, "big")
        billing.attribute(org, "warm", COSTS)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(runs):
        billing.attribute(ORGS[i % len(ORGS)], f"run_{i}", COSTS)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return (after - before) / runs


def main(argv: Sequence[str] | None = None) -> None:
    """Print bytes per attribution with and without retention, at two run counts."""
    parser = argparse.ArgumentParser(description="Memory per attribution (tracemalloc).")
    parser.add_argument("--runs", type=int, default=20_000)
    parser.add_argument("--retain", type=int, default=100)
    args = parser.parse_args(argv)
    print("in-memory store, bytes still allocated per attribution (10 orgs, tracemalloc):")
    for runs in (args.runs, 2 * args.runs):
        full = per_attribution(runs, None)
        kept = per_attribution(runs, args.retain)
        print(
            f"  {runs:>7,} runs: default (every entry kept) {full:,.0f} B/attribution "
            f"({full * runs / 2**20:.1f} MiB); retain_keys={args.retain} {kept:,.0f} "
            f"B/attribution ({kept * runs / 2**20:.2f} MiB in all; ratio {kept / full:.3f})"
        )


if __name__ == "__main__":
    main()
