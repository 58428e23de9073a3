"""Schema migrations of the MongoDB back end: additive, idempotent, recorded.

Each :class:`Migration` is a list of :class:`Change` objects. A change knows how many things
it would touch (:meth:`Change.pending`) and applies itself with conditional single-document
writes that only match what is still missing, so running a migration twice, or after a crash
half-way, changes nothing the second time. The :class:`MigrationRunner` applies the pending
migrations in order and records each in the ``migrations`` collection
(``{_id: name, applied_at, changes}``); ``compute-pricing migrate --dry-run`` prints the plan
without writing anything.

The migrations, in order:

``create-indexes``
    every index of :mod:`compute_pricing_mongo.indexes` that is missing.
``add-compute-fields``
    account documents written in legacy mode, before compute existed, gain the compute state
    with its defaults (no week, no lots, no debt, no reservations, subscription status
    ``none`` and not past due where the legacy document left them out), ``version: 0``, and
    the top-level query fields the cron indexes read (``status``, ``past_due_since``).
``add-plan-version-and-period-start``
    the subscription state gains ``plan_version: null`` (not billed under a version yet: the
    first compute week records the version in force) and ``current_period_start: null``.
``add-processed-event-fields``
    webhook claims gain ``dead_letter: false`` (so the TTL's partial filter covers them),
    ``done: true`` (a legacy record meant "processed"), ``attempts``, ``event_id`` and
    ``touched_at`` (their ``processed_at``), so the 30-day TTL applies to them too.
``namespace-journal-keys``
    journal entries written before keys were namespaced and escaped (they have no stored
    ``request``) get the key the current release computes for the same operation, and keep
    the old one in ``legacy_key``, so a replay of an operation committed before the upgrade is
    still a replay. See :func:`upgraded_key`. Run it before the new release serves traffic.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import attrs
from pymongo import IndexModel
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from compute_pricing.keys import journal_key
from compute_pricing.ports import Clock
from compute_pricing.timekeeping import SystemClock
from compute_pricing_mongo._names import ACCOUNTS, JOURNAL, PROCESSED_EVENTS, Document
from compute_pricing_mongo._names import MIGRATIONS as MIGRATIONS_COLLECTION
from compute_pricing_mongo.errors import translated
from compute_pricing_mongo.indexes import create_index, index_models

__all__ = [
    "MIGRATIONS",
    "Change",
    "CreateIndex",
    "DeriveField",
    "Migration",
    "MigrationReport",
    "MigrationRunner",
    "RekeyJournal",
    "SetDefault",
    "upgraded_key",
]


class Change(Protocol):
    """One idempotent change of a migration."""

    @property
    def description(self) -> str:
        """What the change does, for the plan."""
        ...

    def pending(self, db: Database[Document]) -> int:
        """How many indexes or documents this change would still touch."""
        ...

    def apply(self, db: Database[Document], now: datetime) -> int:
        """Apply the change; return how many indexes or documents it touched."""
        ...


@attrs.frozen
class CreateIndex:
    """Create one index of :func:`~compute_pricing_mongo.indexes.index_models` if missing."""

    collection: str
    model: IndexModel

    @property
    def name(self) -> str:
        """The index name."""
        return str(self.model.document["name"])

    @property
    def description(self) -> str:
        """``create index <collection>.<name>``."""
        return f"create index {self.collection}.{self.name}"

    def pending(self, db: Database[Document]) -> int:
        """1 if the index is missing, else 0."""
        names = {index["name"] for index in db[self.collection].list_indexes()}
        return 0 if self.name in names else 1

    def apply(self, db: Database[Document], now: datetime) -> int:
        """Create the index if it is missing."""
        if not self.pending(db):
            return 0
        create_index(db, self.collection, self.model)
        return 1


@attrs.frozen
class SetDefault:
    """``$set`` ``field`` to a constant on every document of ``collection`` that lacks it."""

    collection: str
    field: str
    value: Any

    @property
    def description(self) -> str:
        """``<collection>.<field> = <value>``."""
        return f"{self.collection}.{self.field} = {self.value!r} where missing"

    def _filter(self) -> Document:
        return {self.field: {"$exists": False}}

    def pending(self, db: Database[Document]) -> int:
        """Documents that lack the field."""
        return db[self.collection].count_documents(self._filter())

    def apply(self, db: Database[Document], now: datetime) -> int:
        """One ``update_many`` matching only documents that lack the field."""
        result = db[self.collection].update_many(self._filter(), {"$set": {self.field: self.value}})
        return result.modified_count


@attrs.frozen
class DeriveField:
    """Set ``field`` from each document's own data where it is missing (one write per document).

    ``derive(document, now)`` returns the value, or ``None`` to leave the field absent (and the
    document out of the count).
    """

    collection: str
    field: str
    needs: Sequence[str]
    derive: Callable[[Mapping[str, Any], datetime], Any]
    explanation: str

    @property
    def description(self) -> str:
        """``<collection>.<field> from <explanation>``."""
        return f"{self.collection}.{self.field} from {self.explanation} where missing"

    def _candidates(self, db: Database[Document], now: datetime) -> list[tuple[Any, Any]]:
        projection = dict.fromkeys(self.needs, 1)
        documents = db[self.collection].find({self.field: {"$exists": False}}, projection)
        found = [(document["_id"], self.derive(document, now)) for document in documents]
        return [(key, value) for key, value in found if value is not None]

    def pending(self, db: Database[Document]) -> int:
        """Documents that lack the field and have something to derive it from."""
        # Only whether a value exists matters for the count, so any instant will do.
        return len(self._candidates(db, datetime.min.replace(tzinfo=UTC)))

    def apply(self, db: Database[Document], now: datetime) -> int:
        """A conditional ``update_one`` per document (skipped if set meanwhile)."""
        changed = 0
        for key, value in self._candidates(db, now):
            result = db[self.collection].update_one(
                {"_id": key, self.field: {"$exists": False}}, {"$set": {self.field: value}}
            )
            changed += result.modified_count
        return changed


def _dig(document: Mapping[str, Any], path: str) -> Any:
    value: Any = document
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


@attrs.frozen
class Migration:
    """A named, ordered list of idempotent changes."""

    name: str
    description: str
    changes: Callable[[], Sequence[Change]]


@attrs.frozen
class MigrationReport:
    """What a migration did (or, on a dry run, would do): ``(change, count)`` lines."""

    name: str
    description: str
    counts: tuple[tuple[str, int], ...]
    applied: bool

    def lines(self) -> list[str]:
        """Human-readable lines: the migration, then one indented line per change."""
        verb = "applied" if self.applied else "pending"
        head = f"{verb} {self.name}: {self.description}"
        unit = "changed" if self.applied else "to change"
        return [head, *(f"    {change}: {count} {unit}" for change, count in self.counts)]


def _index_changes() -> Sequence[Change]:
    return [
        CreateIndex(collection, model)
        for collection, models in index_models().items()
        for model in models
    ]


_COMPUTE_DEFAULTS: tuple[tuple[str, Any], ...] = (
    ("version", 0),
    ("state.week", None),
    ("state.lots", []),
    ("state.usage_debt", 0),
    ("state.refund_debt", 0),
    ("state.reservations", []),
    ("state.legacy", {"period": None, "counts": {}}),
    ("state.signup_granted", False),
    ("state.ledger_lines", 0),
    ("state.subscription.status", "none"),
    ("state.subscription.past_due_since", None),
)


def _compute_changes() -> Sequence[Change]:
    defaults: list[Change] = [
        SetDefault(ACCOUNTS, field, value) for field, value in _COMPUTE_DEFAULTS
    ]
    return [
        *defaults,
        DeriveField(
            ACCOUNTS,
            "status",
            ("state.subscription.status",),
            lambda doc, _: _dig(doc, "state.subscription.status") or "none",
            "state.subscription.status",
        ),
        DeriveField(
            ACCOUNTS,
            "past_due_since",
            ("state.subscription.past_due_since",),
            lambda doc, _: _dig(doc, "state.subscription.past_due_since"),
            "state.subscription.past_due_since",
        ),
    ]


def _subscription_changes() -> Sequence[Change]:
    return [
        SetDefault(ACCOUNTS, "state.subscription.plan_version", None),
        SetDefault(ACCOUNTS, "state.subscription.current_period_start", None),
    ]


def _processed_event_changes() -> Sequence[Change]:
    return [
        SetDefault(PROCESSED_EVENTS, "dead_letter", False),
        SetDefault(PROCESSED_EVENTS, "done", True),
        SetDefault(PROCESSED_EVENTS, "attempts", 0),
        SetDefault(PROCESSED_EVENTS, "last_error", ""),
        DeriveField(PROCESSED_EVENTS, "event_id", ("_id",), lambda doc, _: doc["_id"], "_id"),
        DeriveField(
            PROCESSED_EVENTS,
            "touched_at",
            ("processed_at",),
            lambda doc, now: doc.get("processed_at") or now,
            "processed_at (else now)",
        ),
    ]


#: The namespace each command kind's single-part key always had (``<namespace>:<part>``).
_SINGLE_PART_NAMESPACES = {
    "Reserve": "reserve",
    "Release": "release",
    "CreditPack": "pack",
    "Adjust": "adjust",
    "Debit": "debit",
    "Refund": "refund",
    "ExpireLot": "expire",
    "ResetWeek": "reset",
    "ChangePlan": "plan",
    "FailPayment": "payment_failed",
    "RecoverPayment": "payment_succeeded",
    "ExpireSubscription": "dunning",
    "RecordUsage": "usage",
}


def upgraded_key(entry_type: str, key: str, events: Sequence[Mapping[str, Any]]) -> str:
    """The current key of an entry stored under the old, unescaped key shape.

    Single-part keys were ``<namespace>:<part>`` with the namespace fixed by the entry's type,
    so the part is everything after it. Attributions were ``<run_id>:<step>``: the run id and
    step are read from the entry's ``ComputeCharged`` event; an attribution that charged
    nothing has none, and its old key is split at its only ``:`` (or, ambiguously, its last:
    such an entry moved no unit, so a replay that misses it charges zero again). A key of
    another type is kept.
    """
    if entry_type == "Attribute":
        for event in events:
            if event.get("type") == "ComputeCharged":
                data = event["data"]
                return journal_key("attr", str(data["run_id"]), str(data["step"]))
        run_id, _, step = key.rpartition(":")
        return journal_key("attr", run_id, step) if run_id else key
    namespace = _SINGLE_PART_NAMESPACES.get(entry_type)
    if namespace is None or not key.startswith(f"{namespace}:"):
        return key
    return journal_key(namespace, key[len(namespace) + 1 :])


@attrs.frozen
class RekeyJournal:
    """Rewrite old-shape journal keys (entries without ``request`` nor ``legacy_key``)."""

    @property
    def description(self) -> str:
        """What it does."""
        return f"{JOURNAL}.key namespaced and escaped (old key kept in legacy_key)"

    @staticmethod
    def _filter() -> Document:
        return {"request": {"$exists": False}, "legacy_key": {"$exists": False}}

    def pending(self, db: Database[Document]) -> int:
        """Old-shape entries not rewritten yet."""
        return db[JOURNAL].count_documents(self._filter())

    def apply(self, db: Database[Document], now: datetime) -> int:
        """One conditional ``update_one`` per entry: new key, old key kept."""
        changed = 0
        projection = {"_id": 1, "type": 1, "key": 1, "events": 1}
        for document in list(db[JOURNAL].find(self._filter(), projection)):
            old = str(document["key"])
            new = upgraded_key(str(document["type"]), old, document.get("events") or [])
            # A new key already taken (a post-upgrade entry) leaves the entry pending, reported.
            with contextlib.suppress(DuplicateKeyError):
                result = db[JOURNAL].update_one(
                    {"_id": document["_id"], **self._filter()},
                    {"$set": {"key": new, "legacy_key": old}},
                )
                changed += result.modified_count
        return changed


def _journal_key_changes() -> Sequence[Change]:
    return [RekeyJournal()]


MIGRATIONS: tuple[Migration, ...] = (
    Migration("create-indexes", "create every missing index", _index_changes),
    Migration(
        "add-compute-fields",
        "legacy account documents gain the compute state with defaults",
        _compute_changes,
    ),
    Migration(
        "add-plan-version-and-period-start",
        "subscriptions gain plan_version and current_period_start",
        _subscription_changes,
    ),
    Migration(
        "add-processed-event-fields",
        "webhook claims gain the dead-letter flag, last_error and a TTL timestamp",
        _processed_event_changes,
    ),
    Migration(
        "namespace-journal-keys",
        "journal keys move to the namespaced, escaped scheme",
        _journal_key_changes,
    ),
)
"""Every migration, in the order they apply."""


class MigrationRunner:
    """Applies the pending migrations of ``db`` in order and records them."""

    def __init__(
        self,
        db: Database[Document],
        *,
        clock: Clock | None = None,
        migrations: Sequence[Migration] = MIGRATIONS,
    ) -> None:
        self._db = db
        self._clock: Clock = clock or SystemClock()
        self._migrations = tuple(migrations)

    def applied(self) -> set[str]:
        """Names of the migrations recorded as applied."""
        with translated("list migrations"):
            return {str(doc["_id"]) for doc in self._db[MIGRATIONS_COLLECTION].find({}, {"_id": 1})}

    def pending(self) -> list[Migration]:
        """Migrations not recorded yet, in order."""
        done = self.applied()
        return [migration for migration in self._migrations if migration.name not in done]

    def plan(self) -> list[MigrationReport]:
        """What :meth:`run` would do; writes nothing."""
        with translated("plan migrations"):
            return [
                MigrationReport(
                    migration.name,
                    migration.description,
                    tuple(
                        (change.description, change.pending(self._db))
                        for change in migration.changes()
                    ),
                    applied=False,
                )
                for migration in self.pending()
            ]

    def run(self) -> list[MigrationReport]:
        """Apply every pending migration in order and record it; return what each changed."""
        reports: list[MigrationReport] = []
        for migration in self.pending():
            now = self._clock.now()
            with translated(f"migration {migration.name}"):
                counts = tuple(
                    (change.description, change.apply(self._db, now))
                    for change in migration.changes()
                )
                # Another runner may have recorded it first; the changes are idempotent.
                with contextlib.suppress(DuplicateKeyError):
                    self._db[MIGRATIONS_COLLECTION].insert_one(
                        {
                            "_id": migration.name,
                            "applied_at": now,
                            "changes": [list(pair) for pair in counts],
                        }
                    )
            reports.append(
                MigrationReport(migration.name, migration.description, counts, applied=True)
            )
        return reports
