"""Ports: the roles the core needs from the outside world, as ``typing.Protocol`` classes.

Adapters are named ``<Tech><Port>`` (``InMemoryAccountStore``, ``MongoAccountStore``), take a
ready client, keep all document mapping to themselves, and pass the contract suites shipped in
:mod:`compute_pricing.testing`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import attrs

from compute_pricing.events import Event
from compute_pricing.journal import JournalEntry, Snapshot
from compute_pricing.payments import CheckoutRequest, CheckoutSession, RefundInfo, SubscriptionInfo
from compute_pricing.plans import Plan
from compute_pricing.stripe.records import ProcessedEvent

__all__ = [
    "AccountStore",
    "BulkAccountStore",
    "Clock",
    "EventPublisher",
    "IdGenerator",
    "JobCursor",
    "JobCursorStore",
    "Lease",
    "Lock",
    "OrgDirectory",
    "PaymentGateway",
    "PlanCatalog",
    "PlanRepository",
    "ProcessedEventStore",
]


@runtime_checkable
class Clock(Protocol):
    """The only reader of time: aware UTC instants at millisecond precision."""

    def now(self) -> datetime:
        """The current instant."""
        ...


class IdGenerator(Protocol):
    """Unique ids for things that have no domain identity (reservations, manual usage)."""

    def new_id(self, prefix: str) -> str:
        """A new id starting with ``prefix``; never returned twice."""
        ...


class EventPublisher(Protocol):
    """Delivers events after their commit. Must not raise: a failing listener is isolated."""

    def publish(self, events: Sequence[Event]) -> None:
        """Deliver ``events`` in order."""
        ...


class AccountStore(Protocol):
    """Journal + snapshot storage of account aggregates (docs/rules.md "Accounts").

    Guarantees:
    - :meth:`append` is atomic and is the commit point. It raises
      :class:`~compute_pricing.errors.JournalKeyExistsError` (carrying the stored entry) when
      ``(org, key)`` exists, else :class:`~compute_pricing.errors.JournalSeqTakenError` when
      ``(org, seq)`` exists. Either way nothing is written.
    - :meth:`save_snapshot` is a compare-and-set: it stores the snapshot only if the stored one
      is older, and says whether it did. It never raises on a lost race.
    - :meth:`read_journal` returns entries with ``seq > after_seq`` in ascending order.
    - Callers always append at the stored version + 1, so the journal has no gaps; an adapter
      may refuse a gap (the in-memory one does) but need not check for one.
    - Every query is by ``org`` first, so the store can shard by org, except the two Stripe
      lookups (:meth:`org_for_customer`, :meth:`purchase_for_payment_intent`): a webhook names
      a customer or a payment intent, not an org, so those must find the org first.
    """

    def read_snapshot(self, org: str) -> Snapshot | None:
        """The stored snapshot (possibly behind the journal), or ``None``."""
        ...

    def read_journal(self, org: str, *, after_seq: int = 0) -> Sequence[JournalEntry]:
        """Entries of ``org`` with ``seq > after_seq``, oldest first."""
        ...

    def find_entry(self, org: str, key: str) -> JournalEntry | None:
        """The entry committed under ``key``, if any."""
        ...

    def append(self, entry: JournalEntry) -> None:
        """Commit ``entry``; see the class docstring for the two conflict errors."""
        ...

    def save_snapshot(self, snapshot: Snapshot) -> bool:
        """Store ``snapshot`` unless a snapshot at the same or a later version exists."""
        ...

    def iter_ledger(self, org: str) -> Iterator[JournalEntry]:
        """Entries of ``org`` with ``ledger > 0``, newest first, lazily."""
        ...

    def orgs_due_for_reset(self, now: datetime, *, after: str | None, limit: int) -> list[str]:
        """Orgs (sorted, after ``after``) whose snapshot's week ``reset_at <= now``."""
        ...

    def orgs_with_expiring_lots(self, now: datetime, *, after: str | None, limit: int) -> list[str]:
        """Orgs (sorted, after ``after``) with a lot whose ``expires_at <= now``."""
        ...

    def orgs_past_due_before(self, cutoff: datetime, *, after: str | None, limit: int) -> list[str]:
        """Orgs (sorted, after ``after``) past due since at or before ``cutoff``."""
        ...

    def org_for_customer(self, customer_id: str) -> str | None:
        """The org whose snapshot links Stripe customer ``customer_id`` (the least, if several)."""
        ...

    def purchase_for_payment_intent(self, payment_intent: str) -> JournalEntry | None:
        """The journal entry that credited a pack paid by ``payment_intent``, if any."""
        ...


@runtime_checkable
class BulkAccountStore(AccountStore, Protocol):
    """An :class:`AccountStore` that also reads and writes batches, for the sweeps.

    Each batch keeps per-org isolation: a refused entry or a lost compare-and-set affects only
    its org, which the caller then handles singly through the commit loop.
    """

    def snapshots_due_for_reset(
        self, now: datetime, *, after: str | None, limit: int
    ) -> list[tuple[str, Snapshot | None]]:
        """As :meth:`AccountStore.orgs_due_for_reset`, with each org's snapshot in the same
        read (``None`` when it cannot be decoded: the caller handles that org singly)."""
        ...

    def snapshots_with_expiring_lots(
        self, now: datetime, *, after: str | None, limit: int
    ) -> list[tuple[str, Snapshot | None]]:
        """As :meth:`AccountStore.orgs_with_expiring_lots`, with each org's snapshot."""
        ...

    def snapshots_past_due_before(
        self, cutoff: datetime, *, after: str | None, limit: int
    ) -> list[tuple[str, Snapshot | None]]:
        """As :meth:`AccountStore.orgs_past_due_before`, with each org's snapshot."""
        ...

    def append_many(self, entries: Sequence[JournalEntry]) -> set[str]:
        """Commit each entry (one per org) as :meth:`AccountStore.append` would; return the
        orgs whose entry was refused (seq or key taken: nothing of theirs was written)."""
        ...

    def save_snapshots(self, snapshots: Sequence[Snapshot]) -> set[str]:
        """Compare-and-set each snapshot (one per org); return the orgs not stored."""
        ...


class PlanRepository(Protocol):
    """Published plan versions; ``(plan_id, version)`` unique and immutable once added."""

    def get(self, plan_id: str, version: int) -> Plan | None:
        """The exact version, or ``None``."""
        ...

    def versions(self, plan_id: str) -> list[Plan]:
        """Every version of ``plan_id``, oldest first."""
        ...

    def add(self, plan: Plan) -> None:
        """Publish ``plan``; :class:`~compute_pricing.errors.PlanVersionExistsError` if taken."""
        ...

    def close(self, plan_id: str, version: int, until: datetime) -> None:
        """End a version's window (``effective_until = until``, inactive); terms never change."""
        ...


class PlanCatalog(Protocol):
    """Plan lookups for the use cases (docs/rules.md "Plans")."""

    def get_active_plan(self, plan_id: str, at: datetime | None = None) -> Plan:
        """The version in force at ``at`` (now by default); ``UnknownPlanError`` if none."""
        ...

    def get_plan_by_version(self, plan_id: str, version: int) -> Plan:
        """Exactly that version; ``UnknownPlanError`` if missing (never falls back)."""
        ...

    def bump_version(self, plan_id: str, changes: Mapping[str, Any]) -> Plan:
        """Close the active version and publish the next one with ``changes``."""
        ...

    def invalidate_cache(self, plan_id: str | None = None) -> None:
        """Drop cached lookups of ``plan_id`` (all plans when ``None``)."""
        ...


class ProcessedEventStore(Protocol):
    """Claims on Stripe event ids so each webhook is handled once (docs/rules.md "Stripe").

    One record per ``event_id`` (see :class:`~compute_pricing.stripe.records.ProcessedEvent`).
    A record untouched for the TTL (30 days by default) is forgotten, so an event claimed that
    long ago is claimable again; a dead letter is never forgotten until :meth:`purge`.
    """

    def claim(self, event_id: str, event_type: str, now: datetime) -> str:
        """Claim ``event_id``: ``"claimed"``, ``"done"`` (processed before) or ``"dead"``."""
        ...

    def mark_done(self, event_id: str, now: datetime) -> None:
        """Record success; a later claim answers ``"done"``."""
        ...

    def mark_failed(
        self, event_id: str, now: datetime, max_attempts: int, *, error: str = ""
    ) -> bool:
        """Count a failure and keep ``error``; return ``True`` when it became a dead letter."""
        ...

    def get(self, event_id: str) -> ProcessedEvent | None:
        """The record of ``event_id``, if one is stored."""
        ...

    def dead_letters(self, *, limit: int = 100) -> list[ProcessedEvent]:
        """Up to ``limit`` dead letters, oldest ``processed_at`` first (ties by event id)."""
        ...

    def release_for_replay(self, event_id: str, now: datetime) -> bool:
        """Turn a dead letter back into a claimable event (its attempts kept); ``False`` if
        ``event_id`` was not a dead letter."""
        ...

    def purge(self, event_id: str) -> bool:
        """Delete the record of ``event_id`` (dead or not); ``False`` if there was none."""
        ...


class Lease:
    """What :meth:`Lock.hold` yields: truthy iff this caller took the lease on the name.

    :meth:`renew` extends a taken lease to its TTL from now and says whether this caller still
    held it: ``False`` once it expired and another caller took it over, after it was released,
    or for a lease never taken. A lock implementation passes its own renewal function.
    """

    __slots__ = ("_renew", "taken")

    def __init__(self, taken: bool, renew: Callable[[], bool] | None = None) -> None:
        self.taken = taken
        self._renew = renew

    def __bool__(self) -> bool:
        return self.taken

    def __repr__(self) -> str:
        return f"Lease(taken={self.taken})"

    def renew(self) -> bool:
        """Extend the lease by its TTL from now; ``False`` if this caller no longer holds it."""
        return self.taken and self._renew is not None and self._renew()


class Lock(Protocol):
    """A named lease for cron jobs; a holder that dies loses it after ``ttl_seconds``.

    A long run keeps its lease by calling :meth:`Lease.renew` before the TTL runs out.
    """

    def hold(self, name: str, ttl_seconds: int) -> AbstractContextManager[Lease]:
        """Context manager yielding the :class:`Lease` (truthy iff this caller took ``name``)."""
        ...


class PaymentGateway(Protocol):
    """Outbound calls to the payment provider (Stripe), each idempotent by its key.

    Guarantees: a call repeated with the same ``idempotency_key`` and the same parameters
    returns the first result and creates nothing new; the same key with other parameters raises
    :class:`~compute_pricing.errors.PaymentRequestError`. Provider failures are translated into
    the :class:`~compute_pricing.errors.PaymentProviderError` tree: retryable ones (network,
    rate limit, provider 5xx) as ``PaymentProviderUnavailableError``, refused requests as
    ``PaymentRequestError``, bad credentials as ``PaymentConfigurationError``.
    """

    def create_customer(self, *, org: str, idempotency_key: str) -> str:
        """Create the provider customer of ``org``; return its id (``cus_...``)."""
        ...

    def create_checkout_session(
        self, request: CheckoutRequest, *, idempotency_key: str
    ) -> CheckoutSession:
        """Create a Checkout Session; return its id and URL."""
        ...

    def create_refund(
        self,
        *,
        payment_intent: str,
        amount_cents: int | None,
        reason: str | None,
        idempotency_key: str,
    ) -> RefundInfo:
        """Refund ``amount_cents`` (all when ``None``) of ``payment_intent``."""
        ...

    def retrieve_subscription(self, subscription_id: str) -> SubscriptionInfo:
        """The subscription as the provider has it now."""
        ...

    def list_refunds(self, charge_id: str) -> Sequence[RefundInfo]:
        """Every refund of ``charge_id`` (for payloads that no longer embed them)."""
        ...


@attrs.frozen
class JobCursor:
    """Where an unfinished cron run stopped: every org up to ``after`` (inclusive) was handled.

    ``started_at`` is when the run that wrote it began; ``updated_at`` its last checkpoint.
    """

    job: str
    after: str
    started_at: datetime
    updated_at: datetime


class JobCursorStore(Protocol):
    """The resumable cursors of cron jobs, one per job name.

    Guarantees: :meth:`save` replaces the job's cursor (last write wins: the job's lease lock
    keeps one writer at a time); :meth:`load` returns the last saved cursor or ``None`` after
    :meth:`clear` or before any save.
    """

    def load(self, job: str) -> JobCursor | None:
        """The saved cursor of ``job``, if a run of it is unfinished."""
        ...

    def save(self, cursor: JobCursor) -> None:
        """Store ``cursor`` as its job's cursor."""
        ...

    def clear(self, job: str) -> None:
        """Forget ``job``'s cursor (its run finished); a no-op when there is none."""
        ...


class OrgDirectory(Protocol):
    """Every org that has an account snapshot, in pages (what reconciliation walks)."""

    def list_orgs(self, *, after: str | None, limit: int) -> list[str]:
        """Orgs sorted ascending, strictly after ``after``, at most ``limit`` of them."""
        ...
