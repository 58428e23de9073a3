"""A worker OS process for ``test_mongo_crash_injection``: a call loop that may die at any point.

Usage: ``python -m tests.integration.mongo_crash_worker URI DB SEED COUNT START``. It builds
its own client and ``Billing`` on ``MongoStores`` and runs the calls of :func:`calls` from
index ``START`` on, in order (calls already committed by an earlier, killed worker are
replays), printing ``DONE <index>`` after each and ``FINISHED`` at the end. With
:data:`EXIT_AFTER_APPEND_ENV` set to ``n`` it exits (``os._exit``, no cleanup, no snapshot
refresh) right after its ``n``-th journal append: the crash between the commit point and the
snapshot refresh. The parent also SIGKILLs it at random points.
"""

from __future__ import annotations

import os
import random
import sys
from datetime import datetime
from decimal import Decimal
from typing import Any

from pymongo import MongoClient

from compute_pricing import Billing, BillingConfig, FakeClock, PackSettings, PlanSettings
from compute_pricing.journal import JournalEntry
from compute_pricing.ports import AccountStore
from compute_pricing_mongo import MongoStores, client_options

#: A Monday: every call of every worker lands in the same week.
START_ISO = "2026-03-02T09:00:00+00:00"
ORG = "org_crash"
UNITS = 40
COST = {"llm": Decimal(UNITS) / 1000}  # 40 units a run
PACK_UNITS = 5_000
QUOTA = 1_000
EXIT_AFTER_APPEND_ENV = "COMPUTE_PRICING_TEST_EXIT_AFTER_APPEND"
EXIT_CODE = 17


def config() -> BillingConfig:
    """A 1,000-unit weekly quota and 5,000-unit packs: runs overflow into extras."""
    return BillingConfig(
        compute_mode=True,
        plans=(PlanSettings(plan_id="free"), PlanSettings(plan_id="team", compute_quota=QUOTA)),
        packs=(PackSettings(pack_id="pack", units=PACK_UNITS, price_cents=900),),
    )


def calls(seed: int, count: int) -> list[tuple[str, str]]:
    """``count`` calls, ``("attribute", run_id)`` or ``("pack", session_id)``, from ``seed``."""
    rng = random.Random(seed)
    return [
        ("pack", f"cs_{seed}_{i}") if rng.random() < 0.15 else ("attribute", f"run_{seed}_{i}")
        for i in range(count)
    ]


def run_call(billing: Billing, call: tuple[str, str]) -> tuple[int, bool]:
    """Perform one call; ``(units it applied or replayed, replayed?)``."""
    kind, ref = call
    if kind == "pack":
        credit = billing.extras.credit_pack(ORG, "pack", ref)
        return credit.units, credit.replayed
    result = billing.attribute(ORG, ref, COST)
    return result.units, result.replayed


class ExitAfterAppend:
    """An ``AccountStore`` that exits the process right after its ``n``-th append commits."""

    def __init__(self, inner: AccountStore, n: int) -> None:
        self._inner = inner
        self._left = n

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def append(self, entry: JournalEntry) -> None:
        """Commit ``entry``, then die before anything else (the snapshot refresh) happens."""
        self._inner.append(entry)
        self._left -= 1
        if self._left == 0:
            sys.stdout.flush()
            os._exit(EXIT_CODE)


def build(uri: str, db_name: str) -> tuple[MongoClient[dict[str, Any]], Billing]:
    """A client with the recommended options and a ``Billing`` over it (fixed clock)."""
    client: MongoClient[dict[str, Any]] = MongoClient(uri, **client_options(timeout_ms=10_000))
    clock = FakeClock(datetime.fromisoformat(START_ISO))
    stores = MongoStores(client[db_name], clock=clock, ensure_indexes=False)
    exit_after = os.environ.get(EXIT_AFTER_APPEND_ENV)
    if exit_after:
        stores.accounts = ExitAfterAppend(stores.accounts, int(exit_after))
    return client, Billing(config(), stores=stores, clock=clock)


def main(argv: list[str]) -> int:
    """Run the worker; see the module docstring."""
    uri, db_name, seed, count, start = argv[0], argv[1], int(argv[2]), int(argv[3]), int(argv[4])
    client, billing = build(uri, db_name)
    for index, call in enumerate(calls(seed, count)):
        if index < start:
            continue
        run_call(billing, call)
        sys.stdout.write(f"DONE {index}\n")
        sys.stdout.flush()
    client.close()
    sys.stdout.write("FINISHED\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
