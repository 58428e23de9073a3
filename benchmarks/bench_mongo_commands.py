"""Database commands per gate check and per attribution on MongoDB, by history size.

The targets are in docs/rules.md, "Targets".

Targets: ``billing.check_quota(org)`` = 1 command; ``billing.attribute`` = 2 commands on the
fast path (the process's snapshot cache holds the org: ``insert`` + ``update``), 3 when the
process has not seen the org yet ("attr. cold": the core's snapshot cache and the store's
remembered documents are emptied before each call, as in a new process); the same counts, and
about the same time, whatever the org's history; client CPU per attribution <= 1.0 ms, given as
a ratio to a bare ``insert_one`` in the same run; the account snapshot document stays bounded as
runs accumulate.

How: histories are produced by the real core (``Billing.in_memory``: N attributions over a few
cost categories, one second apart, in one week, after a pack purchase). Then, on a MongoDB
reached through real pymongo (a mongoeco wire server started here from ``.venv-mongoeco``, or
the server at ``--uri``):

1. snapshot size: each history's snapshot is written by ``MongoAccountStore.save_snapshot``
   and the stored account document's BSON size is printed;
2. commands per call: a history is loaded into a fresh database (see "Seeding") and
   ``Billing(config, stores=MongoStores(db))`` serves gate checks and attributions while a
   pymongo ``CommandListener`` counts the commands sent to that database and sums their
   server time by command name. The calls run in rounds of ``--chunk`` calls of each kind in
   turn (gate, attribution, cold attribution, the raw pair, a bare insert), so a busy machine
   slows every kind alike; client CPU is this process's CPU time per call.

"raw pair" is the floor under the library: the two commands of a cached attribution sent
as pre-built documents (an ``insert_one`` of a journal document into the journal, an
``update_one`` setting ``version`` and ``state.week`` of another account), so the CPU above it
is the library's own (the core's decision and fold, the document mapping). On a machine
shared with other work each wait for the server costs client CPU on its own (the caches are
cold when the process wakes up: an ``insert_one`` followed by a 10 ms sleep measured 0.62 ms of
CPU against 0.29 ms without the sleep), so a command the server is slow to answer costs more
client CPU than a bare ``insert_one`` into an empty collection.

Seeding: up to ``--full-load`` entries (default 1,000) the whole journal is inserted with
``insert_many`` before the indexes are built, and the snapshot saved. mongoeco is a test double
whose in-memory engine scans a collection for every unique index on each write and when it
builds a unique index (measured: 500 journal documents, 7.6 s for the ``(org, seq)`` index;
1,000 took ~35 s to load and index), so a longer history is seeded cheaply instead: the indexes
are built on the empty collections, the snapshot the core folded after the whole history
(version N + 2) is saved, and only the journal's last ``--tail`` entries (default 20) are
inserted in one ``insert_many``. Before measuring, the seeded account is checked: a fresh store
reads exactly that snapshot, loading it reads no entry past it, and folding the whole
in-memory journal gives the same state. The fast and cold paths never read the journal, so
their commands are those of an account with the full journal; only the server's time differs
(mongoeco's ``insert`` grows with the collection it scans). Against a real MongoDB (``--uri``)
every history is loaded in full (unless ``--full-load`` is given) and the default is 10,
10,000 and 100,000 runs; on the wire server 10 and 5,000. Prints figures only; nothing here is
asserted.

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
from compute_pricing.evolve import fold
from compute_pricing.journal import JournalEntry, Snapshot
from compute_pricing.state import Account
from compute_pricing_mongo import MongoAccountStore, MongoStores
from compute_pricing_mongo._documents import entry_document

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make ``tests.support`` importable
    sys.path.insert(0, str(ROOT))

from tests.support.mongo_wire import ensure_mongoeco_venv, mongoeco_server  # noqa: E402

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
ORG = "org_bench"
SNAPSHOT_RUNS = (10, 10_000, 100_000)
WIRE_HISTORY = (10, 5_000)
REAL_HISTORY = (10, 10_000, 100_000)
WIRE_FULL_LOAD = 1_000
TAIL = 20
TARGET_CPU_MS = 1.0
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


def seed(
    db: Db, entries: Sequence[JournalEntry], snapshot: Snapshot, clock: FakeClock, full: bool
) -> tuple[MongoStores, str]:
    """Load the org's history into ``db`` (module docstring, "Seeding"); what was loaded."""
    began = time.perf_counter()
    if full:
        for i in range(0, len(entries), _BATCH):
            db["account_journal"].insert_many(
                [entry_document(e) for e in entries[i : i + _BATCH]], ordered=False
            )
        stores = MongoStores(db, clock=clock)  # builds the indexes over the loaded journal
        loaded = f"{len(entries):,} journal documents"
    else:
        stores = MongoStores(db, clock=clock)  # indexes on the empty collections
        tail = entries[-TAIL:]
        db["account_journal"].insert_many([entry_document(e) for e in tail], ordered=False)
        loaded = f"the last {len(tail)} of {len(entries):,} journal documents"
    stores.accounts.save_snapshot(snapshot)
    return stores, f"{loaded} and the snapshot, indexed, in {time.perf_counter() - began:.1f} s"


def verify(db: Db, entries: Sequence[JournalEntry], snapshot: Snapshot, billing: Billing) -> str:
    """Check the seeded account reads and folds as the in-memory history (raises if not)."""
    read = MongoAccountStore(db).read_snapshot(ORG)
    folded = fold(Account.new(ORG, config().default_plan), [e for x in entries for e in x.events])
    state, version = billing.accounts.load(ORG)
    billing.accounts.cache.forget()
    if (read, state, version) != (snapshot, snapshot.state, snapshot.version):
        raise RuntimeError("the seeded account does not read back as written")
    if folded != snapshot.state or snapshot.version != entries[-1].seq:
        raise RuntimeError("the seeded snapshot is not the fold of its journal")
    return f"verified: reads back at version {version:,}, the fold of all {len(entries):,} entries"


class Figures:
    """One kind of call's commands, times and client CPU, summed over the rounds."""

    def __init__(self) -> None:
        self.calls = 0
        self.cpu = 0.0
        self.times: list[float] = []
        self.counts: Counter[str] = Counter()
        self.micros: Counter[str] = Counter()

    def add(self, call: Callable[[int], object], counter: CommandCounter, calls: int) -> None:
        """Run ``calls`` more calls, counting their commands and this process's CPU time."""
        counter.take()
        cpu = time.process_time()
        for _ in range(calls):
            began = time.perf_counter()
            call(self.calls)
            self.times.append((time.perf_counter() - began) * 1000)
            self.calls += 1
        self.cpu += time.process_time() - cpu
        counts, micros = counter.take()
        self.counts.update(counts)
        self.micros.update(micros)

    @property
    def cpu_ms(self) -> float:
        """Client CPU per call, in ms."""
        return self.cpu * 1000 / self.calls

    def line(self, label: str, floor: int, bare: float) -> str:
        """The printed figures of this kind, its CPU as a ratio to ``bare`` ms."""
        times = sorted(self.times)
        per_call = {name: count // self.calls for name, count in self.counts.items()}
        server = ", ".join(
            f"{name} {self.micros[name] / self.calls / 1000:.2f}" for name in self.counts
        )
        return (
            f"    {label:<11}: {sum(self.counts.values()) / self.calls:.2f} commands (floor "
            f"{floor}) {per_call}; median {statistics.median(times):.2f} ms, p95 "
            f"{times[min(len(times) - 1, int(len(times) * 0.95))]:.2f} ms; server ms per call: "
            f"{server}; client CPU {self.cpu_ms:.3f} ms ({self.cpu_ms / bare:.1f}x a bare "
            "insert_one)"
        )


def bench_history(
    client: Client, counter: CommandCounter, runs: int, *, repeats: int, chunk: int, full: bool
) -> None:
    """Count and time the gate check and attribution with ``runs`` prior journal entries."""
    entries, snapshot = history(runs)
    with fresh(client, f"bench_history_{runs}") as db:
        clock = FakeClock(entries[-1].at)
        stores, loaded = seed(db, entries, snapshot, clock, full)
        billing = Billing(config(), stores=stores, clock=clock)
        checked = verify(db, entries, snapshot, billing)
        store = stores.accounts
        assert isinstance(store, MongoAccountStore)  # noqa: S101 - MongoStores builds one
        counter.database = db.name
        billing.check_quota(ORG)  # a running process has its plan cache warm
        billing.attribute(ORG, "warm", COSTS[0])
        warm, _ = counter.take()
        journal = db["account_journal"]
        raw = entry_document(entries[-1])
        stored = db["accounts"].find_one({"org": ORG})
        assert stored is not None  # noqa: S101 - seeded above
        week = stored["state"]["week"]

        def cold(i: int) -> None:
            billing.accounts.cache.forget()  # as a process that has not seen the org yet
            store.forget()
            billing.attribute(ORG, f"cold_{i}", COSTS[i % len(COSTS)])

        def raw_pair(i: int) -> None:
            journal.insert_one({**raw, "org": "org_raw", "seq": i + 1, "key": f"raw_{i}"})
            db["accounts"].update_one(
                {"org": "org_raw", "version": i},
                {"$set": {"version": i + 1, "state.week": {**week, "used": i}}},
                upsert=True,
            )

        kinds: dict[str, tuple[int, Callable[[int], object]]] = {
            "gate check": (1, lambda _: billing.check_quota(ORG)),
            "attribution": (
                2,
                lambda i: billing.attribute(ORG, f"new_{i}", COSTS[i % len(COSTS)]),
            ),
            "attr. cold": (3, cold),
            "raw pair": (2, raw_pair),
            "bare insert": (
                1,
                lambda i: db["bare"].insert_one({"org": ORG, "seq": i, "key": f"bare_{i}"}),
            ),
        }
        figures = {label: Figures() for label in kinds}
        for done in range(0, repeats, chunk):
            for label, (_, call) in kinds.items():
                figures[label].add(call, counter, min(chunk, repeats - done))
        counter.database = ""
    print(
        f"  {runs:>8,} prior runs ({loaded}; {checked}; first calls of the process: {dict(warm)})"
    )
    bare = figures["bare insert"].cpu_ms
    for label, (floor, _) in kinds.items():
        print(figures[label].line(label, floor, bare))
    attribution, pair = figures["attribution"].cpu_ms, figures["raw pair"].cpu_ms
    print(
        f"    attribution client CPU {attribution:.3f} ms: target {TARGET_CPU_MS} ms "
        f"({'met' if attribution <= TARGET_CPU_MS else 'not met'}); the library's own above "
        f"the raw pair {attribution - pair:.3f} ms"
    )


def run(
    uri: str,
    label: str,
    history_sizes: Sequence[int],
    snapshot_runs: Sequence[int],
    *,
    options: argparse.Namespace,
    full_load: int | None,
) -> None:
    """Both benchmarks against the server at ``uri``; ``full_load``: the longest full journal."""
    counter = CommandCounter()
    client: Client = MongoClient(uri, event_listeners=[counter], socketTimeoutMS=600_000)
    try:
        client.admin.command("ping")
        print(
            f"MongoDB commands per call on {label}; {options.repeats} calls of each kind, in "
            f"rounds of {options.chunk}"
        )
        for runs in history_sizes:
            full = full_load is None or runs <= full_load
            bench_history(
                client, counter, runs, repeats=options.repeats, chunk=options.chunk, full=full
            )
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
    parser.add_argument("--repeats", type=int, default=60)
    parser.add_argument("--chunk", type=int, default=10, help="calls of one kind per round")
    parser.add_argument(
        "--full-load",
        type=int,
        help=(
            "longest history loaded in full, longer ones are seeded (see the module doc; "
            f"default: {WIRE_FULL_LOAD:,} on the wire server, no limit with --uri)"
        ),
    )
    args = parser.parse_args(argv)
    if args.uri:
        history_sizes = args.history or REAL_HISTORY
        run(
            args.uri,
            "MongoDB at --uri",
            history_sizes,
            args.snapshot_runs,
            options=args,
            full_load=args.full_load,
        )
        return
    python = ensure_mongoeco_venv(ROOT)
    with mongoeco_server(python, ROOT / "tests" / "support" / "mongoeco_server.py") as uri:
        run(
            uri,
            "the mongoeco wire server (in-memory engine)",
            args.history or WIRE_HISTORY,
            args.snapshot_runs,
            options=args,
            full_load=WIRE_FULL_LOAD if args.full_load is None else args.full_load,
        )


if __name__ == "__main__":
    main()
