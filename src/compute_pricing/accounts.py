"""The commit loop: load one account, decide, append one journal entry, refresh the snapshot.

This is the only place that writes accounts, so it is where "nothing lost, nothing charged
twice" is kept:

- the journal insert at ``seq = version + 1`` is the commit; a taken ``seq`` means another
  writer won, so the loop reloads (with catch-up from the journal) and decides again, up to
  ``max_commit_attempts`` times, then raises ``ConcurrencyConflictError``;
- a taken ``key`` is a replay: the stored outcome is returned and nothing changes;
- a refused decision writes nothing (but a key already used replays rather than raising);
- the snapshot is refreshed with a compare-and-set after the commit; if that is lost (crash,
  race) the next writer's insert at the stale ``seq`` fails and it catches up.

The fast path costs three store calls: read the snapshot, append, save the snapshot.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from compute_pricing.commands import Command
from compute_pricing.config import BillingConfig
from compute_pricing.decide import Context, decide
from compute_pricing.errors import (
    BillingError,
    ConcurrencyConflictError,
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

__all__ = ["AccountService", "Committed"]


@attrs.frozen
class Committed:
    """What executing a command did: its outcome, and whether it was a replay."""

    outcome: Mapping[str, Any]
    replayed: bool
    events: tuple[AccountEvent, ...] = ()
    state: Account | None = None


class AccountService:
    """Loads accounts, resolves their plans, and commits decisions atomically."""

    def __init__(
        self,
        store: AccountStore,
        catalog: PlanCatalog,
        config: BillingConfig,
        clock: Clock,
        publisher: EventPublisher,
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.config = config
        self.clock = clock
        self.publisher = publisher

    def new_account(self, org: str) -> Account:
        """The state of an org that has no journal yet."""
        return Account.new(org, self.config.default_plan)

    def peek(self, org: str) -> Account:
        """The snapshot's state: one store read, may lag a commit whose refresh was lost."""
        snapshot = self.store.read_snapshot(org)
        return snapshot.state if snapshot is not None else self.new_account(org)

    def load(self, org: str) -> tuple[Account, int]:
        """The current state and version: the snapshot plus any journal entries past it."""
        snapshot = self.store.read_snapshot(org)
        state = snapshot.state if snapshot is not None else self.new_account(org)
        version = snapshot.version if snapshot is not None else 0
        for entry in self.store.read_journal(org, after_seq=version):
            state = fold(state, entry.events)
            version = entry.seq
        return state, version

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

    def execute(self, org: str, command: Command) -> Committed:
        """Decide ``command`` on ``org``'s account and commit it once (see module docstring)."""
        snapshot = self.store.read_snapshot(org)
        state = snapshot.state if snapshot is not None else self.new_account(org)
        version = snapshot.version if snapshot is not None else 0
        attempts = self.config.max_commit_attempts
        for attempt in range(attempts):
            now = self.clock.now()
            key = command.key(state)
            try:
                decision = decide(state, command, self.context(state, now))
            except BillingError:
                existing = self.store.find_entry(org, key)
                if existing is not None:
                    return Committed(existing.outcome, replayed=True)
                raise
            if not decision.write:
                return Committed(decision.outcome, replayed=False, state=state)
            entry = JournalEntry(
                org=org,
                seq=version + 1,
                key=key,
                type=type(command).__name__,
                events=decision.events,
                outcome=decision.outcome,
                at=now,
                ledger=sum(map(ledger_line_count, decision.events)),
            )
            try:
                self.store.append(entry)
            except JournalKeyExistsError as exc:
                return Committed(exc.existing.outcome, replayed=True)
            except JournalSeqTakenError:
                if attempt:
                    time.sleep(random.uniform(0, 0.001 * min(attempt, 10)))  # noqa: S311 - jitter
                state, version = self.load(org)
                continue
            new_state = fold(state, decision.events)
            self.store.save_snapshot(Snapshot(org=org, version=entry.seq, state=new_state))
            self.publisher.publish(decision.events)
            return Committed(
                decision.outcome, replayed=False, events=decision.events, state=new_state
            )
        raise ConcurrencyConflictError(org, attempts)
