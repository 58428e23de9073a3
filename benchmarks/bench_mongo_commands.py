"""Database commands per gate check and per attribution on MongoDB, by history size.

The targets are in docs/rules.md, "Targets".

Targets: ``billing.check_quota(org)`` = 1 command; ``billing.attribute`` = 2 commands on the
fast path (the process's snapshot cache holds the org: ``insert`` + ``update``), 3 when the
process has not seen the org yet ("attr. cold": the cache is emptied before each call); the
same counts, and about the same time, whatever the org's history; the account snapshot
document stays bounded as runs accumulate.

How: histories are produced by the real core (``Billing.in_memory``: N attributions over a few
cost categories, one second apart, in one week, after a pack purchase). Then, on a MongoDB
reached through real pymongo (a mongoeco wire server started here from ``.venv-mongoeco``, or
the server at ``--uri``):

1. snapshot size: each history's snapshot is written by ``MongoAccountStore.save_snapshot``
   and the stored account document's BSON size is printed;
2. commands per call: a history's journal is bulk-inserted into a fresh database (before the
   indexes are built, which is faster), its snapshot saved, and
   ``Billing(config, stores=MongoStores(db))`` serves gate checks and attributions while a
   pymongo ``CommandListener`` counts the commands sent to that database and sums their
   server time by command name.

mongoeco is a test double whose in-memory engine copies a collection and scans it for every
unique index on each write (O(collection size)): it cannot hold 100,000 journal documents in
reasonable time, so the wire run defaults to 10 and 1,000 prior runs (loading 1,000 takes
~35 s) and its write times grow with the collection whatever the adapter does; the
per-command server times printed show where. Against a real MongoDB (``--uri``) the default
is 10, 10,000 and 100,000. Prints figures only; nothing here is asserted.

Run: ``.venv/bin/python benchmarks/bench_mongo_commands.py [--uri URI] [--history N ...]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from bson import encode as bson_encode
from pymongo import MongoClient, monitoring
from pymongo.database import Database

from compute_pricing import Billing, BillingConfig, FakeClock, PackSettings, PlanSettings
from compute_pricing.journal import JournalEntry, Snapshot
from compute_pricing_mongo import MongoAccountStore, MongoStores
from compute_pricing_mongo._documents import entry_document

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make ``tests.support`` importable
    sys.path.insert(0, str(ROOT))

from tests.support.mongo_wire import ensure_mongoeco_venv, mongoeco_server  # noqa: E402

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
ORG = "org_bench"
SNAPSHOT_RUNS = (10, 10_000, 100_000)
WIRE_HISTORY = (10, 1_000)
REAL_HISTORY = (10, 10_000, 100_000)
COSTS = (
    {"llm": Decimal("0.012"), "tools": Decimal("0.003")},
    {"gpu": Decimal("0.004")},
    {"llm": Decimal("0.001"), "scrap": Decimal("0.002"), "autofix": Decimal("0.001")},
)
_BATCH = 1_000

Db = Database[dict[str, Any]]
Client = MongoClient[dict[str, Any]]


class CommandCounter(monitoring.CommandListener):
    """Counts the commands sent to one database, and their server time, by command name."""

    def __init__(self) -> None:
        self.database = ""
        self.counts: Counter[str] = Counter()
        self.micros: Counter[str] = Counter()
        self._names: dict[int, str] = {}

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        """Count a command on the watched database."""
        if event.database_name == self.database:
            self.counts[event.command_name] += 1
            self._names[event.request_id] = event.command_name

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        """Add the command's duration."""
        name = self._names.pop(event.request_id, None)
        if name is not None:
            self.micros[name] += event.duration_micros

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        """Add the failed command's duration."""
        self.succeeded(event)  # type: ignore[arg-type]

    def take(self) -> tuple[Counter[str], Counter[str]]:
        """The counts and microseconds so far, resetting both."""
        taken = (self.counts, self.micros)
        self.counts, self.micros = Counter(), Counter()
        return taken


def config() -> BillingConfig:
    """Compute mode; ``big`` never runs out during a benchmark."""
    return BillingConfig(
        compute_mode=True,
        plans=(
            PlanSettings(plan_id="free", compute_quota=0),
            PlanSettings(plan_id="big", compute_quota=2_000_000_000),
        ),
        packs=(PackSettings(pack_id="pack", units=500_000, price_cents=4_900, expiry_days=365),),
    )


def history(runs: int) -> tuple[list[JournalEntry], Snapshot]:
    """The journal and snapshot of an org after ``runs`` attributions, one second apart."""
    clock = FakeClock(START)
    billing = Billing.in_memory(config(), clock=clock)
    billing.subscribe(ORG, "big")
    billing.extras.credit_pack(ORG, "pack", "cs_bench")
    for i in range(runs):
        billing.attribute(ORG, f"prior_{i}", COSTS[i % len(COSTS)])
        clock.advance(seconds=1)
    store = billing.stores.accounts
    snapshot = store.read_snapshot(ORG)
    assert snapshot is not None  # noqa: S101 - the loop above wrote it
    return list(store.read_journal(ORG)), snapshot


def snapshot_bytes(db: Db) -> int:
    """BSON size of the org's account document as stored."""
    return len(bson_encode(db["accounts"].find_one({"org": ORG}) or {}))


@contextmanager
def fresh(client: Client, name: str) -> Iterator[Db]:
    """A new database, dropped afterwards."""
    client.drop_database(name)
    try:
        yield client[name]
    finally:
        client.drop_database(name)


def bench_snapshot_sizes(client: Client, runs: Sequence[int]) -> None:
    """Print the stored snapshot's size after each number of runs."""
    print("\nsnapshot document size (BSON bytes) after N attributions in one week:")
    for n in runs:
        _, snapshot = history(n)
        with fresh(client, f"bench_snapshot_{n}") as db:
            MongoAccountStore(db).save_snapshot(snapshot)
            week = snapshot.state.week
            used = week.used if week else 0
            print(
                f"  {n:>8,} runs: {snapshot_bytes(db):>6,} B  (version {snapshot.version:,}, "
                f"week used {used:,}, {len(snapshot.state.lots)} lot)"
            )


Measured = tuple[float, float, float, dict[str, int], dict[str, float], float]


def measure(call: Callable[[int], object], counter: CommandCounter, repeats: int) -> Measured:
    """Commands per call, median and p95 ms, command names, server ms per call by name, and
    this process's (the client's) CPU ms per call."""
    counter.take()
    times = []
    cpu = time.process_time()
    for i in range(repeats):
        began = time.perf_counter()
        call(i)
        times.append((time.perf_counter() - began) * 1000)
    cpu = (time.process_time() - cpu) * 1000 / repeats
    counts, micros = counter.take()
    times.sort()
    per_call = {name: count // repeats for name, count in counts.items()}
    server = {name: micros[name] / repeats / 1000 for name in counts}
    return (
        sum(counts.values()) / repeats,
        statistics.median(times),
        times[min(len(times) - 1, int(len(times) * 0.95))],
        per_call,
        server,
        cpu,
    )


def bench_history(client: Client, counter: CommandCounter, runs: int, repeats: int) -> None:
    """Count and time the gate check and attribution with ``runs`` prior journal entries."""
    entries, snapshot = history(runs)
    with fresh(client, f"bench_history_{runs}") as db:
        began = time.perf_counter()
        for i in range(0, len(entries), _BATCH):
            db["account_journal"].insert_many(
                [entry_document(e) for e in entries[i : i + _BATCH]], ordered=False
            )
        clock = FakeClock(entries[-1].at)
        stores = MongoStores(db, clock=clock)  # builds the indexes over the loaded journal
        stores.accounts.save_snapshot(snapshot)
        loaded = time.perf_counter() - began
        billing = Billing(config(), stores=stores, clock=clock)
        counter.database = db.name
        billing.check_quota(ORG)  # a running process has its plan cache warm
        billing.attribute(ORG, "warm", COSTS[0])
        warm, _ = counter.take()
        gate = measure(lambda _: billing.check_quota(ORG), counter, repeats)
        attr = measure(
            lambda i: billing.attribute(ORG, f"new_{i}", COSTS[i % len(COSTS)]), counter, repeats
        )

        def cold(i: int) -> None:
            billing.accounts.cache.forget()  # as a process that has not seen the org yet
            billing.attribute(ORG, f"cold_{i}", COSTS[i % len(COSTS)])

        cold_attr = measure(cold, counter, repeats)
        bare = measure(
            lambda i: db["bare"].insert_one({"org": ORG, "seq": i, "key": f"bare_{i}"}),
            counter,
            repeats,
        )
        print(
            f"  {runs:>8,} prior runs ({len(entries):,} journal documents, loaded and indexed "
            f"in {loaded:.1f} s; first calls of the process: {dict(warm)})"
        )
        floors = {"gate check": 1, "attribution": 2, "attr. cold": 3, "bare insert": 1}
        for label, (commands, median, p95, names, server, cpu) in (
            ("gate check", gate),
            ("attribution", attr),
            ("attr. cold", cold_attr),
            ("bare insert", bare),
        ):
            detail = ", ".join(f"{name} {server[name]:.2f}" for name in names)
            print(
                f"    {label:<11}: {commands:.2f} commands (floor {floors[label]}) {names}; "
                f"median {median:.2f} ms, p95 {p95:.2f} ms; server ms per call: {detail}; "
                f"client CPU {cpu:.3f} ms ({cpu / bare[5]:.1f}x a bare insert_one)"
            )
        counter.database = ""


def run(
    uri: str, label: str, history_sizes: Sequence[int], snapshot_runs: Sequence[int], repeats: int
) -> None:
    """Both benchmarks against the server at ``uri``."""
    counter = CommandCounter()
    client: Client = MongoClient(uri, event_listeners=[counter], socketTimeoutMS=600_000)
    try:
        client.admin.command("ping")
        print(f"MongoDB commands per call on {label}; {repeats} calls each")
        for runs in history_sizes:
            bench_history(client, counter, runs, repeats)
        bench_snapshot_sizes(client, snapshot_runs)
    finally:
        client.close()


def main(argv: Sequence[str] | None = None) -> None:
    """Parse arguments, start a wire server unless ``--uri`` is given, print the figures."""
    parser = argparse.ArgumentParser(
        description="MongoDB commands per call (targets: docs/rules.md)."
    )
    parser.add_argument("--uri", help="a real MongoDB (default: start a mongoeco wire server)")
    parser.add_argument(
        "--history",
        type=int,
        nargs="+",
        help="prior journal entries per measurement (default: by server)",
    )
    parser.add_argument("--snapshot-runs", type=int, nargs="+", default=list(SNAPSHOT_RUNS))
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args(argv)
    if args.uri:
        run(
            args.uri,
            "MongoDB at --uri",
            args.history or REAL_HISTORY,
            args.snapshot_runs,
            args.repeats,
        )
        return
    python = ensure_mongoeco_venv(ROOT)
    with mongoeco_server(python, ROOT / "tests" / "support" / "mongoeco_server.py") as uri:
        run(
            uri,
            "the mongoeco wire server (in-memory engine)",
            args.history or WIRE_HISTORY,
            args.snapshot_runs,
            args.repeats,
        )


if __name__ == "__main__":
    main()
