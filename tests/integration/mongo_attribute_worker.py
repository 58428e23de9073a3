"""A worker OS process for ``test_mongo_two_processes``: attributes runs to one org over MongoDB.

Usage: ``python -m tests.integration.mongo_attribute_worker URI DB NAME RUNS SHARED``.
It builds its own client and ``Billing`` on ``MongoStores`` (as a separate app server would),
prints ``READY``, waits for a line on stdin (so both workers start together), then attributes
``RUNS`` runs of its own plus the ``SHARED`` runs every worker sends, and prints one JSON line:
the units it applied, how many of its calls were replays, the outcome of each shared run, and
how often its snapshot cache served a load and was found behind the other worker's commits.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from typing import Any

from pymongo import MongoClient

from compute_pricing import Billing, BillingConfig, FakeClock, PackSettings, PlanSettings
from compute_pricing_mongo import MongoStores

#: The instant every worker and the test share (a Monday), so all charge the same week.
START_ISO = "2026-03-02T09:00:00+00:00"
UNITS = 4
COST = {"llm": Decimal(UNITS) / 1000}  # 4 units a run


def config() -> BillingConfig:
    """Team plan of 1,000 units a week and a 5,000-unit pack: charges overflow into extras."""
    return BillingConfig(
        compute_mode=True,
        plans=(PlanSettings(plan_id="free"), PlanSettings(plan_id="team", compute_quota=1_000)),
        packs=(PackSettings(pack_id="pack", units=5_000, price_cents=900),),
    )


def main(argv: list[str]) -> int:
    """Run the worker; see the module docstring."""
    from datetime import datetime  # noqa: PLC0415 - keep module import light for the test

    uri, db_name, name, runs, shared = argv[0], argv[1], argv[2], int(argv[3]), int(argv[4])
    client: MongoClient[dict[str, Any]] = MongoClient(uri)
    clock = FakeClock(datetime.fromisoformat(START_ISO))
    billing = Billing(config(), stores=MongoStores(client[db_name], clock=clock), clock=clock)
    sys.stdout.write("READY\n")
    sys.stdout.flush()
    sys.stdin.readline()
    applied = replays = 0
    shared_outcomes: list[bool] = []
    for i in range(runs + shared):
        run_id = f"{name}_{i}" if i < runs else f"shared_{i - runs}"
        result = billing.attribute("org_shared", run_id, COST)
        if result.replayed:
            replays += 1
        else:
            applied += result.units
        if i >= runs:
            shared_outcomes.append(result.replayed)
    client.close()
    sys.stdout.write(
        json.dumps(
            {
                "applied": applied,
                "replays": replays,
                "shared_replayed": shared_outcomes,
                "cache_hits": billing.accounts.cache.hits,
                "cache_fallbacks": billing.accounts.cache.fallbacks,
            }
        )
        + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
