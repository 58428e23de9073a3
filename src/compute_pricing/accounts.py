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

The fast path costs three store calls: read the snapshot, append, save the snapshot.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
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
from compute_pricing.ports import AccountStore, Clock, EventPublisher, PlanCatalog
from compute_pricing.rules.ledger import ledger_line_count
from compute_pricing.state import Account

__all__ = ["BACKOFF_BASE_SECONDS", "BACKOFF_CAP_SECONDS", "AccountService", "Committed", "backoff"]

log = logging.getLogger(__name__)

#: Smallest first backoff bound after a lost race; the bound starts at the lost attempt's own
#: duration when that is longer (so it scales with the store's round trips) and doubles per
#: attempt, with a uniform draw (full jitter) below it.
BACKOFF_BASE_SECONDS = 0.001
#: Largest backoff bound: no single wait is longer than this.
BACKOFF_CAP_SECONDS = 1.0
_MILLISECOND = timedelta(milliseconds=1)


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


def _first_difference(stored: Mapping[str, Any], asked: Mapping[str, Any]) -> str | None:
    for name in sorted(set(stored) | set(asked)):
        if stored.get(name) != asked.get(name):
            return name
    return None


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
        self.store = store
        self.catalog = catalog
        self.config = config
        self.clock = clock
        self.publisher = publisher
        self._sleep = sleep

    def new_account(self, org: str) -> Account:
        """The state of an org that has no journal yet."""
        return Account.new(org, self.config.default_plan)

    def peek(self, org: str) -> Account:
        """The snapshot's state: one store read, may lag a commit whose refresh was lost."""
        snapshot = self.store.read_snapshot(org)
        return snapshot.state if snapshot is not None else self.new_account(org)

    def _read(self, org: str) -> _Loaded:
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

    def _heal(self, org: str, loaded: _Loaded) -> None:
        """Refresh the stored snapshot to ``loaded`` if it was found behind the journal."""
        if loaded.behind:
            self._refresh(
                Snapshot(org=org, version=loaded.version, state=loaded.state, at=loaded.at)
            )
            loaded.behind = False

    def _refresh(self, snapshot: Snapshot) -> None:
        """Compare-and-set the snapshot; a failure only leaves the cache behind (logged)."""
        try:
            self.store.save_snapshot(snapshot)
        except Exception:  # the journal entry is the commit; the snapshot is only a cache
            log.exception("snapshot refresh of %s at %d failed", snapshot.org, snapshot.version)

    def load(self, org: str) -> tuple[Account, int]:
        """The current state and version: the snapshot plus any journal entries past it.

        A snapshot found behind is refreshed (compare-and-set).
        """
        loaded = self._read(org)
        self._catch_up(org, loaded)
        return loaded.state, loaded.version

    def context(self, state: Account, now: datetime) -> Context:
        """Plans and config for deciding on ``state`` at ``now``."""
        sub = state.subscription
        try:
            if sub.plan_version is None:
                plan = self.catalog.get_active_plan(sub.plan_id, now)
            else:
                plan = self.catalog.get_plan_by_version(sub.plan_id, sub.plan_version)
            default = self.catalog.get_active_plan(self.config.default_plan, now)
        except UnknownPlanError as exc:
            raise PlanNotConfiguredError(exc.plan_id) from exc
        return Context(config=self.config, now=now, plan=plan, default_plan=default)

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
            entry = JournalEntry(
                org=org,
                seq=loaded.version + 1,
                key=key,
                type=type(command).__name__,
                events=decision.events,
                outcome=decision.outcome,
                at=now,
                ledger=sum(map(ledger_line_count, decision.events)),
                request=command.request(),
                clock_skew_ms=skew_ms,
            )
            try:
                self.store.append(entry)
            except JournalKeyExistsError as exc:
                return self._replay(org, command, exc.existing, loaded, attempt)
            except JournalSeqTakenError:
                took = time.monotonic() - began
                self._sleep(backoff(attempt, base=max(BACKOFF_BASE_SECONDS, took)))
                # Only the entries we missed: the winners refresh the snapshot themselves.
                self._catch_up(org, loaded, refresh=False)
                continue
            new_state = fold(loaded.state, decision.events)
            self._refresh(Snapshot(org=org, version=entry.seq, state=new_state, at=entry.at))
            self.publisher.publish(decision.events)
            return Committed(
                decision.outcome,
                replayed=False,
                events=decision.events,
                state=new_state,
                attempts=attempt + 1,
            )
        raise ConcurrencyConflictError(org, attempts)
