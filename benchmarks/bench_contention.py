"""Contention on one org: 16 concurrent writers over the MongoDB wire protocol.

Each writer is a thread with its own ``MongoClient`` and ``Billing`` (as separate app processes
would have), all attributing distinct runs to the same org, so every commit races the others
for the next journal ``seq``. The commit loop retries a lost race after a bounded exponential
backoff with full jitter. Printed: calls, wall time, how many calls exhausted their attempts
(``ConcurrencyConflictError``; the target is 0), the attempt-count distribution, and a check
that the week's usage equals the units charged (no unit lost or doubled).

Run: ``.venv/bin/python benchmarks/bench_contention.py [--uri URI] [--writers 16] [--calls 60]``
(default: start a mongoeco wire server from ``.venv-mongoeco``).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from pymongo import MongoClient

from compute_pricing import Billing, BillingConfig, FakeClock, PlanSettings, accounts
from compute_pricing import commands as cmd
from compute_pricing.errors import ConcurrencyConflictError
from compute_pricing_mongo import MongoStores

ROOT = Path(__file__).resolve().parent.parent
#: The wire server the suite also starts (tests/support), run in the mongoeco virtualenv.
SERVER_SCRIPT = ROOT / "tests" / "support" / "mongoeco_server.py"
if str(ROOT) not in sys.path:  # run as a script: make ``tests.support`` importable
    sys.path.insert(0, str(ROOT))

from tests.support.mongo_wire import ensure_mongoeco_venv, mongoeco_server  # noqa: E402

ORG = "org_contended"
COST = {"gpu": Decimal("0.003")}  # 3 units per call
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def config() -> BillingConfig:
    """Compute mode, a quota no writer can exhaust."""
    return BillingConfig(
        compute_mode=True,
        plans=(PlanSettings(plan_id="free", compute_quota=10**9),),
    )


def run(uri: str, label: str, writers: int, calls: int) -> dict[str, object]:
    """``writers`` threads x ``calls`` attributions on one org; print and return the figures."""
    db_name = f"bench_contention_{uuid.uuid4().hex[:8]}"
    attempts: Counter[int] = Counter()
    exhausted: list[ConcurrencyConflictError] = []
    lock = threading.Lock()
    clients: list[MongoClient[dict[str, Any]]] = [
        MongoClient(uri, tz_aware=True) for _ in range(writers)
    ]
    try:
        clock = FakeClock(START)
        MongoStores(clients[0][db_name], clock=clock)  # indexes once
        billings = [
            Billing(
                config(),
                stores=MongoStores(c[db_name], clock=clock, ensure_indexes=False),
                clock=clock,
            )
            for c in clients
        ]
        billings[0].check_quota(ORG)  # the plan catalog is seeded once
        barrier = threading.Barrier(writers)

        def writer(n: int) -> None:
            billing = billings[n]
            barrier.wait()
            for i in range(calls):
                command = cmd.Attribute(f"run_{n}_{i}", "initial", COST)
                try:
                    done = billing.accounts.execute(ORG, command)
                except ConcurrencyConflictError as exc:
                    with lock:
                        exhausted.append(exc)
                    continue
                with lock:
                    attempts[done.attempts] += 1

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
        began = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - began
        used = billings[0].usage(ORG)["compute_used"]
    finally:
        clients[0].drop_database(db_name)
        for c in clients:
            c.close()
    total = writers * calls
    print(f"Contention on one org over {label}: {writers} writers x {calls} attributions")
    print(
        f"  backoff: full jitter, bound {accounts.BACKOFF_BASE_SECONDS * 1000:g} ms doubling "
        f"to {accounts.BACKOFF_CAP_SECONDS * 1000:g} ms"
    )
    print(f"  calls: {total}, wall {elapsed:.1f} s ({total / elapsed:.0f} commits/s)")
    print(f"  exhausted attempts (ConcurrencyConflictError): {len(exhausted)}")
    print(f"  week usage {used} units, expected {3 * (total - len(exhausted))}")
    print("  attempts per call: count")
    for n in sorted(attempts):
        print(f"    {n:>3}: {attempts[n]}")
    worst = max(attempts) if attempts else 0
    print(f"  max attempts {worst} of {config().max_commit_attempts} allowed")
    return {"exhausted": len(exhausted), "attempts": dict(attempts), "used": used}


def main(argv: Sequence[str] | None = None) -> None:
    """Parse arguments, start a wire server unless ``--uri`` is given, print the figures."""
    parser = argparse.ArgumentParser(description="16 writers on one org over the wire.")
    parser.add_argument("--uri", help="a real MongoDB (default: start a mongoeco wire server)")
    parser.add_argument("--writers", type=int, default=16)
    parser.add_argument(
        "--calls", type=int, default=15, help="attributions per writer (60 for the long run)"
    )
    parser.add_argument("--base-ms", type=float, help="first backoff bound (default: the loop's)")
    parser.add_argument("--cap-ms", type=float, help="largest backoff bound (default: the loop's)")
    args = parser.parse_args(argv)
    if args.base_ms is not None:
        accounts.BACKOFF_BASE_SECONDS = args.base_ms / 1000
    if args.cap_ms is not None:
        accounts.BACKOFF_CAP_SECONDS = args.cap_ms / 1000
    if args.uri:
        run(args.uri, "MongoDB at --uri", args.writers, args.calls)
        return
    python = ensure_mongoeco_venv(ROOT)
    with mongoeco_server(python, SERVER_SCRIPT) as uri:
        run(uri, "the mongoeco wire server", args.writers, args.calls)


if __name__ == "__main__":
    main()
