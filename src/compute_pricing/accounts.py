"""The commit loop: load one account, decide, append one journal entry, refresh the snapshot.

This is the only place that writes accounts, so it is where "nothing lost, nothing charged
twice" is kept:

- the journal insert at ``seq = version + 1`` is the commit; a taken ``seq`` means another
  writer won, so the loop reloads (with catch-up from the journal) and decides again after a
  bounded exponential backoff with full jitter, up to ``max_commit_attempts`` times, then
  raises ``ConcurrencyConflictError``;
- a taken ``key`` is a replay: if the stored request differs in kind or parameters it raises
  ``IdempotencyConflictError`` and writes nothing, otherwise the stored outcome is returned;
- a refused (or no-write) decision is never taken on a snapshot that is behind: the loop first
  catches up from the journal and decides again on the current state; a key already used then
  replays rather than raising;
- a replay, or a read that finds the snapshot behind, refreshes it with the compare-and-set;
- the snapshot is refreshed with a compare-and-set after the commit; if that is lost (crash,
  race, store error) the commit still stands, its events are still published once, and the
  next writer, replay or refusal catches up;
- ``at`` never goes backwards within an account: a clock that stepped back is clamped to the
  previous entry's ``at`` and the step is recorded in the entry's ``clock_skew_ms``.

The fast path costs three store calls: read the snapshot, append, save the snapshot; two when
the process-local snapshot cache holds the org at the version this process last committed or
read (append at ``cached + 1``, save the snapshot). The cache is only a guess of the latest
version: the journal's unique ``(org, seq)`` index stays the arbiter, so a cache behind another
process's commit loses the insert and catches up from the journal like any lost race, and a
state taken from the cache is never used to refuse, to answer without writing, or to replay
(those first catch up from the journal, as they do on a stored snapshot).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs

from compute_pricing.commands import Command
from compute_pricing.config import BillingConfig
from compute_pricing.decide import Context, Decision, decide
from compute_pricing.errors import (
    BillingError,
    ConcurrencyConflictError,
    IdempotencyConflictError,
    JournalKeyExistsError,
    JournalSeqTakenError,
    PlanNotConfiguredError,
    UnknownPlanError,
)
from compute_pricing.events import AccountEvent
from compute_pricing.evolve import fold
from compute_pricing.journal import JournalEntry, Snapshot
from compute_pricing.ports import (
    AccountStore,
    BulkAccountStore,
    Clock,
    EventPublisher,
    PlanCatalog,
)
from compute_pricing.rules.ledger import ledger_line_count
from compute_pricing.state import Account

__all__ = [
    "BACKOFF_BASE_SECONDS",
    "BACKOFF_CAP_SECONDS",
    "SINGLY",
    "AccountService",
    "Committed",
    "SnapshotCache",
    "backoff",
]

log = logging.getLogger(__name__)

#: Smallest first backoff bound after a lost race; the bound starts at the lost attempt's own
#: duration when that is longer (so it scales with the store's round trips) and doubles per
#: attempt, with a uniform draw (full jitter) below it.
BACKOFF_BASE_SECONDS = 0.001
#: Largest backoff bound: no single wait is longer than this.
BACKOFF_CAP_SECONDS = 1.0
_MILLISECOND = timedelta(milliseconds=1)
#: A batched sweep's answer for an org it hands to the single commit loop (see ``Billing``).
SINGLY: Any = object()


def backoff(
    attempt: int,
    *,
    base: float | None = None,
    cap: float | None = None,
    draw: Callable[[float, float], float] = random.uniform,
) -> float:
    """Seconds to wait after losing race number ``attempt`` (0-based): full jitter, bounded.

    A uniform draw in ``[0, min(cap, base * 2**attempt)]`` (defaults: the module constants).
    """
    base = BACKOFF_BASE_SECONDS if base is None else base
    cap = BACKOFF_CAP_SECONDS if cap is None else cap
    return draw(0.0, min(cap, base * 2 ** min(attempt, 30)))


@attrs.frozen
class Committed:
    """What executing a command did: its outcome, whether it was a replay, attempts taken."""

    outcome: Mapping[str, Any]
    replayed: bool
    events: tuple[AccountEvent, ...] = ()
    state: Account | None = None
    attempts: int = 1


@attrs.define
class _Loaded:
    """An account as the loop sees it: state, version, last entry's ``at``, caught up yet."""

    state: Account
    version: int
    at: datetime | None
    caught_up: bool = False
    behind: bool = False
    cached: bool = False


def _entry(
    org: str, command: Command, decision: Decision, *, key: str, seq: int, now: datetime, skew: int
) -> JournalEntry:
    # Positional, in field order (org, seq, key, type, events, outcome, at, ledger, request,
    # clock_skew_ms): once per commit, and a keyword call to a class packs a dict of them.
    return JournalEntry(
        org,
        seq,
        key,
        type(command).__name__,
        decision.events,
        decision.outcome,
        now,
        sum(map(ledger_line_count, decision.events)),
        command.request(),
        skew,
    )


def _first_difference(stored: Mapping[str, Any], asked: Mapping[str, Any]) -> str | None:
    for name in sorted(set(stored) | set(asked)):
        if stored.get(name) != asked.get(name):
            return name
    return None


class SnapshotCache:
    """Process-local LRU of the latest account each org was seen at: ``(state, version, at)``.

    Bounded to ``size`` orgs (0 turns it off); thread-safe; never moves an org backwards.
    ``hits`` counts loads served from it and ``fallbacks`` the commits that found it behind
    the journal (another process committed first) and caught up.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.hits = 0
        self.fallbacks = 0
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[Account, int, datetime | None]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, org: str) -> tuple[Account, int, datetime | None] | None:
        """The cached account of ``org`` (marked most recently used), or ``None``."""
        if not self.size:
            return None
        with self._lock:
            found = self._entries.get(org)
            if found is not None:
                self._entries.move_to_end(org)
                self.hits += 1
            return found

    def put(self, org: str, state: Account, version: int, at: datetime | None) -> None:
        """Remember ``org`` at ``version`` unless a later version is already held."""
        if not self.size:
            return
        with self._lock:
            held = self._entries.get(org)
            if held is not None and held[1] > version:
                return
            self._entries[org] = (state, version, at)
            self._entries.move_to_end(org)
            if len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def count_fallback(self) -> None:
        """Count a commit that found its cached version taken."""
        with self._lock:
            self.fallbacks += 1

    def forget(self, org: str | None = None) -> None:
        """Drop ``org`` (every org when ``None``)."""
        with self._lock:
            if org is None:
                self._entries.clear()
            else:
                self._entries.pop(org, None)


class AccountService:
    """Loads accounts, resolves their plans, and commits decisions atomically."""

    def __init__(
        self,
        store: AccountStore,
        catalog: PlanCatalog,
        config: BillingConfig,
        clock: Clock,
        publisher: EventPublisher,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.cache = SnapshotCache(config.snapshot_cache_size)
        self._store = store
        self.catalog = catalog
        self.config = config
        self.clock = clock
        self.publisher = publisher
        self._sleep = sleep

    @property
    def store(self) -> AccountStore:
        """The account store; setting another one empties the snapshot cache."""
        return self._store

    @store.setter
    def store(self, store: AccountStore) -> None:
        self.cache.forget()
        self._store = store

    def new_account(self, org: str) -> Account:
        """The state of an org that has no journal yet."""
        return Account.new(org, self.config.default_plan)

    def peek(self, org: str, *, keep: bool = False) -> Account:
        """The snapshot's state: one store read, may lag a commit whose refresh was lost.

        ``keep`` also puts it in the snapshot cache, so the next command on ``org`` in this
        process skips its own read (a sweep reads an account once, then writes it).
        """
        snapshot = self.store.read_snapshot(org)
        if snapshot is None:
            return self.new_account(org)
        if keep:
            self.cache.put(org, snapshot.state, snapshot.version, snapshot.at)
        return snapshot.state

    def _read(self, org: str) -> _Loaded:
        cached = self.cache.get(org)
        if cached is not None:
            return _Loaded(*cached, False, False, True)  # caught_up, behind, cached
        return self._read_stored(org)

    def _read_stored(self, org: str) -> _Loaded:
        snapshot = self.store.read_snapshot(org)
        if snapshot is None:
            return _Loaded(self.new_account(org), 0, None)
        return _Loaded(snapshot.state, snapshot.version, snapshot.at)

    def _catch_up(self, org: str, loaded: _Loaded, *, refresh: bool = True) -> bool:
        """Fold the journal past ``loaded``'s version into it; refresh the snapshot if behind.

        Returns whether anything was folded.
        """
        entries = self.store.read_journal(org, after_seq=loaded.version)
        loaded.caught_up = True
        if not entries:
            return False
        for entry in entries:
            loaded.state = fold(loaded.state, entry.events)
            loaded.version = entry.seq
            loaded.at = entry.at
        loaded.behind = True
        if refresh:
            self._heal(org, loaded)
        return True

    def _remember(self, org: str, loaded: _Loaded) -> None:
        """Keep ``loaded`` in the cache once it is caught up (it is the journal's state)."""
        if loaded.caught_up:
            self.cache.put(org, loaded.state, loaded.version, loaded.at)

    def _heal(self, org: str, loaded: _Loaded) -> None:
        """Refresh the stored snapshot to ``loaded`` if it was found behind the journal."""
        self._remember(org, loaded)
        if loaded.behind:
            self._refresh(
                Snapshot(org=org, version=loaded.version, state=loaded.state, at=loaded.at)
            )
            loaded.behind = False

    def _refresh(self, snapshot: Snapshot) -> None:
        """Compare-and-set the snapshot; a failure only leaves the cache behind (logged).

        When the stored snapshot did not become ``snapshot`` (a failure, or a lost
        compare-and-set), the org leaves the process cache too, so its next command reads the
        stored snapshot and heals it as after any lost refresh.
        """
        try:
            saved = self.store.save_snapshot(snapshot)
        except Exception:  # the journal entry is the commit; the snapshot is only a cache
            self.cache.forget(snapshot.org)
            log.exception("snapshot refresh of %s at %d failed", snapshot.org, snapshot.version)
            return
        if not saved:
            self.cache.forget(snapshot.org)

    def load(self, org: str) -> tuple[Account, int]:
        """The current state and version: the snapshot plus any journal entries past it.

        A snapshot found behind is refreshed (compare-and-set).
        """
        loaded = self._read_stored(org)
        self._catch_up(org, loaded)
        self._remember(org, loaded)
        return loaded.state, loaded.version

    def context(self, state: Account, now: datetime) -> Context:
        """Plans and config for deciding on ``state`` at ``now``."""
        sub = state.subscription
        catalog = self.catalog
        config = self.config
        try:
            if sub.plan_version is None:
                plan = catalog.get_active_plan(sub.plan_id, now)
            else:
                plan = catalog.get_plan_by_version(sub.plan_id, sub.plan_version)
            default = catalog.get_active_plan(config.default_plan, now)
        except UnknownPlanError as exc:
            raise PlanNotConfiguredError(exc.plan_id) from exc
        return Context(config, now, plan, default)  # positional: once per decision

    def _now(self, loaded: _Loaded) -> tuple[datetime, int]:
        """The clock's instant, clamped to the last entry's ``at``; and the clamp in ms."""
        now = self.clock.now()
        if loaded.at is not None and now < loaded.at:
            skew = loaded.at - now
            return loaded.at, skew // _MILLISECOND
        return now, 0

    def _replay(
        self, org: str, command: Command, existing: JournalEntry, loaded: _Loaded, attempt: int
    ) -> Committed:
        """The stored outcome if ``command`` asks what ``existing`` did; heals a stale snapshot."""
        if existing.type != type(command).__name__:
            raise IdempotencyConflictError(existing.key, "kind")
        if existing.request is not None:
            differs = _first_difference(existing.request, command.request())
            if differs is not None:
                raise IdempotencyConflictError(existing.key, differs)
        if not loaded.caught_up:
            self._catch_up(org, loaded)
        self._heal(org, loaded)
        return Committed(existing.outcome, replayed=True, attempts=attempt + 1)

    def _decide(
        self, org: str, command: Command, loaded: _Loaded
    ) -> tuple[Decision, datetime, int]:
        """``decide`` (and its instant), on a caught-up state whenever it would not write."""
        while True:
            now, skew_ms = self._now(loaded)
            try:
                decision = decide(loaded.state, command, self.context(loaded.state, now))
            except BillingError:
                if loaded.caught_up or not self._catch_up(org, loaded):
                    raise
                continue
            if decision.write or loaded.caught_up or not self._catch_up(org, loaded):
                return decision, now, skew_ms

    def execute(self, org: str, command: Command) -> Committed:
        """Decide ``command`` on ``org``'s account and commit it once (see module docstring)."""
        loaded = self._read(org)
        attempts = self.config.max_commit_attempts
        for attempt in range(attempts):
            began = time.monotonic()
            try:
                decision, now, skew_ms = self._decide(org, command, loaded)
            except BillingError:
                existing = self.store.find_entry(org, command.key(loaded.state))
                if existing is not None:
                    return self._replay(org, command, existing, loaded, attempt)
                self._heal(org, loaded)
                raise
            key = command.key(loaded.state)
            if not decision.write:
                self._heal(org, loaded)
                return Committed(decision.outcome, replayed=False, state=loaded.state)
            entry = _entry(
                org, command, decision, key=key, seq=loaded.version + 1, now=now, skew=skew_ms
            )
            try:
                self.store.append(entry)
            except JournalKeyExistsError as exc:
                if loaded.cached and not loaded.caught_up:
                    # Decided on the cache, which may be behind: decide again on the journal's
                    # state, where the key (some depend on the state) answers as it would have.
                    self._catch_up(org, loaded)
                    if command.key(loaded.state) != exc.existing.key:
                        continue
                return self._replay(org, command, exc.existing, loaded, attempt)
            except JournalSeqTakenError:
                if loaded.cached:
                    self.cache.count_fallback()
                took = time.monotonic() - began
                self._sleep(backoff(attempt, base=max(BACKOFF_BASE_SECONDS, took)))
                # Only the entries we missed: the winners refresh the snapshot themselves.
                self._catch_up(org, loaded, refresh=False)
                continue
            new_state = fold(loaded.state, decision.events)
            self.cache.put(org, new_state, entry.seq, entry.at)
            self._refresh(Snapshot(org, entry.seq, new_state, entry.at))
            self.publisher.publish(decision.events)
            # outcome, replayed, events, state, attempts (positional: once per commit)
            return Committed(decision.outcome, False, decision.events, new_state, attempt + 1)
        raise ConcurrencyConflictError(org, attempts)

    def execute_batch(
        self, store: BulkAccountStore, items: Sequence[tuple[Snapshot, Command]]
    ) -> list[Committed | None]:
        """Commit one command per org (distinct orgs) with two bulk writes; ``None``: do it singly.

        Each command is decided on its snapshot. Only decisions that write join the batch: a
        refusal or a no-write answer is ``None`` (the caller runs it through :meth:`execute`,
        which catches up first). The entries go in one :meth:`BulkAccountStore.append_many`; an
        org whose entry was refused (its seq or key taken) is ``None`` too and nothing of it
        was written. The committed orgs' snapshots go in one ``save_snapshots`` compare-and-set
        (a failure or a lost one only leaves that snapshot behind, as for a single commit), then
        each org's events are published, once, in batch order.
        """
        results: list[Committed | None] = [None] * len(items)
        pending: list[tuple[int, JournalEntry, Decision, Account]] = []
        for index, (snapshot, command) in enumerate(items):
            loaded = _Loaded(snapshot.state, snapshot.version, snapshot.at)
            now, skew_ms = self._now(loaded)
            try:
                decision = decide(loaded.state, command, self.context(loaded.state, now))
            except BillingError:
                continue
            if decision.write:
                entry = _entry(
                    snapshot.org,
                    command,
                    decision,
                    key=command.key(loaded.state),
                    seq=snapshot.version + 1,
                    now=now,
                    skew=skew_ms,
                )
                pending.append((index, entry, decision, loaded.state))
        if not pending:
            return results
        refused = store.append_many([entry for _, entry, _, _ in pending])
        committed = [
            (index, entry, decision, fold(state, decision.events))
            for index, entry, decision, state in pending
            if entry.org not in refused
        ]
        snapshots = [Snapshot(e.org, e.seq, state, e.at) for _, e, _, state in committed]
        try:
            lost = store.save_snapshots(snapshots)
        except Exception:  # the journal entries are the commits; the snapshots only a cache
            log.exception("bulk snapshot refresh of %d accounts failed", len(snapshots))
            lost = {snapshot.org for snapshot in snapshots}
        for index, entry, decision, state in committed:
            if entry.org in lost:
                self.cache.forget(entry.org)
            else:
                self.cache.put(entry.org, state, entry.seq, entry.at)
            self.publisher.publish(decision.events)
            results[index] = Committed(
                decision.outcome, replayed=False, events=decision.events, state=state
            )
        return results
