"""Contract suites: what every adapter of a port must do, run against each adapter.

Subclass a ``*Contract`` class and provide its fixture (``store``, ``repository``,
``processed_events``, ``lock_factory``, ``job_cursors`` or ``directory_and_store``); pytest
collects the inherited tests.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import attrs
import pytest

from compute_pricing import commands as cmd
from compute_pricing import events as ev
from compute_pricing import provider_commands as pc
from compute_pricing.accounts import AccountService
from compute_pricing.catalog import StaticPlanCatalog
from compute_pricing.config import BillingConfig, PackSettings, PlanSettings
from compute_pricing.errors import (
    IdempotencyConflictError,
    JournalKeyExistsError,
    JournalSeqTakenError,
    PlanVersionExistsError,
)
from compute_pricing.evolve import fold
from compute_pricing.journal import JournalEntry, Snapshot
from compute_pricing.memory import EventRecorder
from compute_pricing.plans import Plan
from compute_pricing.ports import (
    AccountStore,
    BulkAccountStore,
    JobCursor,
    JobCursorStore,
    Lock,
    OrgDirectory,
    PlanRepository,
    ProcessedEventStore,
)
from compute_pricing.state import Account
from compute_pricing.timekeeping import FakeClock

__all__ = [
    "T0",
    "AccountStoreContract",
    "JobCursorStoreContract",
    "LockContract",
    "OrgDirectoryContract",
    "PlanRepositoryContract",
    "ProcessedEventStoreContract",
    "contract_config",
    "rich_entries",
]

#: A fixed instant the contract suites start from (a Monday, millisecond precision).
T0 = datetime(2026, 3, 2, 9, 30, 15, 123000, tzinfo=UTC)


def contract_config() -> BillingConfig:
    """Compute mode on, a 1,000-unit plan and a pack with expiry: enough to exercise stores."""
    return BillingConfig(
        compute_mode=True,
        plans=(
            PlanSettings(plan_id="free"),
            PlanSettings(plan_id="team", compute_quota=1_000, ratios={"default": 1, "gpu": 2.5}),
        ),
        packs=(PackSettings(pack_id="pack", units=500, price_cents=900, expiry_days=30),),
    )


def rich_entries(org: str) -> list[JournalEntry]:
    """Journal entries of ``org`` touching every part of the state (week, lots, debt, ...)."""
    at = T0
    week = ev.WeekOpened(
        org=org,
        at=at,
        week_key="2026-W10",
        started_at=at,
        reset_at=at + timedelta(days=7),
        quota=1000,
        plan_id="team",
        plan_version=1,
    )
    credit = ev.ExtrasCredited(
        org=org,
        at=at,
        lot_id="pack:cs_1",
        kind="pack",
        units=500,
        expires_at=at + timedelta(days=30),
        pack_id="pack",
        session_id="cs_1",
        price_cents=900,
    )
    charge = ev.ComputeCharged(
        org=org,
        at=at,
        run_id="run_1",
        step="initial",
        week_key="2026-W10",
        units=1100,
        from_quota=1000,
        from_extras=100,
        breakdown={"gpu": 1100},
    )
    debit = ev.ExtrasDebited(
        org=org, at=at, ref="run_1:initial", units=100, draws=(("pack:cs_1", 100),)
    )
    crossed = ev.ThresholdCrossed(
        org=org, at=at, week_key="2026-W10", threshold=100, used=1100, quota=1000
    )
    reserved = ev.UnitsReserved(
        org=org, at=at, reservation_id="res_1", units=7, expires_at=at + timedelta(minutes=15)
    )
    usage = ev.UsageRecorded(
        org=org, at=at, counter="documents.create", period="2026-03", amount=2, total=2
    )
    failed = ev.PaymentFailed(org=org, at=at, past_due_since=at)
    groups: list[tuple[str, tuple[ev.AccountEvent, ...], int]] = [
        ("reset:open", (week,), 0),
        ("pack:cs_1", (credit,), 1),
        ("run_1:initial", (charge, debit, crossed), 1),
        ("reserve:res_1", (reserved,), 0),
        ("usage:u1", (usage,), 0),
        ("payment_failed:in_1", (failed,), 0),
    ]
    return [
        JournalEntry(
            org=org,
            seq=seq,
            key=key,
            type="Contract",
            events=events,
            outcome={"applied": True, "units": seq, "note": "ok", "maybe": None},
            at=at,
            ledger=ledger,
        )
        for seq, (key, events, ledger) in enumerate(groups, start=1)
    ]


def _state(entries: list[JournalEntry], org: str) -> Account:
    state = Account.new(org, "free")
    for entry in entries:
        state = fold(state, entry.events)
    return state


class AccountStoreContract:
    """The ``AccountStore`` guarantees (docs/rules.md "Accounts"); needs a ``store`` fixture."""

    @pytest.fixture
    def store(self) -> AccountStore:
        """A new, empty store (override in the adapter's test class)."""
        raise NotImplementedError

    def service(self, store: AccountStore, clock: FakeClock | None = None) -> AccountService:
        """An account service over ``store`` with the contract config."""
        config = contract_config()
        clock = clock or FakeClock(T0)
        return AccountService(
            store, StaticPlanCatalog(config, clock), config, clock, EventRecorder(keep=0)
        )

    def test_empty_store_knows_nothing(self, store: AccountStore) -> None:
        """A new store has no snapshot, no journal and no keys."""
        assert store.read_snapshot("org_a") is None
        assert list(store.read_journal("org_a")) == []
        assert store.find_entry("org_a", "k") is None
        assert list(store.iter_ledger("org_a")) == []

    def test_entries_round_trip_exactly(self, store: AccountStore) -> None:
        """Appended entries read back equal, in order, and by key."""
        entries = rich_entries("org_a")
        for entry in entries:
            store.append(entry)
        assert entries == list(store.read_journal("org_a"))
        assert entries[2] == store.find_entry("org_a", "run_1:initial")
        assert entries[3:] == list(store.read_journal("org_a", after_seq=3))

    def test_duplicate_key_returns_the_stored_entry_and_writes_nothing(
        self, store: AccountStore
    ) -> None:
        """A second entry under a used key is refused with the first one attached."""
        first, *_ = rich_entries("org_a")
        store.append(first)
        again = JournalEntry(
            org="org_a", seq=2, key=first.key, type="Other", events=(), outcome={"other": 1}, at=T0
        )
        with pytest.raises(JournalKeyExistsError) as caught:
            store.append(again)
        assert first == caught.value.existing
        assert [first] == list(store.read_journal("org_a"))

    def test_taken_seq_is_a_lost_race_and_writes_nothing(self, store: AccountStore) -> None:
        """A second entry at a taken seq (new key) is refused."""
        first, *_ = rich_entries("org_a")
        store.append(first)
        rival = JournalEntry(
            org="org_a", seq=1, key="rival", type="Other", events=(), outcome={}, at=T0
        )
        with pytest.raises(JournalSeqTakenError):
            store.append(rival)
        assert store.find_entry("org_a", "rival") is None
        assert [first] == list(store.read_journal("org_a"))

    def test_keys_and_seqs_are_per_org(self, store: AccountStore) -> None:
        """The same key and seq are free in another org."""
        store.append(rich_entries("org_a")[0])
        store.append(rich_entries("org_b")[0])
        assert store.find_entry("org_b", "reset:open") is not None
        assert 1 == len(store.read_journal("org_b"))

    def test_snapshot_is_compare_and_set_on_version(self, store: AccountStore) -> None:
        """Only a newer snapshot replaces the stored one; the state round-trips exactly."""
        entries = rich_entries("org_a")
        early = Snapshot("org_a", 2, _state(entries[:2], "org_a"))
        late = Snapshot("org_a", 6, _state(entries, "org_a"))
        assert store.save_snapshot(early) is True
        assert store.save_snapshot(early) is False
        assert store.save_snapshot(late) is True
        assert store.save_snapshot(early) is False
        assert late == store.read_snapshot("org_a")

    def test_ledger_reads_newest_first_and_skips_entries_without_lines(
        self, store: AccountStore
    ) -> None:
        """``iter_ledger`` yields only entries that wrote ledger lines, newest first."""
        for entry in rich_entries("org_a"):
            store.append(entry)
        assert ["run_1:initial", "pack:cs_1"] == [e.key for e in store.iter_ledger("org_a")]

    def test_cron_queries_find_due_expiring_and_past_due_orgs(self, store: AccountStore) -> None:
        """The three cron queries select by the snapshot's week, lots and dunning state."""
        entries = rich_entries("org_a")
        store.save_snapshot(Snapshot("org_a", 6, _state(entries, "org_a")))
        store.save_snapshot(Snapshot("org_b", 1, _state(entries[:1], "org_b")))
        week_end = T0 + timedelta(days=7)
        assert [] == store.orgs_due_for_reset(week_end - timedelta(seconds=1), after=None, limit=10)
        assert ["org_a", "org_b"] == store.orgs_due_for_reset(week_end, after=None, limit=10)
        assert ["org_b"] == store.orgs_due_for_reset(week_end, after="org_a", limit=10)
        assert ["org_a"] == store.orgs_due_for_reset(week_end, after=None, limit=1)
        expiry = T0 + timedelta(days=30)
        assert [] == store.orgs_with_expiring_lots(
            expiry - timedelta(seconds=1), after=None, limit=10
        )
        assert ["org_a"] == store.orgs_with_expiring_lots(expiry, after=None, limit=10)
        assert ["org_a"] == store.orgs_past_due_before(T0, after=None, limit=10)
        assert [] == store.orgs_past_due_before(T0 - timedelta(seconds=1), after=None, limit=10)

    def test_bulk_append_refuses_only_the_orgs_whose_seq_or_key_is_taken(
        self, store: AccountStore
    ) -> None:
        """``append_many``: a taken seq and a taken key refuse their org only; others commit."""
        if not isinstance(store, BulkAccountStore):
            pytest.skip("this store writes no batches")  # pragma: no cover - both adapters do
        for org in ("org_a", "org_b"):
            store.append(rich_entries(org)[0])
        seq_taken = attrs.evolve(rich_entries("org_a")[1], seq=1)
        key_taken = attrs.evolve(rich_entries("org_b")[0], seq=2)
        fresh = [rich_entries(org)[0] for org in ("org_c", "org_d")]
        assert {"org_a", "org_b"} == store.append_many([seq_taken, key_taken, *fresh])
        assert [1, 1, 1, 1] == [
            len(store.read_journal(o)) for o in ("org_a", "org_b", "org_c", "org_d")
        ]
        assert store.find_entry("org_a", seq_taken.key) is None
        assert set() == store.append_many([])

    def test_bulk_snapshot_save_is_compare_and_set_per_org(self, store: AccountStore) -> None:
        """``save_snapshots``: an org whose stored snapshot is as new or newer is not stored."""
        if not isinstance(store, BulkAccountStore):
            pytest.skip("this store writes no batches")  # pragma: no cover - both adapters do
        entries = rich_entries("org_a")
        late = Snapshot("org_a", 6, _state(entries, "org_a"), T0)
        store.save_snapshot(late)
        early_a = Snapshot("org_a", 2, _state(entries[:2], "org_a"), T0)
        new_b = Snapshot("org_b", 2, _state(entries[:2], "org_b"), T0)
        assert {"org_a"} == store.save_snapshots([early_a, new_b])
        assert (late, new_b) == (store.read_snapshot("org_a"), store.read_snapshot("org_b"))
        assert set() == store.save_snapshots([])
        week_end = T0 + timedelta(days=7)
        assert [("org_a", late), ("org_b", new_b)] == store.snapshots_due_for_reset(
            week_end, after=None, limit=10
        )
        assert [("org_b", new_b)] == store.snapshots_due_for_reset(
            week_end, after="org_a", limit=10
        )
        assert [("org_b", new_b)] == store.snapshots_with_expiring_lots(
            T0 + timedelta(days=30), after="org_a", limit=10
        )
        assert [("org_a", late)] == store.snapshots_past_due_before(T0, after=None, limit=1)

    def test_stripe_lookups_find_the_org_by_customer_and_payment_intent(
        self, store: AccountStore
    ) -> None:
        """A linked customer and a paid pack's payment intent each lead back to their org."""
        service = self.service(store)
        assert store.org_for_customer("cus_1") is None
        assert store.purchase_for_payment_intent("pi_1") is None
        service.execute("org_b", pc.LinkCustomer(customer_id="cus_1", generation=0))
        service.execute("org_c", pc.LinkCustomer(customer_id="cus_2", generation=0))
        paid = pc.CreditPaidPack(pack_id="pack", session_id="cs_1", payment_intent="pi_1")
        service.execute("org_c", paid)
        service.execute("org_b", cmd.CreditPack("pack", "cs_2"))  # no payment intent recorded
        assert ("org_b", "org_c", None) == (
            store.org_for_customer("cus_1"),
            store.org_for_customer("cus_2"),
            store.org_for_customer("cus_3"),
        )
        entry = store.purchase_for_payment_intent("pi_1")
        assert entry is not None
        credit = entry.events[0]
        assert isinstance(credit, ev.ExtrasCredited)
        assert ("org_c", "cs_1", 500, 900) == (
            entry.org,
            credit.session_id,
            credit.units,
            credit.price_cents,
        )
        assert store.purchase_for_payment_intent("pi_2") is None

    def test_replayed_command_returns_first_outcome_and_writes_nothing(
        self, store: AccountStore
    ) -> None:
        """Executing the same key twice commits one entry and replays its outcome."""
        service = self.service(store)
        first = service.execute("org_a", cmd.Attribute("run_1", "initial", {"x": Decimal(1)}))
        again = service.execute("org_a", cmd.Attribute("run_1", "initial", {"x": Decimal("1.0")}))
        assert (False, True) == (first.replayed, again.replayed)
        assert first.outcome == again.outcome
        assert 1 == len(store.read_journal("org_a"))

    def test_replay_asking_something_else_is_a_conflict(self, store: AccountStore) -> None:
        """The stored request survives the store: other costs under the key -> 409, no write."""
        service = self.service(store)
        service.execute("org_a", cmd.Attribute("run_1", "initial", {"gpu.a$": Decimal("1.50")}))
        (entry,) = store.read_journal("org_a")
        expected = {"run_id": "run_1", "step": "initial", "costs": {"gpu.a$": "1.5"}}
        assert expected == entry.request
        with pytest.raises(IdempotencyConflictError) as raised:
            service.execute("org_a", cmd.Attribute("run_1", "initial", {"gpu.a$": Decimal(5)}))
        assert ("attr:run_1:initial", "costs") == (raised.value.key, raised.value.field)
        assert 1 == len(store.read_journal("org_a"))

    def test_snapshot_keeps_the_last_entry_instant(self, store: AccountStore) -> None:
        """A snapshot's ``at`` and an entry's ``clock_skew_ms`` read back as written."""
        service = self.service(store)
        service.execute("org_a", cmd.Attribute("run_1", "initial", {"x": Decimal(1)}))
        snapshot = store.read_snapshot("org_a")
        assert snapshot is not None
        assert store.read_journal("org_a")[0].at == snapshot.at
        assert 0 == store.read_journal("org_a")[0].clock_skew_ms

    def test_concurrent_writers_lose_no_update(self, store: AccountStore) -> None:
        """8 threads x 25 distinct runs of 3 units each: 600 units, seqs 1..200, no gap."""
        service = self.service(store)
        errors: list[BaseException] = []

        def worker(n: int) -> None:
            try:
                for i in range(25):
                    service.execute(
                        "org_a", cmd.Attribute(f"run_{n}_{i}", "initial", {"x": Decimal("0.003")})
                    )
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert [] == errors, errors
        state, version = service.load("org_a")
        assert state.week is not None
        assert (600, 200) == (state.week.used, version)
        assert list(range(1, 201)) == [e.seq for e in store.read_journal("org_a")]

    def test_crash_between_commit_and_snapshot_loses_nothing(self, store: AccountStore) -> None:
        """A commit whose snapshot refresh never happened is caught up by the next writer."""
        service = self.service(store)
        service.execute("org_a", cmd.Attribute("run_1", "initial", {"x": Decimal("0.010")}))
        snapshot = store.read_snapshot("org_a")
        assert snapshot is not None
        crashed = JournalEntry(
            org="org_a",
            seq=2,
            key="run_2:initial",
            type="Attribute",
            events=(
                ev.ComputeCharged(
                    org="org_a",
                    at=T0,
                    run_id="run_2",
                    step="initial",
                    week_key=snapshot.state.week.key if snapshot.state.week else "",
                    units=20,
                    from_quota=20,
                    from_extras=0,
                ),
            ),
            outcome={},
            at=T0,
        )
        store.append(crashed)  # committed, but the process died before save_snapshot
        state, version = service.load("org_a")
        assert state.week is not None
        assert (30, 2) == (state.week.used, version)
        service.execute("org_a", cmd.Attribute("run_3", "initial", {"x": Decimal("0.005")}))
        latest = store.read_snapshot("org_a")
        assert latest is not None
        assert latest.state.week is not None
        assert (35, 3) == (latest.state.week.used, latest.version)


class PlanRepositoryContract:
    """The ``PlanRepository`` guarantees; provide a fresh ``repository`` fixture."""

    @pytest.fixture
    def repository(self) -> PlanRepository:
        """A new, empty repository (override)."""
        raise NotImplementedError

    def plan(self, version: int = 1, **changes: object) -> Plan:
        """A plan version with exact decimal ratios and legacy limits."""
        values: dict[str, object] = {
            "plan_id": "team",
            "version": version,
            "compute_quota": 1000,
            "ratios": {"default": Decimal(1), "gpu": Decimal("2.5")},
            "limits": {"documents.create": 100, "documents.export": None},
            "effective_from": T0,
        }
        values.update(changes)
        return Plan(**values)  # type: ignore[arg-type]

    def test_versions_round_trip_exactly(self, repository: PlanRepository) -> None:
        """A published version reads back equal, by version and in the version list."""
        first, second = self.plan(1), self.plan(2, compute_quota=2000)
        repository.add(second)
        repository.add(first)
        assert first == repository.get("team", 1)
        assert [first, second] == repository.versions("team")
        assert repository.get("team", 3) is None
        assert [] == repository.versions("other")

    def test_a_published_version_is_immutable(self, repository: PlanRepository) -> None:
        """Publishing the same (plan_id, version) twice is refused; the first stays."""
        repository.add(self.plan(1))
        with pytest.raises(PlanVersionExistsError):
            repository.add(self.plan(1, compute_quota=5))
        stored = repository.get("team", 1)
        assert stored is not None
        assert 1000 == stored.compute_quota

    def test_close_ends_the_window_only(self, repository: PlanRepository) -> None:
        """Closing sets ``effective_until`` and inactive; the terms do not change."""
        repository.add(self.plan(1))
        until = T0 + timedelta(days=3)
        repository.close("team", 1, until)
        closed = repository.get("team", 1)
        assert closed is not None
        assert (until, False, 1000) == (closed.effective_until, closed.active, closed.compute_quota)


class ProcessedEventStoreContract:
    """The ``ProcessedEventStore`` guarantees; provide ``processed_events`` (TTL 30 days)."""

    @pytest.fixture
    def processed_events(self) -> ProcessedEventStore:
        """A new, empty store with a 30-day TTL (override)."""
        raise NotImplementedError

    def test_claim_then_done_then_duplicate(self, processed_events: ProcessedEventStore) -> None:
        """First claim wins; after success a duplicate answers ``done``."""
        assert "claimed" == processed_events.claim("evt_1", "invoice.paid", T0)
        processed_events.mark_done("evt_1", T0)
        assert "done" == processed_events.claim("evt_1", "invoice.paid", T0)

    def test_failures_retry_until_dead_letter(self, processed_events: ProcessedEventStore) -> None:
        """Each failure counts; the fifth makes a dead letter that stays dead."""
        processed_events.claim("evt_2", "invoice.paid", T0)
        dead = [processed_events.mark_failed("evt_2", T0, 5) for _ in range(5)]
        assert [False, False, False, False, True] == dead
        assert "dead" == processed_events.claim("evt_2", "invoice.paid", T0)

    def test_failed_event_can_be_claimed_again(self, processed_events: ProcessedEventStore) -> None:
        """A failure short of dead letter leaves the event claimable for Stripe's retry."""
        processed_events.claim("evt_3", "invoice.paid", T0)
        processed_events.mark_failed("evt_3", T0, 5)
        assert "claimed" == processed_events.claim("evt_3", "invoice.paid", T0)

    def test_a_record_keeps_type_attempts_and_last_error(
        self, processed_events: ProcessedEventStore
    ) -> None:
        """``get`` returns the claim: its type, failed attempts and the latest error message."""
        assert processed_events.get("evt_4") is None
        processed_events.claim("evt_4", "charge.refunded", T0)
        processed_events.mark_failed("evt_4", T0, 5, error="first")
        later = T0 + timedelta(minutes=1)
        processed_events.mark_failed("evt_4", later, 5, error="second " + "x" * 600)
        record = processed_events.get("evt_4")
        assert record is not None
        assert ("evt_4", "charge.refunded", later, 2, False, False) == (
            record.event_id,
            record.type,
            record.processed_at,
            record.attempts,
            record.dead_letter,
            record.done,
        )
        assert ("second " + "x" * 493) == record.last_error

    def test_dead_letters_lists_only_dead_letters_oldest_first(
        self, processed_events: ProcessedEventStore
    ) -> None:
        """Only dead letters are listed, oldest ``processed_at`` first, at most ``limit``."""
        for offset, event_id in ((2, "evt_b"), (1, "evt_c"), (3, "evt_a")):
            processed_events.claim(event_id, "invoice.paid", T0)
            processed_events.mark_failed(
                event_id, T0 + timedelta(seconds=offset), 1, error=f"boom {event_id}"
            )
        processed_events.claim("evt_live", "invoice.paid", T0)
        processed_events.mark_failed("evt_live", T0, 5)
        processed_events.claim("evt_ok", "invoice.paid", T0)
        processed_events.mark_done("evt_ok", T0)
        listed = processed_events.dead_letters()
        assert ["evt_c", "evt_b", "evt_a"] == [record.event_id for record in listed]
        assert ["boom evt_c"] == [record.last_error for record in listed[:1]]
        assert all(record.dead_letter for record in listed)
        assert ["evt_c"] == [record.event_id for record in processed_events.dead_letters(limit=1)]
        assert [] == processed_events.dead_letters(limit=0)

    def test_a_dead_letter_outlives_the_ttl(self, processed_events: ProcessedEventStore) -> None:
        """Long past the TTL a dead letter still answers ``dead`` and is still listed."""
        processed_events.claim("evt_old", "invoice.paid", T0)
        processed_events.mark_failed("evt_old", T0, 1)
        much_later = T0 + timedelta(days=365)
        assert "dead" == processed_events.claim("evt_old", "invoice.paid", much_later)
        assert ["evt_old"] == [record.event_id for record in processed_events.dead_letters()]

    def test_release_for_replay_makes_a_dead_letter_claimable_once_more(
        self, processed_events: ProcessedEventStore
    ) -> None:
        """A released dead letter is claimable, keeps its attempts and leaves the listing."""
        processed_events.claim("evt_5", "invoice.paid", T0)
        for _ in range(5):
            processed_events.mark_failed("evt_5", T0, 5, error="down")
        later = T0 + timedelta(hours=1)
        assert processed_events.release_for_replay("evt_5", later) is True
        assert processed_events.release_for_replay("evt_5", later) is False
        assert [] == processed_events.dead_letters()
        assert "claimed" == processed_events.claim("evt_5", "invoice.paid", later)
        record = processed_events.get("evt_5")
        assert record is not None
        assert (5, False, later) == (record.attempts, record.dead_letter, record.processed_at)
        assert processed_events.mark_failed("evt_5", later, 5) is True

    def test_release_for_replay_refuses_what_is_not_a_dead_letter(
        self, processed_events: ProcessedEventStore
    ) -> None:
        """Unknown, live and done events are not released."""
        processed_events.claim("evt_live", "invoice.paid", T0)
        processed_events.claim("evt_done", "invoice.paid", T0)
        processed_events.mark_done("evt_done", T0)
        released = [
            processed_events.release_for_replay(event_id, T0)
            for event_id in ("evt_none", "evt_live", "evt_done")
        ]
        assert [False, False, False] == released
        assert "done" == processed_events.claim("evt_done", "invoice.paid", T0)

    def test_purge_forgets_an_event(self, processed_events: ProcessedEventStore) -> None:
        """A purged dead letter is gone; a later delivery of it is a new claim."""
        processed_events.claim("evt_6", "invoice.paid", T0)
        processed_events.mark_failed("evt_6", T0, 1)
        assert (True, False) == (
            processed_events.purge("evt_6"),
            processed_events.purge("evt_6"),
        )
        assert processed_events.get("evt_6") is None
        assert [] == processed_events.dead_letters()
        assert "claimed" == processed_events.claim("evt_6", "invoice.paid", T0)


class LockContract:
    """The ``Lock`` guarantees; provide ``lock_factory`` taking a clock."""

    @pytest.fixture
    def lock_factory(self) -> Callable[[FakeClock], Lock]:
        """Build a lock over a shared back end reading ``clock`` (override)."""
        raise NotImplementedError

    def test_one_holder_at_a_time(self, lock_factory: Callable[[FakeClock], Lock]) -> None:
        """While one caller holds a name, another does not get it; after release it does."""
        clock = FakeClock(T0)
        lock = lock_factory(clock)
        with lock.hold("reset", 60) as first:
            with lock.hold("reset", 60) as second:
                assert (True, False) == (bool(first), bool(second))
            with lock.hold("other", 60) as other:
                assert bool(other)
        with lock.hold("reset", 60) as again:
            assert bool(again)

    def test_an_abandoned_lease_expires(self, lock_factory: Callable[[FakeClock], Lock]) -> None:
        """A holder that never releases loses the lease after its TTL."""
        clock = FakeClock(T0)
        lock = lock_factory(clock)
        held = lock.hold("reset", 60)
        assert bool(held.__enter__())
        clock.advance(seconds=59)
        with lock.hold("reset", 60) as early:
            assert not early
        clock.advance(seconds=1)
        with lock.hold("reset", 60) as late:
            assert bool(late)

    def test_a_renewed_lease_lives_a_ttl_from_the_renewal(
        self, lock_factory: Callable[[FakeClock], Lock]
    ) -> None:
        """Renewing at 50 s keeps the lease to 110 s; a lease never taken cannot be renewed."""
        clock = FakeClock(T0)
        lock = lock_factory(clock)
        held = lock.hold("reset", 60)
        lease = held.__enter__()
        clock.advance(seconds=50)
        assert lease.renew()
        clock.advance(seconds=59)  # 109 s after taking it, 59 s after the renewal
        with lock.hold("reset", 60) as other:
            assert not other
            assert not other.renew()
        clock.advance(seconds=1)
        with lock.hold("reset", 60) as successor:
            assert bool(successor)
        held.__exit__(None, None, None)

    def test_a_lease_taken_over_or_released_is_not_renewed(
        self, lock_factory: Callable[[FakeClock], Lock]
    ) -> None:
        """After expiry and takeover the old holder's renewal fails and leaves the new lease."""
        clock = FakeClock(T0)
        lock = lock_factory(clock)
        old = lock.hold("reset", 60)
        stale = old.__enter__()
        clock.advance(seconds=61)
        with lock.hold("reset", 60) as successor:
            assert bool(successor)
            assert not stale.renew()
            with lock.hold("reset", 60) as third:
                assert not third
            assert successor.renew()
        assert not successor.renew()  # released on exit
        old.__exit__(None, None, None)


class JobCursorStoreContract:
    """The ``JobCursorStore`` guarantees; provide a fresh ``job_cursors`` fixture."""

    @pytest.fixture
    def job_cursors(self) -> JobCursorStore:
        """A fresh, empty cursor store (override)."""
        raise NotImplementedError

    def test_save_load_replace_and_clear(self, job_cursors: JobCursorStore) -> None:
        """Nothing at first; a save reads back exactly; a second save replaces; clear forgets."""
        assert job_cursors.load("weekly-reset") is None
        first = JobCursor("weekly-reset", "org_a", T0, T0)
        job_cursors.save(first)
        assert first == job_cursors.load("weekly-reset")
        later = JobCursor("weekly-reset", "org_b", T0, T0 + timedelta(seconds=5))
        job_cursors.save(later)
        job_cursors.save(JobCursor("reconcile", "org_z", T0, T0))
        assert later == job_cursors.load("weekly-reset")
        job_cursors.clear("weekly-reset")
        job_cursors.clear("never-saved")
        assert job_cursors.load("weekly-reset") is None
        assert "org_z" == getattr(job_cursors.load("reconcile"), "after", None)


class OrgDirectoryContract:
    """The ``OrgDirectory`` guarantees; provide ``directory_and_store`` over one back end."""

    @pytest.fixture
    def directory_and_store(self) -> tuple[OrgDirectory, AccountStore]:
        """A directory and the account store it lists, both empty (override)."""
        raise NotImplementedError

    def test_lists_every_org_with_a_snapshot_in_sorted_pages(
        self, directory_and_store: tuple[OrgDirectory, AccountStore]
    ) -> None:
        """Orgs come sorted, strictly after ``after``, at most ``limit`` per page."""
        directory, store = directory_and_store
        assert [] == directory.list_orgs(after=None, limit=10)
        for org in ("org_c", "org_a", "org_b"):
            store.save_snapshot(Snapshot(org=org, version=1, state=Account.new(org, "free")))
        assert ["org_a", "org_b"] == directory.list_orgs(after=None, limit=2)
        assert ["org_c"] == directory.list_orgs(after="org_b", limit=2)
        assert [] == directory.list_orgs(after="org_c", limit=2)
