"""The ``compute-pricing demo`` scenarios: pure library calls, rendered as a plain-text report.

Everything runs on :meth:`Billing.in_memory` with a :class:`FakeClock` and
:class:`SequentialIds`, so the report is the same on every run. Each section is a function
returning lines, so tests can check the content without capturing stdout:

- :func:`legacy_lines`: compute mode off; a month of ``documents.create`` until the 429.
- :func:`compute_lines`: compute mode on; a week of runs for two orgs with thresholds, a 402,
  pack purchases, the weekly reset with overflow-debt settlement, a partial refund and a pack
  expiry, as a table, a timeline and a per-day usage chart.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from textwrap import wrap
from typing import Literal

import attrs

from compute_pricing import __version__
from compute_pricing.billing import Billing
from compute_pricing.config import BillingConfig, PackSettings, PlanSettings
from compute_pricing.errors import BillingError, ComputeExhaustedError, QuotaExceededError
from compute_pricing.events import (
    AccountEvent,
    DebtSettled,
    Event,
    ExtrasCredited,
    ExtrasExhausted,
    LotExpired,
    RefundApplied,
    ThresholdCrossed,
)
from compute_pricing.memory import EventRecorder, SequentialIds
from compute_pricing.timekeeping import FakeClock

__all__ = [
    "COMPUTE_START",
    "LEGACY_START",
    "Mode",
    "compute_config",
    "compute_lines",
    "hbar",
    "legacy_config",
    "legacy_lines",
    "render",
    "table",
    "usage_chart",
]

Mode = Literal["compute", "legacy", "both"]

#: Monday 2026-01-05 08:00 UTC: the compute week starts here (ISO week 2026-W02).
COMPUTE_START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
#: Monday 2026-02-02 09:00 UTC: February, the short month of the legacy scenario.
LEGACY_START = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)

UPGRADE_URL = "https://example.test/upgrade"
_EIGHTHS = " ▏▎▍▌▋▊▉"
_WIDTH = 78


# -- formatting helpers --------------------------------------------------------------------


def table(headers: Sequence[str], rows: Iterable[Sequence[object]], align: str = "") -> list[str]:
    """Plain-text columns: ``align`` holds one ``<`` or ``>`` per column (default: ``<``).

    Integers are printed with thousands separators; every column is as wide as its widest cell.
    """
    cells = [[f"{v:,}" if isinstance(v, int) else str(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(headers)]
    sides = align.ljust(len(headers), "<")

    def line(values: Sequence[str]) -> str:
        parts = (
            v.rjust(w) if side == ">" else v.ljust(w)
            for v, w, side in zip(values, widths, sides, strict=True)
        )
        return "  ".join(parts).rstrip()

    return [line(headers), line(["-" * w for w in widths]), *(line(row) for row in cells)]


def hbar(value: int, scale: int, width: int) -> str:
    """A horizontal unicode bar of ``value / scale`` of ``width`` cells, in eighths of a cell."""
    if scale <= 0 or value <= 0:
        return ""
    eighths = round(min(value, scale) * width * 8 / scale)
    full, part = divmod(eighths, 8)
    return "█" * full + (_EIGHTHS[part] if part else "")


def usage_chart(
    days: Sequence[str], series: Sequence[tuple[str, Sequence[int]]], width: int = 16
) -> list[str]:
    """One line per day, one bar per series (all on one scale), the value after each bar."""
    scale = max((v for _, values in series for v in values), default=0)
    label = max((len(name) for name, _ in series), default=0)
    number = len(f"{scale:,}")
    lines = []
    for i, day in enumerate(days):
        parts = [
            f"{name.ljust(label)} {hbar(values[i], scale, width).ljust(width)} "
            f"{values[i]:>{number},}"
            for name, values in series
        ]
        lines.append(f"  {day}  " + "  │ ".join(parts))
    return lines


def _wrapped(prefix: str, text: str, indent: int, width: int = _WIDTH) -> list[str]:
    """``prefix + text`` wrapped to ``width``, continuation lines indented."""
    return wrap(prefix + text, width=width, subsequent_indent=" " * indent, break_long_words=False)


def _when(instant: datetime) -> str:
    return instant.strftime("%a %m-%d %H:%M")


def _day(instant: datetime) -> str:
    return instant.strftime("%a %m-%d")


# -- legacy mode ---------------------------------------------------------------------------


def legacy_config() -> BillingConfig:
    """Compute mode off: ``free`` allows 5 ``documents.create`` a month, ``team`` 1,000."""
    return BillingConfig(
        plans=(
            PlanSettings(plan_id="free", limits={"documents.create": 5}),
            PlanSettings(plan_id="team", limits={"documents.create": 1_000}),
        ),
        upgrade_url=UPGRADE_URL,
    )


def legacy_lines() -> list[str]:
    """February for org ``initech`` on ``free``: documents until the 429, then March."""
    clock = FakeClock(LEGACY_START)
    billing = Billing.in_memory(legacy_config(), clock=clock, ids=SequentialIds())
    org = "initech"
    limit = int(legacy_config().plans[0].limits["documents.create"])
    lines = [
        "== Legacy mode (compute_mode=False): monthly resource.action limits ==",
        f"org {org} on plan free: documents.create limit {limit} / month (February 2026)",
    ]
    created: list[str] = []
    while True:
        try:
            billing.check_quota(org, "documents", "create")
        except QuotaExceededError as exc:
            lines.append(f"  created on {', '.join(created)} -> {len(created)}/{limit}")
            lines += _wrapped(f"  {clock.now():%m-%d}  {exc.status} ", json.dumps(exc.to_dict()), 4)
            break
        billing.record_usage(org, "documents", "create")
        created.append(f"{clock.now():%m-%d}")
        clock.advance(days=3)
    lines += _wrapped("  usage(): ", json.dumps(billing.usage(org).to_dict()), 4)
    result = billing.attribute(org, "run_1", {"llm": Decimal("0.50")})
    lines.append(
        f"  attribute(run_1, $0.50) -> applied={result.applied} reason={result.reason} (a no-op)"
    )
    clock.set(datetime(2026, 3, 1, 9, 0, tzinfo=UTC))
    admission = billing.check_quota(org, "documents", "create")
    lines.append(f"  03-01  new month: check_quota -> allowed, remaining={admission.remaining}")
    return lines


# -- compute mode --------------------------------------------------------------------------


def compute_config() -> BillingConfig:
    """Compute mode on, with readable numbers: starter 10,000 and pro 50,000 units a week."""
    return BillingConfig(
        compute_mode=True,
        plans=(
            PlanSettings(plan_id="free", compute_quota=0),
            PlanSettings(plan_id="starter", compute_quota=10_000),
            PlanSettings(plan_id="pro", compute_quota=50_000),
        ),
        packs=(
            PackSettings(pack_id="boost", units=5_000, price_cents=900, expiry_days=14),
            PackSettings(pack_id="mega", units=20_000, price_cents=2_900, expiry_days=14),
        ),
        upgrade_url=UPGRADE_URL,
    )


@attrs.frozen
class _Org:
    """One simulated org: its plan, runs per weekday and base cost per run (dollars)."""

    org: str
    plan: str
    runs: tuple[int, ...]
    cents: int


_ORGS = (
    _Org("acme", "starter", runs=(6, 7, 6, 8, 9, 9, 8), cents=28),
    _Org("globex", "pro", runs=(10, 11, 10, 11, 10, 9, 8), cents=72),
)


def _costs(spec: _Org, day: int, run: int) -> dict[str, Decimal]:
    """A deterministic run: an LLM cost around ``spec.cents`` plus a small tools cost."""
    wobble = (day * 7 + run * 13) % 9 - 4  # -4..4 cents
    return {
        "llm": Decimal(spec.cents + wobble) / 100,
        "tools": Decimal((day + run) % 3 + 1) / 100,
    }


@attrs.define
class _DayRow:
    runs: int = 0
    refused: int = 0
    units: int = 0


@attrs.define
class _Simulation:
    """The state of a demo run: the billing instance, its clock and what happened."""

    billing: Billing
    clock: FakeClock
    recorder: EventRecorder
    rows: dict[tuple[int, str], _DayRow] = attrs.field(factory=dict)
    timeline: list[tuple[datetime, str, list[str]]] = attrs.field(factory=list)
    end_of_day: dict[tuple[int, str], tuple[int, int]] = attrs.field(factory=dict)

    def note(self, org: str, text: str, detail: Sequence[str] = ()) -> None:
        """Add a timeline entry at the current instant."""
        self.timeline.append((self.clock.now(), f"{org:<7} {text}", list(detail)))


def _buy(sim: _Simulation, org: str, pack_id: str, session: str) -> None:
    result = sim.billing.extras.credit_pack(org, pack_id, session)
    sim.note(org, f"bought {pack_id} pack: +{result.units:,} units, balance {result.balance:,}")


def _run_week(sim: _Simulation) -> None:
    """Seven days of runs; the gate is asked before every run (docs/rules.md "Quota gate")."""
    billing, clock = sim.billing, sim.clock
    exhausted: set[str] = set()
    for day in range(7):
        for spec in _ORGS:
            sim.rows[(day, spec.org)] = _DayRow()
        for run in range(max(spec.runs[day] for spec in _ORGS)):
            clock.set(COMPUTE_START + timedelta(days=day, hours=1, minutes=run * 45))
            for spec in _ORGS:
                if run < spec.runs[day]:
                    _one_run(sim, spec, day, run, exhausted)
        clock.set(COMPUTE_START + timedelta(days=day, hours=10))
        if day == 2:  # globex buys a pack ahead of a busy week
            _buy(sim, "globex", "mega", "cs_globex_1")
        for spec in _ORGS:
            used = int(billing.usage(spec.org)["compute_used"])
            sim.end_of_day[(day, spec.org)] = (used, billing.extras.balance(spec.org).balance)


def _one_run(sim: _Simulation, spec: _Org, day: int, run: int, exhausted: set[str]) -> None:
    """Ask the gate, then charge the run; the first 402 of an org is noted with its body."""
    row = sim.rows[(day, spec.org)]
    try:
        sim.billing.check_quota(spec.org)
    except ComputeExhaustedError as exc:
        row.refused += 1
        if spec.org in exhausted:
            if row.refused == 1:
                debt = sim.billing.extras.balance(spec.org).debt
                sim.note(
                    spec.org,
                    f"{exc.status} again: overflow debt {debt:,}, "
                    f"extras_remaining {exc.extras_remaining}",
                )
        else:
            exhausted.add(spec.org)
            sim.note(
                spec.org,
                f"{exc.status} {exc.code}",
                _wrapped("", json.dumps(exc.to_dict()), 0, _WIDTH - 6),
            )
            if spec.org == "acme":
                _buy(sim, "acme", "boost", "cs_acme_1")
        return
    result = sim.billing.attribute(spec.org, f"{spec.org}-d{day}-r{run}", _costs(spec, day, run))
    row.runs += 1
    row.units += result.units


def _event_text(event: Event) -> str | None:
    """Timeline text of a published event, or ``None`` if the timeline skips it."""
    match event:
        case ThresholdCrossed():
            return (
                f"compute.threshold_crossed {event.threshold}% ({event.used:,} / {event.quota:,})"
            )
        case ExtrasExhausted():
            return f"extras.exhausted (balance {event.balance:,})"
        case DebtSettled():
            return f"compute.debt_settled {event.units:,} units into {event.week_key}"
        case ExtrasCredited() if event.repaid_usage_debt:
            return f"extras.credited repaid {event.repaid_usage_debt:,} units of overflow debt"
        case RefundApplied():
            return f"extras.refunded {event.refund_id}: -{event.units:,} units"
        case LotExpired():
            return f"extras.expired {event.lot_id}: -{event.units:,} units"
    return None


def _simulate() -> _Simulation:
    """Subscribe both orgs and run the week (everything up to the weekly reset)."""
    clock = FakeClock(COMPUTE_START)
    recorder = EventRecorder()
    billing = Billing.in_memory(
        compute_config(), clock=clock, publisher=recorder, ids=SequentialIds()
    )
    sim = _Simulation(billing=billing, clock=clock, recorder=recorder)
    for spec in _ORGS:
        billing.subscribe(spec.org, spec.plan)
    _run_week(sim)
    for event in recorder.published:
        text = _event_text(event)
        if text is not None and isinstance(event, AccountEvent):
            sim.timeline.append((event.at, f"{event.org:<7} {text}", []))
    return sim


def _after_week(sim: _Simulation) -> list[str]:
    """The cron jobs and a refund after the week: reset with settlement, refund, expiry."""
    billing, clock = sim.billing, sim.clock
    seen = len(sim.recorder.published)

    def new_events() -> list[str]:
        nonlocal seen
        fresh = sim.recorder.published[seen:]
        seen = len(sim.recorder.published)
        found = ((e, _event_text(e)) for e in fresh if isinstance(e, AccountEvent))
        return [f"      {e.org:<7} {text}" for e, text in found if text is not None]

    # A week after the first runs, the cron job resets every due account and settles debt.
    clock.set(COMPUTE_START + timedelta(days=7, hours=2))
    summary = billing.reset_all_due()
    lines = [
        f"  {_when(clock.now())}  reset_all_due() -> processed={summary.processed} "
        f"skipped={summary.skipped} errors={len(summary.errors)}",
        *new_events(),
    ]
    for spec in _ORGS:
        view, bal = billing.usage(spec.org), billing.extras.balance(spec.org)
        lines.append(
            f"      {spec.org:<7} {view['week_key']}: used {view['compute_used']:,} / "
            f"{view['compute_quota']:,}, extras {bal.balance:,}, debt {bal.debt:,}"
        )
    clock.advance(days=1)
    refund = billing.extras.refund_partial("globex", "cs_globex_1", 1_450, "re_1")
    lines.append(
        f"  {_when(clock.now())}  globex refund_partial $14.50 of mega (re_1): "
        f"-{refund.units:,} units"
    )
    lines += new_events()
    clock.set(COMPUTE_START + timedelta(days=17, hours=12))
    expired = billing.extras.expire_old_entries()
    lines.append(
        f"  {_when(clock.now())}  expire_old_entries() -> processed={expired.processed}"
        " (14-day packs)"
    )
    lines += new_events()
    for spec in _ORGS:
        bal = billing.extras.balance(spec.org)
        lines.append(
            f"      {spec.org:<7} extras balance {bal.balance:,}, "
            f"spendable {bal.spendable:,}, debt {bal.debt:,}"
        )
    return lines


def _week_table(sim: _Simulation) -> list[str]:
    quotas = {p.plan_id: p.compute_quota for p in compute_config().plans}
    rows = []
    for (day, org), row in sim.rows.items():
        used, balance = sim.end_of_day[(day, org)]
        spec = next(s for s in _ORGS if s.org == org)
        quota = quotas[spec.plan]
        rows.append(
            [
                _day(COMPUTE_START + timedelta(days=day)) if org == _ORGS[0].org else "",
                org,
                spec.plan,
                row.runs,
                row.refused,
                row.units,
                f"{used:,} / {quota:,}",
                f"{used * 100 // quota}%",
                balance,
            ]
        )
    return table(
        ["day", "org", "plan", "runs", "402s", "units", "week used / quota", "used", "extras"],
        rows,
        "<<<>>>>>>",
    )


def compute_lines() -> list[str]:
    """A simulated week for ``acme`` (starter) and ``globex`` (pro), then reset, refund, expiry."""
    sim = _simulate()
    lines = [
        "== Compute mode: weekly quotas, extras packs, the 402 gate ==",
        "plans: starter 10,000 and pro 50,000 units a week (1 unit = $0.001 of cost)",
        "packs: boost 5,000 units for $9, mega 20,000 units for $29 (expire in 14 days)",
        "",
        *_week_table(sim),
        "",
        "Timeline (from billing.events and the gate):",
    ]
    for at, text, detail in sorted(sim.timeline, key=lambda item: item[0]):
        lines.append(f"  {_when(at)}  {text}")
        lines += [f"      {d}" for d in detail]
    days = [_day(COMPUTE_START + timedelta(days=d)) for d in range(7)]
    series = [(s.org, [sim.rows[(d, s.org)].units for d in range(7)]) for s in _ORGS]
    lines += ["", "Units charged per day:", *usage_chart(days, series)]
    lines += ["", "After the week:", *_after_week(sim)]
    return lines


def render(mode: Mode = "both") -> str:
    """The whole demo report for ``mode`` as one string (no trailing newline)."""
    sections: list[Callable[[], list[str]]] = []
    if mode in ("legacy", "both"):
        sections.append(legacy_lines)
    if mode in ("compute", "both"):
        sections.append(compute_lines)
    lines = [f"compute_pricing {__version__} demo: in-memory back end, FakeClock, SequentialIds"]
    for section in sections:
        lines += ["", *section()]
    return "\n".join(lines)


def main(mode: Mode = "both") -> int:
    """Print the report; ``0`` on success, ``1`` if the library raised (it should not)."""
    try:
        print(render(mode))
    except BillingError as exc:  # pragma: no cover - the scenario is deterministic
        print(f"demo failed: {exc.code}: {exc.message}")
        return 1
    return 0
