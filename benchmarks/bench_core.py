"""In-memory core throughput and gate latency (docs/rules.md "Targets").

Measures, on ``Billing.in_memory`` with a ``FakeClock`` (the week never rolls mid-run):

- ``attribute`` throughput with distinct run ids over several orgs, charged to the weekly quota
  (no overflow) and charged to extras lots (overflow: a quota-0 plan and a large pack);
- ``check_quota`` latency, p50/p99 in microseconds, on an org with 10 prior runs and on one
  with the whole throughput run behind it (the gate must not grow with history);
- pure ``decide`` throughput (no store, no fold) for comparison;
- the rate of only constructing the immutable values one commit builds (this design's
  ceiling) and the floor: a bare dict update plus a ``Decimal`` multiply.

Rates are per CPU second of this process (``time.process_time``), so a busy machine lowers
them less than wall time would, and each is the median of :data:`ROUNDS` rounds. Prints
figures only; nothing here is asserted.
``--profile quota|overflow`` adds a cProfile of that attribution loop (top entries by own time
and by cumulative time).

Run it with ``.venv/bin/python benchmarks/bench_core.py [--seconds 2.5] [--profile quota]``.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import platform
import pstats
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal

from compute_pricing import Billing, BillingConfig, FakeClock, PackSettings, PlanSettings
from compute_pricing import commands as cmd
from compute_pricing import events as ev
from compute_pricing.accounts import Committed
from compute_pricing.decide import decide, roll_week
from compute_pricing.decide_common import Context, Decision
from compute_pricing.evolve import fold
from compute_pricing.journal import JournalEntry, Snapshot
from compute_pricing.results import AttributionResult
from compute_pricing.rules.attribution import Units, parse_costs

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
TARGET_QUOTA = 100_000  # attributions/s on the quota path (issue "Performance")
TARGET_OVERFLOW = 70_000  # attributions/s on the overflow path
COSTS = {"llm": Decimal("0.012"), "tools": Decimal("0.003")}  # 15 units a step
_CHUNK = 500
#: Rounds per measured loop; each figure is the median round (GC on unless said otherwise).
ROUNDS = 5


def config() -> BillingConfig:
    """Compute mode; ``big`` never runs out in a benchmark, ``none`` overflows every charge."""
    return BillingConfig(
        compute_mode=True,
        plans=(
            PlanSettings(plan_id="free", compute_quota=0),
            PlanSettings(plan_id="big", compute_quota=2_000_000_000),
            PlanSettings(plan_id="none", compute_quota=0),
        ),
        packs=(PackSettings(pack_id="huge", units=2_000_000_000, price_cents=100_000),),
    )


def build(plan: str, orgs: int) -> tuple[Billing, list[str]]:
    """A fresh in-memory billing with ``orgs`` orgs on ``plan`` (overflow orgs get a pack)."""
    billing = Billing.in_memory(config(), clock=FakeClock(START))
    names = [f"org_{i}" for i in range(orgs)]
    for org in names:
        billing.subscribe(org, plan)
        if plan == "none":
            billing.extras.credit_pack(org, "huge", f"cs_{org}")
    return billing, names


def timed_loop(step: Callable[[int], object], seconds: float) -> tuple[int, float]:
    """The median round of :data:`ROUNDS` that call ``step(i)`` for ``seconds`` in all.

    Returns ``(calls, cpu_seconds)`` of the median-rate round. ``i`` runs on across rounds
    (0, 1, ... never repeating), each round calls ``step`` in chunks of 500 until its share of
    the wall time is spent, and a round's rate is per CPU second of this process
    (``time.process_time``), so other processes competing for the core lower it less.
    """
    done = 0
    rounds: list[tuple[float, int, float]] = []
    for _ in range(ROUNDS):
        deadline = time.perf_counter() + seconds / ROUNDS
        started, first = time.process_time(), done
        while True:
            for i in range(done, done + _CHUNK):
                step(i)
            done += _CHUNK
            if time.perf_counter() >= deadline:
                break
        elapsed = time.process_time() - started
        rounds.append(((done - first) / elapsed, done - first, elapsed))
    _, calls, elapsed = sorted(rounds)[len(rounds) // 2]
    return calls, elapsed


def attribution_rate(
    plan: str, orgs: int, seconds: float, *, collect: bool = True
) -> tuple[float, Billing, list[str]]:
    """Attributions per CPU second, distinct run ids, round-robin over ``orgs`` orgs.

    ``collect=False`` runs with the cyclic garbage collector off, to show its share.
    """
    billing, names = build(plan, orgs)
    count = len(names)

    def step(i: int) -> object:
        return billing.attribute(names[i % count], f"run_{i}", COSTS)

    gc.collect()
    if not collect:
        gc.disable()
    try:
        calls, elapsed = timed_loop(step, seconds)
    finally:
        gc.enable()
    return calls / elapsed, billing, names


def values_rate(seconds: float) -> float:
    """Per second: only constructing the values one quota-path commit builds, with no logic.

    The command, the context, the units, the event, the outcome, the decision, the request,
    the journal entry, the charged week, the new account, the snapshot, the commit record and
    the result: the ceiling of an attribution in this design (immutable values, one journal
    entry per commit) on this interpreter, whatever the logic around them costs.
    """
    billing, (org,) = build("big", 1)
    billing.attribute(org, "warmup", COSTS)
    state, _ = billing.accounts.load(org)
    now = billing.clock.now()
    ctx = billing.accounts.context(state, now)
    costs = parse_costs(COSTS)
    week = state.week
    assert week is not None  # noqa: S101 - the warm-up opened it

    def step(i: int) -> object:
        command = cmd.Attribute(f"run_{i}", "initial", costs, None)
        Context(ctx.config, now, ctx.plan, ctx.default_plan)
        units = Units(15, {"llm": 12, "tools": 3}, False)
        event = ev.ComputeCharged(
            org=org,
            at=now,
            run_id=command.run_id,
            step="initial",
            week_key=week.key,
            units=15,
            from_quota=15,
            from_extras=0,
            breakdown=units.breakdown,
        )
        outcome = {
            "applied": True,
            "units": 15,
            "from_quota": 15,
            "from_extras": 0,
            "compute_used": 15,
            "capped": False,
            "reason": "charged",
        }
        decision = Decision((event,), outcome)
        request = {"run_id": command.run_id, "step": "initial", "costs": {"llm": "0.012"}}
        entry = JournalEntry(
            org, 2, "attr:x", "Attribute", decision.events, outcome, now, 0, request
        )
        account = state.with_week(week.charged(15, units.breakdown))
        Snapshot(org, 2, account, now)
        Committed(outcome, False, decision.events, account, 1)
        return AttributionResult.from_outcome(entry.outcome, replayed=False)

    calls, elapsed = timed_loop(step, seconds)
    return calls / elapsed


def floor_rate(seconds: float) -> float:
    """Per second: a bare dict update plus a Decimal multiply (the issue's physical floor)."""
    counts: dict[int, int] = {}
    factor = Decimal(1000)
    cost = COSTS["llm"]

    def step(i: int) -> object:
        slot = i & 1023
        counts[slot] = counts.get(slot, 0) + int(cost * factor)
        return None

    calls, elapsed = timed_loop(step, seconds)
    return calls / elapsed


def percentiles(samples_ns: Sequence[int]) -> tuple[float, float]:
    """p50 and p99 of nanosecond samples, in microseconds."""
    cuts = statistics.quantiles(samples_ns, n=100, method="inclusive")
    return cuts[49] / 1000, cuts[98] / 1000


def gate_latency(billing: Billing, org: str, calls: int) -> tuple[float, float]:
    """p50/p99 microseconds of ``billing.check_quota(org)`` over ``calls`` calls."""
    samples = []
    clock = time.perf_counter_ns
    for _ in range(calls):
        started = clock()
        billing.check_quota(org)
        samples.append(clock() - started)
    return percentiles(samples)


def decide_rate(seconds: float) -> float:
    """Pure ``decide`` calls per second on a fixed state (no store, no fold, no publish)."""
    billing, (org,) = build("big", 1)
    billing.attribute(org, "warmup", COSTS)
    state, _ = billing.accounts.load(org)
    ctx = billing.accounts.context(state, billing.clock.now())
    state = fold(state, roll_week(state, ctx))
    costs = parse_costs(COSTS)

    def step(i: int) -> object:
        return decide(state, cmd.Attribute(run_id=f"run_{i}", step="initial", costs=costs), ctx)

    calls, elapsed = timed_loop(step, seconds)
    return calls / elapsed


def profile(seconds: float, orgs: int, top: int, plan: str = "big") -> str:
    """cProfile of the attribution loop on ``plan``: top entries by tottime and cumtime.

    The garbage collector is off while profiling: its pauses would otherwise be charged to
    whichever function happened to allocate (it shows up as a slow attrs ``__init__``).
    """
    billing, names = build(plan, orgs)
    count = len(names)
    profiler = cProfile.Profile()
    deadline = time.perf_counter() + seconds
    i = 0
    gc.disable()
    profiler.enable()
    try:
        while time.perf_counter() < deadline:
            billing.attribute(names[i % count], f"run_{i}", COSTS)
            i += 1
    finally:
        profiler.disable()
        gc.enable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.strip_dirs()
    print(
        f"cProfile of {i:,} attributions on plan {plan!r}, GC off "
        "(cProfile slows the loop down; read proportions, not rates)",
        file=out,
    )
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def main(argv: list[str] | None = None) -> None:
    """Run every measurement and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=2.5, help="per throughput run")
    parser.add_argument("--orgs", type=int, default=8, help="orgs to round-robin over")
    parser.add_argument("--gate-calls", type=int, default=20_000, help="check_quota samples")
    parser.add_argument(
        "--profile",
        choices=("quota", "overflow"),
        help="also print a cProfile of the attribution loop charged to quota or to extras",
    )
    parser.add_argument("--top", type=int, default=25, help="profile entries to print")
    args = parser.parse_args(argv)

    print(
        f"== bench_core: in-memory core, Python {platform.python_version()}, "
        f"{platform.machine()}, one thread, each rate the median of {ROUNDS} rounds =="
    )
    rate_quota, billing, names = attribution_rate("big", args.orgs, args.seconds)
    mark = "meets" if rate_quota >= TARGET_QUOTA else "MISSES"
    print(
        f"attribute, charged to quota     : {rate_quota:>9,.0f} /s over {args.orgs} orgs "
        f"({mark} the {TARGET_QUOTA:,}/s target, ratio {rate_quota / TARGET_QUOTA:.2f})"
    )
    rate_overflow, _, _ = attribution_rate("none", args.orgs, args.seconds)
    mark = "meets" if rate_overflow >= TARGET_OVERFLOW else "MISSES"
    print(
        f"attribute, overflow to extras   : {rate_overflow:>9,.0f} /s over {args.orgs} orgs "
        f"({mark} the {TARGET_OVERFLOW:,}/s target, ratio {rate_overflow / TARGET_OVERFLOW:.2f})"
    )
    rate_no_gc, _, _ = attribution_rate("big", args.orgs, args.seconds, collect=False)
    share = max(0.0, 1 - rate_quota / rate_no_gc)
    print(
        f"attribute, to quota, GC off     : {rate_no_gc:>9,.0f} /s "
        f"(with GC on, the cyclic GC costs ~{share:.0%})"
    )
    rate_decide = decide_rate(args.seconds)
    print(f"decide() alone (no store/fold)  : {rate_decide:>9,.0f} /s")
    rate_values = values_rate(args.seconds)
    print(
        f"only the values a commit builds : {rate_values:>9,.0f} /s (this design's ceiling; "
        f"the quota path runs at {rate_quota / rate_values:.2f} of it)"
    )
    rate_floor = floor_rate(args.seconds)
    print(
        f"floor: dict update + Decimal mul: {rate_floor:>9,.0f} /s (the quota path is "
        f"{rate_floor / rate_quota:.0f}x it)"
    )

    fresh, (org,) = build("big", 1)
    for i in range(10):
        fresh.attribute(org, f"run_{i}", COSTS)
    p50, p99 = gate_latency(fresh, org, args.gate_calls)
    print(f"check_quota, 10 prior runs      :  p50 {p50:7.1f} us   p99 {p99:7.1f} us")
    history = len(billing.stores.accounts.read_journal(names[0]))
    p50, p99 = gate_latency(billing, names[0], args.gate_calls)
    print(f"check_quota, {history:>7,} prior runs :  p50 {p50:7.1f} us   p99 {p99:7.1f} us")
    if args.profile:
        plan = "big" if args.profile == "quota" else "none"
        print()
        print(profile(args.seconds, args.orgs, args.top, plan))


if __name__ == "__main__":
    main()
