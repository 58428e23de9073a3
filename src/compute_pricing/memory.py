"""In-memory adapters: the embedded default, real implementations of every port.

Each keeps exactly the semantics its port documents (and passes the contract suites in
:mod:`compute_pricing.testing`), is thread-safe, and lives only as long as the process.
"""

from __future__ import annotations

import bisect
import itertools
import logging
import threading
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta

import attrs

from compute_pricing.codec import require_contiguous
from compute_pricing.errors import (
    JournalKeyExistsError,
    JournalSeqTakenError,
    PlanVersionExistsError,
    UnknownPlanError,
)
from compute_pricing.events import Event, ExtrasCredited
from compute_pricing.journal import JournalEntry, Snapshot
from compute_pricing.plans import Plan
from compute_pricing.ports import Clock, JobCursor, Lease
from compute_pricing.state import Account, Lot
from compute_pricing.stripe.records import MAX_ERROR_LENGTH, ProcessedEvent
from compute_pricing.sweep_index import DueIndex

__all__ = [
    "EventRecorder",
    "InMemoryAccountStore",
    "InMemoryJobCursorStore",
    "InMemoryLock",
    "InMemoryOrgDirectory",
    "InMemoryPlanRepository",
    "InMemoryProcessedEventStore",
    "SequentialIds",
    "UuidIds",
]

log = logging.getLogger(__name__)


def _past_due_since(state: Account) -> datetime | None:
    """The instant the dunning sweep looks at: ``past_due_since`` while past due."""
    subscription = state.subscription
    return subscription.past_due_since if subscription.status == "past_due" else None


def _same_expiries(old: tuple[Lot, ...], new: tuple[Lot, ...]) -> bool:
    """Whether ``new`` holds lots with the very expiry objects of ``old``, in order (a debit)."""
    if len(old) != len(new):
        return False
    for before, after in zip(old, new, strict=True):
        if before.expires_at is not after.expires_at:
            return False
    return True


class InMemoryAccountStore:
    """Journal + snapshot in dicts; one lock makes commits atomic. Implements ``AccountStore``.

    By default every entry is kept for the life of the process. ``retain_keys=N`` bounds a
    long-running embedded process instead: an org keeps only the entries past its snapshot and
    the idempotency keys of its last ``N`` entries. What that gives up is the full ledger
    history: ``read_journal`` from before the snapshot, the ledger view, a reconcile fold of the
    whole journal and the payment-intent lookup see only what is kept, and a replay of a key
    older than the window is no longer recognised (it would be decided again).
    """

    def __init__(self, *, retain_keys: int | None = None) -> None:
        if retain_keys is not None and retain_keys < 1:
            raise ValueError(f"retain_keys must be at least 1, got {retain_keys}")
        self._lock = threading.Lock()
        self._journal: dict[str, list[JournalEntry]] = defaultdict(list)
        self._keys: dict[tuple[str, str], JournalEntry] = {}
        self._snapshots: dict[str, Snapshot] = {}
        self._sorted: list[str] = []  # every org with a snapshot, sorted
        # The sweeps' indexes, kept on each stored snapshot's instants (see ``_reindex``).
        self._resets, self._expiries, self._dunning = DueIndex(), DueIndex(), DueIndex()
        self._retain = retain_keys
        self._dropped: dict[str, int] = defaultdict(int)  # entries dropped before the kept ones
        self._windows: dict[str, deque[str]] = defaultdict(deque)  # kept keys, oldest first

    def read_snapshot(self, org: str) -> Snapshot | None:
        """The stored snapshot, or ``None``."""
        return self._snapshots.get(org)

    def read_journal(self, org: str, *, after_seq: int = 0) -> Sequence[JournalEntry]:
        """Entries with ``seq > after_seq``, oldest first."""
        with self._lock:
            entries = self._journal.get(org, [])
            dropped = self._dropped.get(org, 0)
            if after_seq < dropped:  # only with retain_keys: history before it is gone
                return list(entries)
            return require_contiguous(org, after_seq, entries[max(after_seq - dropped, 0) :])

    def find_entry(self, org: str, key: str) -> JournalEntry | None:
        """The entry committed under ``key``."""
        return self._keys.get((org, key))

    def append(self, entry: JournalEntry) -> None:
        """Commit ``entry`` atomically (key checked before seq)."""
        with self._lock:
            existing = self._keys.get((entry.org, entry.key))
            if existing is not None:
                raise JournalKeyExistsError(existing)
            entries = self._journal[entry.org]
            if entry.seq != self._dropped.get(entry.org, 0) + len(entries) + 1:
                raise JournalSeqTakenError(entry.org, entry.seq)
            entries.append(entry)
            self._keys[(entry.org, entry.key)] = entry
            if self._retain is not None:
                window = self._windows[entry.org]
                window.append(entry.key)
                if len(window) > self._retain:
                    del self._keys[(entry.org, window.popleft())]

    def save_snapshot(self, snapshot: Snapshot) -> bool:
        """Compare-and-set on the version."""
        with self._lock:
            current = self._snapshots.get(snapshot.org)
            if current is not None and current.version >= snapshot.version:
                return False
            if current is None:
                bisect.insort(self._sorted, snapshot.org)
            self._snapshots[snapshot.org] = snapshot
            self._reindex(current, snapshot)
            if self._retain is not None:  # the entries the snapshot holds leave the journal
                drop = snapshot.version - self._dropped[snapshot.org]
                if drop > 0:
                    del self._journal[snapshot.org][:drop]
                    self._dropped[snapshot.org] = snapshot.version
            return True

    def append_many(self, entries: Sequence[JournalEntry]) -> set[str]:
        """Append each entry; the orgs whose entry was refused."""
        refused = set()
        for entry in entries:
            try:
                self.append(entry)
            except (JournalKeyExistsError, JournalSeqTakenError):
                refused.add(entry.org)
        return refused

    def save_snapshots(self, snapshots: Sequence[Snapshot]) -> set[str]:
        """Compare-and-set each snapshot; the orgs not stored."""
        return {snapshot.org for snapshot in snapshots if not self.save_snapshot(snapshot)}

    def iter_ledger(self, org: str) -> Iterator[JournalEntry]:
        """Entries with ledger lines, newest first."""
        with self._lock:
            entries = list(self._journal.get(org, []))
        return (entry for entry in reversed(entries) if entry.ledger > 0)

    def _reindex(self, current: Snapshot | None, snapshot: Snapshot) -> None:
        """Move ``snapshot``'s org in the sweep indexes (under the lock, after the store).

        A part of the state that is the very object the stored snapshot held cannot have moved
        its instant, so an attribution (a new week with the same ``reset_at``, the same lots
        and subscription on the quota path) costs a few identity checks.
        """
        org, state = snapshot.org, snapshot.state
        old = None if current is None else current.state
        week, old_week = state.week, None if old is None else old.week
        if old is None or (
            week is not old_week
            and (week is None or old_week is None or week.reset_at != old_week.reset_at)
        ):
            self._resets.set(org, None if week is None else week.reset_at)
        if old is None or (state.lots is not old.lots and not _same_expiries(old.lots, state.lots)):
            self._expiries.set(org, state.next_expiry)
        if old is None or state.subscription is not old.subscription:
            self._dunning.set(org, _past_due_since(state))

    def _due(
        self, index: DueIndex, at: datetime, after: str | None, limit: int
    ) -> list[tuple[str, Snapshot | None]]:
        """The orgs ``index`` holds due at ``at`` past ``after``, with their snapshots."""
        with self._lock:
            snapshots = self._snapshots
            return [(org, snapshots[org]) for org in index.due(at, after=after, limit=limit)]

    def _due_orgs(self, index: DueIndex, at: datetime, after: str | None, limit: int) -> list[str]:
        """The orgs ``index`` holds due at ``at`` past ``after``."""
        with self._lock:
            return index.due(at, after=after, limit=limit)

    def _orgs(
        self, predicate: Callable[[Snapshot], bool], after: str | None, limit: int
    ) -> list[str]:
        """Orgs past ``after`` in org order whose snapshot matches, at most ``limit``."""
        found: list[str] = []
        with self._lock:
            start = 0 if after is None else bisect.bisect_right(self._sorted, after)
            for org in itertools.islice(self._sorted, start, None):
                if len(found) >= limit:
                    break
                if predicate(self._snapshots[org]):
                    found.append(org)
        return found

    def snapshots_due_for_reset(
        self, now: datetime, *, after: str | None, limit: int
    ) -> list[tuple[str, Snapshot | None]]:
        """Orgs whose week ``reset_at <= now``, with their snapshots (from the due index)."""
        return self._due(self._resets, now, after, limit)

    def snapshots_with_expiring_lots(
        self, now: datetime, *, after: str | None, limit: int
    ) -> list[tuple[str, Snapshot | None]]:
        """Orgs with a lot expiring at or before ``now``, with their snapshots."""
        return self._due(self._expiries, now, after, limit)

    def snapshots_past_due_before(
        self, cutoff: datetime, *, after: str | None, limit: int
    ) -> list[tuple[str, Snapshot | None]]:
        """Orgs past due since at or before ``cutoff``, with their snapshots."""
        return self._due(self._dunning, cutoff, after, limit)

    def orgs_due_for_reset(self, now: datetime, *, after: str | None, limit: int) -> list[str]:
        """Orgs whose week ``reset_at <= now``."""
        return self._due_orgs(self._resets, now, after, limit)

    def orgs_with_expiring_lots(self, now: datetime, *, after: str | None, limit: int) -> list[str]:
        """Orgs with a lot expiring at or before ``now``."""
        return self._due_orgs(self._expiries, now, after, limit)

    def orgs_past_due_before(self, cutoff: datetime, *, after: str | None, limit: int) -> list[str]:
        """Orgs past due since at or before ``cutoff``."""
        return self._due_orgs(self._dunning, cutoff, after, limit)

    def org_for_customer(self, customer_id: str) -> str | None:
        """The least org whose snapshot links ``customer_id``."""
        found = self._orgs(lambda s: s.state.subscription.customer_id == customer_id, None, limit=1)
        return found[0] if found else None

    def purchase_for_payment_intent(self, payment_intent: str) -> JournalEntry | None:
        """The entry whose pack credit records ``payment_intent``."""
        with self._lock:
            entries = [entry for journal in self._journal.values() for entry in journal]
        return next(
            (
                entry
                for entry in entries
                if any(
                    isinstance(e, ExtrasCredited) and e.payment_intent == payment_intent
                    for e in entry.events
                )
            ),
            None,
        )


class InMemoryPlanRepository:
    """Plan versions in a dict. Implements ``PlanRepository``."""

    def __init__(self, plans: Sequence[Plan] = ()) -> None:
        self._lock = threading.Lock()
        self._plans: dict[tuple[str, int], Plan] = {}
        for plan in plans:
            self.add(plan)

    def get(self, plan_id: str, version: int) -> Plan | None:
        """The exact version."""
        return self._plans.get((plan_id, version))

    def versions(self, plan_id: str) -> list[Plan]:
        """Every version, oldest first."""
        with self._lock:
            found = [p for (pid, _), p in self._plans.items() if pid == plan_id]
        return sorted(found, key=lambda p: p.version)

    def add(self, plan: Plan) -> None:
        """Publish a version once."""
        with self._lock:
            if (plan.plan_id, plan.version) in self._plans:
                raise PlanVersionExistsError(plan.plan_id, plan.version)
            self._plans[(plan.plan_id, plan.version)] = plan

    def close(self, plan_id: str, version: int, until: datetime) -> None:
        """End a version's window."""
        with self._lock:
            plan = self._plans.get((plan_id, version))
            if plan is None:
                raise UnknownPlanError(plan_id, version)
            self._plans[(plan_id, version)] = attrs.evolve(
                plan, effective_until=until, active=False
            )


@attrs.define
class _Claim:
    event_type: str
    processed_at: datetime
    attempts: int = 0
    last_error: str = ""
    done: bool = False
    dead_letter: bool = False

    def record(self, event_id: str) -> ProcessedEvent:
        return ProcessedEvent(
            event_id=event_id,
            type=self.event_type,
            processed_at=self.processed_at,
            attempts=self.attempts,
            last_error=self.last_error,
            dead_letter=self.dead_letter,
            done=self.done,
        )


class InMemoryProcessedEventStore:
    """Webhook claims; the TTL never removes dead letters. Implements ``ProcessedEventStore``."""

    def __init__(self, ttl_days: int = 30) -> None:
        self._lock = threading.Lock()
        self._claims: dict[str, _Claim] = {}
        self._ttl = timedelta(days=ttl_days)

    def claim(self, event_id: str, event_type: str, now: datetime) -> str:
        """``claimed``, ``done`` or ``dead``."""
        with self._lock:
            claim = self._claims.get(event_id)
            expired = claim is not None and now - claim.processed_at >= self._ttl
            if claim is not None and expired and not claim.dead_letter:
                claim = None  # the TTL index would have removed it
            if claim is None:
                self._claims[event_id] = _Claim(event_type=event_type, processed_at=now)
                return "claimed"
            if claim.dead_letter:
                return "dead"
            return "done" if claim.done else "claimed"

    def mark_done(self, event_id: str, now: datetime) -> None:
        """Record success."""
        with self._lock:
            claim = self._claims.setdefault(event_id, _Claim(event_type="", processed_at=now))
            claim.done = True
            claim.processed_at = now

    def mark_failed(
        self, event_id: str, now: datetime, max_attempts: int, *, error: str = ""
    ) -> bool:
        """Count a failure and keep its message; dead letter at ``max_attempts``."""
        with self._lock:
            claim = self._claims.setdefault(event_id, _Claim(event_type="", processed_at=now))
            claim.attempts += 1
            claim.processed_at = now
            claim.last_error = error[:MAX_ERROR_LENGTH]
            claim.dead_letter = claim.attempts >= max_attempts
            return claim.dead_letter

    def get(self, event_id: str) -> ProcessedEvent | None:
        """The record of ``event_id``, if stored."""
        with self._lock:
            claim = self._claims.get(event_id)
            return None if claim is None else claim.record(event_id)

    def dead_letters(self, *, limit: int = 100) -> list[ProcessedEvent]:
        """Dead letters, oldest first."""
        with self._lock:
            dead = [claim.record(key) for key, claim in self._claims.items() if claim.dead_letter]
        dead.sort(key=lambda record: (record.processed_at, record.event_id))
        return dead[: max(limit, 0)]

    def release_for_replay(self, event_id: str, now: datetime) -> bool:
        """Make a dead letter claimable again, keeping its attempts."""
        with self._lock:
            claim = self._claims.get(event_id)
            if claim is None or not claim.dead_letter:
                return False
            claim.dead_letter = False
            claim.processed_at = now
            return True

    def purge(self, event_id: str) -> bool:
        """Forget ``event_id``."""
        with self._lock:
            return self._claims.pop(event_id, None) is not None


class InMemoryLock:
    """Named leases in one process, expiring after their TTL. Implements ``Lock``."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._mutex = threading.Lock()
        self._leases: dict[str, tuple[str, datetime]] = {}

    @contextmanager
    def hold(self, name: str, ttl_seconds: int) -> Iterator[Lease]:
        """Yield the lease (truthy if this caller took it); release it on exit."""
        token = uuid.uuid4().hex
        now = self._clock.now()
        with self._mutex:
            current = self._leases.get(name)
            taken = current is None or current[1] <= now
            if taken:
                self._leases[name] = (token, now + timedelta(seconds=ttl_seconds))

        def renew() -> bool:
            with self._mutex:
                if self._leases.get(name, ("", now))[0] != token:
                    return False
                self._leases[name] = (token, self._clock.now() + timedelta(seconds=ttl_seconds))
                return True

        try:
            yield Lease(taken, renew)
        finally:
            if taken:
                with self._mutex:
                    if self._leases.get(name, ("", now))[0] == token:
                        del self._leases[name]


class InMemoryJobCursorStore:
    """Cron cursors in a dict. Implements ``JobCursorStore``."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._cursors: dict[str, JobCursor] = {}

    def load(self, job: str) -> JobCursor | None:
        """The saved cursor of ``job``."""
        with self._mutex:
            return self._cursors.get(job)

    def save(self, cursor: JobCursor) -> None:
        """Replace the job's cursor."""
        with self._mutex:
            self._cursors[cursor.job] = cursor

    def clear(self, job: str) -> None:
        """Forget the job's cursor."""
        with self._mutex:
            self._cursors.pop(job, None)


class InMemoryOrgDirectory:
    """The orgs of an :class:`InMemoryAccountStore`. Implements ``OrgDirectory``."""

    def __init__(self, store: InMemoryAccountStore) -> None:
        self._store = store

    def list_orgs(self, *, after: str | None, limit: int) -> list[str]:
        """Orgs with a snapshot, sorted, after ``after``."""
        return self._store._orgs(lambda _: True, after, limit)  # same module: shared internals


class EventRecorder:
    """An in-process event bus that also records what it published. Implements ``EventPublisher``.

    Listeners run synchronously after the commit; one that raises is logged and skipped, so it
    never breaks the operation that emitted the event. ``published`` holds at least the last
    ``keep`` events (all when ``keep`` is ``None``, none when 0).
    """

    def __init__(self, *, keep: int | None = 10_000) -> None:
        self._listeners: list[tuple[type[Event], Callable[[Event], None]]] = []
        self._keep = keep
        self.published: list[Event] = []

    def subscribe(self, listener: Callable[[Event], None], event_type: type[Event] = Event) -> None:
        """Call ``listener`` for every published event of ``event_type`` (or a subclass)."""
        self._listeners.append((event_type, listener))

    def publish(self, events: Sequence[Event]) -> None:
        """Record and deliver ``events``; listener failures are isolated."""
        if self._keep != 0:
            self.published.extend(events)
            # Trim in batches (down to ``keep`` once twice that is held): amortised O(1).
            if self._keep is not None and len(self.published) > 2 * self._keep:
                del self.published[: len(self.published) - self._keep]
        for event in events:
            for event_type, listener in self._listeners:
                if isinstance(event, event_type):
                    try:
                        listener(event)
                    except Exception:
                        log.exception("listener %r failed on %s", listener, event.name)

    def of_type(self, event_type: type[Event]) -> list[Event]:
        """Recorded events of ``event_type``."""
        return [e for e in self.published if isinstance(e, event_type)]


class SequentialIds:
    """``prefix_1``, ``prefix_2``, ...: deterministic ids for tests. Implements ``IdGenerator``."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def new_id(self, prefix: str) -> str:
        """The next id."""
        return f"{prefix}_{next(self._counter)}"


class UuidIds:
    """Random UUID-based ids for production. Implements ``IdGenerator``."""

    def new_id(self, prefix: str) -> str:
        """A new unique id."""
        return f"{prefix}_{uuid.uuid4().hex}"
