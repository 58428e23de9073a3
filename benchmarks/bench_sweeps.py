"""Sweep cost per account: weekly reset, lot expiry and dunning, one at a time and batched.

Targets (issue "Performance"): a batched sweep (``sweep_batch_size`` 500) costs at most 0.05
MongoDB commands per account (floor: 3 per batch, a query and two bulk writes, = 0.006 at 500);
one at a time it costs 3 per account (a snapshot ``find``, the journal ``insert`` and the
snapshot ``update``). In memory the time per account stays flat from 1,000 to 100,000 accounts.

How the accounts are made: the real core builds them in memory (``Billing.in_memory``:
subscribe, one attribution, one pack that expires after 30 days; a third of them then fail a
payment), then sweeps run 31 days later (reset and expiry) and 45 days later (dunning).

Over the wire (``--wire-accounts``, default 1,000, batch 500; ``--single-accounts`` 30 one at a
time) the accounts are copied into a fresh database by ``benchmarks/wire_seed.py``, not built
through the library (thousands of round trips, and mongoeco's inserts slow down as a collection
grows): the indexes are created first on the empty collections, then every journal entry goes
in one ``append_many`` (one ``insert_many``) and every snapshot in one ``save_snapshots`` (one
``bulk_write``), the adapter's own encoding; three accounts are read back through the library
and compared with their in-memory source. On mongoeco the journal's two compound unique indexes
are left out (mongoeco checks one by scanning the collection on every insert); the client sends
the same commands and decodes the same replies, so neither figure changes. A pymongo
``CommandListener`` counts the commands of the sweep's database; client CPU is this process's
``time.process_time`` (the server is another process). mongoeco itself still scans the
collection for every inserted ``_id``, so seeding 1,000 accounts and each sweep's bulk insert
take tens of seconds of server time (printed as wall time): that is not the library's cost.
``--uri`` a real MongoDB to time the server too; ``--skip-wire`` for the in-memory part only.

In memory (``--memory-accounts``, default 1,000 / 10,000 / 100,000) each sweep runs batched and
one at a time, each run starting right after a full collection; the figure is CPU microseconds
per swept account with the cyclic GC on, its ratio to the smallest run, and, measured with a
``gc.callbacks`` hook, the full (generation 2) collections that ran inside the sweep, their
time per account and the figure without them. CPython runs a full collection once the objects
that survived younger collections since the last one reach a quarter of the tracked heap; a
sweep leaves a few new long-lived objects per account (its journal entry and new state), so a
sweep of 10,000 or more accounts pays about one collection of the whole heap (about 23 tracked
objects per account) and a sweep of 1,000 accounts, whose heap is mostly the interpreter's own,
pays none. Prints figures only; nothing here is asserted.

Run: ``.venv/bin/python benchmarks/bench_sweeps.py [--uri URI] [--wire-accounts 1000]
[--single-accounts 30] [--memory-accounts 1000 10000 100000] [--skip-wire]``.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from pymongo import MongoClient, monitoring

from compute_pricing import Billing, BillingConfig, FakeClock, PackSettings, PlanSettings
from compute_pricing.memory import InMemoryAccountStore
from compute_pricing.results import SweepSummary
from compute_pricing_mongo import MongoStores

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make ``tests.support`` importable
    sys.path.insert(0, str(ROOT))

from benchmarks.wire_seed import prepare, seed, verify  # noqa: E402
from tests.support.mongo_wire import ensure_mongoeco_venv, mongoeco_server  # noqa: E402

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
BATCH = 500
TARGET_BATCHED = 0.05

Client = MongoClient[dict[str, Any]]


class CommandCounter(monitoring.CommandListener):
    """Counts the commands sent to one database by name."""

    def __init__(self) -> None:
        self.database = ""
        self.counts: Counter[str] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        """Count a command on the watched database."""
        if event.database_name == self.database:
            self.counts[event.command_name] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        """Nothing to add."""

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        """Nothing to add."""

    def take(self) -> Counter[str]:
        """The counts so far, reset."""
        taken, self.counts = self.counts, Counter()
        return taken


Sweep = Callable[[Billing], SweepSummary]
SWEEPS: tuple[tuple[str, int, Sweep], ...] = (
    ("weekly reset", 31, lambda b: b.reset_all_due()),
    ("lot expiry", 31, lambda b: b.extras.expire_old_entries()),
    ("dunning", 45, lambda b: b.dunning_sweep()),
)


def config(batch: int) -> BillingConfig:
    """Compute mode, a 30-day pack, sweeps in batches of ``batch`` accounts."""
    return BillingConfig(
        compute_mode=True,
        plans=(PlanSettings(plan_id="free"), PlanSettings(plan_id="team", compute_quota=1_000)),
        packs=(PackSettings(pack_id="pack", units=500, price_cents=900, expiry_days=30),),
        sweep_batch_size=batch,
    )


def seeded(accounts: int, batch: int) -> tuple[Billing, FakeClock]:
    """An in-memory billing with ``accounts`` accounts (every third past due)."""
    clock = FakeClock(START)
    billing = Billing.in_memory(config(batch), clock=clock)
    for i in range(accounts):
        org = f"org_{i:07d}"
        billing.subscribe(org, "team")
        billing.attribute(org, "run_1", {"llm": Decimal("0.004")})
        billing.extras.credit_pack(org, "pack", f"cs_{i}")
        if i % 3 == 0:
            billing.payment_failed(org, f"in_{i}")
    return billing, clock


def load(  # noqa: PLR0917 - the run's parts
    client: Client,
    name: str,
    source: Billing,
    clock: FakeClock,
    accounts: int,
    batch: int,
    journal_unique: bool,
) -> Billing:
    """A ``Billing`` on a fresh database holding ``source``'s accounts (see ``wire_seed``)."""
    client.drop_database(name)
    db = client[name]
    prepare(db, journal_unique=journal_unique)
    sweep_clock = FakeClock(clock.now())
    stores = MongoStores(db, clock=sweep_clock, ensure_indexes=False)
    memory = source.stores.accounts
    assert isinstance(memory, InMemoryAccountStore)  # noqa: S101 - built by ``seeded``
    orgs = [f"org_{i:07d}" for i in range(accounts)]
    seed(stores, memory, orgs)
    verify(stores, memory, sorted({orgs[0], orgs[len(orgs) // 2], orgs[-1]}))
    return Billing(config(batch), stores=stores, clock=sweep_clock)


def bench_wire(
    client: Client,
    counter: CommandCounter,
    accounts: int,
    batch: int,
    *,
    journal_unique: bool,
) -> None:
    """Commands and client CPU per account of each sweep on ``accounts`` accounts."""
    source, clock = seeded(accounts, batch)
    name = f"bench_sweeps_{accounts}_{batch}"
    try:
        began = time.perf_counter()
        billing = load(client, name, source, clock, accounts, batch, journal_unique)
        print(f"  seeded {accounts:,} accounts in {time.perf_counter() - began:.1f} s")
        clock_now = billing.clock
        assert isinstance(clock_now, FakeClock)  # noqa: S101 - built by ``load``
        for label, days, sweep in SWEEPS:
            clock_now.set(START + timedelta(days=days))
            billing.plans.get_active_plan("team")  # the plan cache's hour ran out: refill it
            billing.plans.get_active_plan("free")
            billing.accounts.cache.forget()  # a cron process starts cold
            counter.database = name
            counter.take()
            began, cpu = time.perf_counter(), time.process_time()
            summary = sweep(billing)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - began
            counts = counter.take()
            counter.database = ""
            swept = max(summary.processed + summary.skipped, 1)
            per = sum(counts.values()) / swept
            floor = 3 * -(-swept // batch) / swept  # 3 commands per (partial) batch
            print(
                f"  {label:<12} {accounts:>6,} accounts, batch {batch:>3}: "
                f"{summary.processed:>5,} processed + {summary.skipped:,} skipped, "
                f"{per:.4f} commands/account "
                f"(floor {floor:.4f} for this many, ratio {per / floor:.2f}; target "
                f"{TARGET_BATCHED if batch > 1 else 3.0}) {dict(counts)}; client CPU "
                f"{cpu / swept * 1e6:,.0f} us/account; wall {wall:.1f} s"
            )
    finally:
        client.drop_database(name)


class FullCollections:
    """Counts the cyclic GC's full (generation 2) collections and the time they take."""

    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0
        self._began = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        """A ``gc.callbacks`` hook."""
        if info["generation"] != 2:
            return
        if phase == "start":
            self._began = time.process_time()
        else:
            self.count += 1
            self.seconds += time.process_time() - self._began

    def take(self) -> tuple[int, float]:
        """Collections and seconds so far, reset."""
        taken = (self.count, self.seconds)
        self.count, self.seconds = 0, 0.0
        return taken


def bench_memory(accounts: Sequence[int]) -> None:
    """CPU microseconds per account of each in-memory sweep, one at a time and batched."""
    print(
        "\nin memory, CPU us per swept account, GC on (target: flat from the smallest to the "
        "largest run; ratio = this size / the smallest);\n  [full collections inside the "
        "sweep: count, their us per account; the figure without them]"
    )
    full = FullCollections()
    gc.callbacks.append(full)
    try:
        for batch in (BATCH, 1):
            smallest: dict[str, float] = {}
            for n in accounts:
                billing, clock = seeded(n, batch)
                gc.collect()  # every run starts from an empty young heap and no pending survivors
                figures = []
                for label, days, sweep in SWEEPS:
                    clock.set(START + timedelta(days=days))
                    full.take()
                    cpu = time.process_time()
                    summary = sweep(billing)
                    cpu = time.process_time() - cpu
                    collections, in_full = full.take()
                    swept = max(summary.processed + summary.skipped, 1)
                    per = cpu / swept * 1e6
                    base = smallest.setdefault(label, per)
                    figures.append(
                        f"{label} {per:,.1f} (ratio {per / base:.2f}) "
                        f"[{collections}, {in_full / swept * 1e6:,.1f}; "
                        f"{per - in_full / swept * 1e6:,.1f}]"
                    )
                print(f"  batch {batch:>3}, {n:>7,} accounts: " + "; ".join(figures))
                del billing, clock
                gc.collect()  # this run's heap goes now, not inside the next run's sweeps
    finally:
        gc.callbacks.remove(full)


def run(uri: str, label: str, wire_accounts: int, single_accounts: int) -> None:
    """The wire figures against the server at ``uri`` (mongoeco unless ``label`` says not)."""
    counter = CommandCounter()
    client: Client = MongoClient(
        # A busy single-threaded server answers the monitor's heartbeat late: a long bulk
        # command must not be cancelled for that (pymongo's default waits 20 s).
        uri,
        event_listeners=[counter],
        socketTimeoutMS=600_000,
        connectTimeoutMS=600_000,
    )
    unique = "mongoeco" not in label
    try:
        client.admin.command("ping")
        print(f"sweeps on {label}: MongoDB commands and client CPU per account")
        bench_wire(client, counter, wire_accounts, BATCH, journal_unique=unique)
        bench_wire(client, counter, single_accounts, 1, journal_unique=unique)
    finally:
        client.close()


def main(argv: Sequence[str] | None = None) -> None:
    """Parse arguments, start a wire server unless ``--uri`` is given, print the figures."""
    parser = argparse.ArgumentParser(description="Sweep cost per account.")
    parser.add_argument("--uri", help="a real MongoDB (default: start a mongoeco wire server)")
    parser.add_argument("--wire-accounts", type=int, default=1_000)
    parser.add_argument("--single-accounts", type=int, default=30)
    parser.add_argument("--memory-accounts", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--skip-wire", action="store_true", help="the in-memory figures only")
    args = parser.parse_args(argv)
    if args.uri and not args.skip_wire:
        run(args.uri, "MongoDB at --uri", args.wire_accounts, args.single_accounts)
    elif not args.skip_wire:
        python = ensure_mongoeco_venv(ROOT)
        with mongoeco_server(python, ROOT / "tests" / "support" / "mongoeco_server.py") as uri:
            run(uri, "the mongoeco wire server", args.wire_accounts, args.single_accounts)
    bench_memory(args.memory_accounts)


if __name__ == "__main__":
    main()
