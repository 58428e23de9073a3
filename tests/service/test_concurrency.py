"""Concurrent writers on one account: nothing charged twice, nothing lost, no overspending.

Threads start together behind a barrier, and the account store is wrapped so every read
pauses briefly before the caller goes on to decide and commit: the threads really do race
between reading an account and appending to its journal (the wrapper counts lost races, and
the tests check some happened). Every test runs on each store kind of ``make_billing``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TypeVar

import attrs
import pytest

from compute_pricing import (
    Billing,
    ComputeCharged,
    ComputeExhaustedError,
    DebtSettled,
    FakeClock,
    ReservationHandle,
    SweepSummary,
    WeekOpened,
)
from compute_pricing.errors import JournalSeqTakenError
from compute_pricing.events import AccountEvent
from compute_pricing.journal import JournalEntry, Snapshot
from compute_pricing.ports import AccountStore
from tests.conftest import BillingFactory

T = TypeVar("T")
ORG = "org_race"


class RacingStore:
    """An ``AccountStore`` that pauses after each read and counts commits lost to a race."""

    def __init__(self, inner: AccountStore, pause: float = 0.002) -> None:
        self.inner = inner
        self.pause = pause
        self.lost_races = 0
        self._count_lock = threading.Lock()

    def _after_read(self, value: T) -> T:
        time.sleep(self.pause)
        return value

    def read_snapshot(self, org: str) -> Snapshot | None:
        """The inner snapshot, after a pause."""
        return self._after_read(self.inner.read_snapshot(org))

    def read_journal(self, org: str, *, after_seq: int = 0) -> Sequence[JournalEntry]:
        """The inner journal, after a pause."""
        return self._after_read(self.inner.read_journal(org, after_seq=after_seq))

    def find_entry(self, org: str, key: str) -> JournalEntry | None:
        """The inner entry for ``key``."""
        return self.inner.find_entry(org, key)

    def append(self, entry: JournalEntry) -> None:
        """Append to the inner journal, counting a taken seq as a lost race."""
        try:
            self.inner.append(entry)
        except JournalSeqTakenError:
            with self._count_lock:
                self.lost_races += 1
            raise

    def save_snapshot(self, snapshot: Snapshot) -> bool:
        """Compare-and-set on the inner store."""
        return self.inner.save_snapshot(snapshot)

    def iter_ledger(self, org: str) -> Iterator[JournalEntry]:
        """The inner ledger entries."""
        return self.inner.iter_ledger(org)

    def orgs_due_for_reset(self, now: datetime, *, after: str | None, limit: int) -> list[str]:
        """The inner query."""
        return self.inner.orgs_due_for_reset(now, after=after, limit=limit)

    def orgs_with_expiring_lots(self, now: datetime, *, after: str | None, limit: int) -> list[str]:
        """The inner query."""
        return self.inner.orgs_with_expiring_lots(now, after=after, limit=limit)

    def orgs_past_due_before(self, cutoff: datetime, *, after: str | None, limit: int) -> list[str]:
        """The inner query."""
        return self.inner.orgs_past_due_before(cutoff, after=after, limit=limit)

    def org_for_customer(self, customer_id: str) -> str | None:
        """The inner lookup."""
        return self.inner.org_for_customer(customer_id)

    def purchase_for_payment_intent(self, payment_intent: str) -> JournalEntry | None:
        """The inner lookup."""
        return self.inner.purchase_for_payment_intent(payment_intent)


def racing(billing: Billing) -> RacingStore:
    """Make ``billing``'s use cases read through a :class:`RacingStore`; return it."""
    store = RacingStore(billing.accounts.store)
    billing.accounts.store = store
    return store


def in_parallel(count: int, task: Callable[[int], T]) -> list[T]:
    """Run ``task(0..count-1)`` on ``count`` threads released together; results in order."""
    barrier = threading.Barrier(count)

    def start(index: int) -> T:
        barrier.wait(timeout=30)
        return task(index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(start, index) for index in range(count)]
        return [future.result(timeout=120) for future in futures]


def journal_events(billing: Billing, org: str) -> list[AccountEvent]:
    """Every event of the org's journal, in commit order."""
    return [e for entry in billing.accounts.store.read_journal(org) for e in entry.events]


def assert_journal_contiguous(billing: Billing, org: str) -> None:
    """Journal seqs run 1..n and the account's version is n."""
    entries = billing.accounts.store.read_journal(org)
    assert list(range(1, len(entries) + 1)) == [entry.seq for entry in entries]
    assert len(entries) == billing.accounts.load(org)[1]


def test_sixteen_threads_attributing_the_same_key_charge_once(
    make_billing: BillingFactory,
) -> None:
    """16 concurrent sends of one run step: one charge, fifteen replays of the same outcome."""
    billing = make_billing()
    billing.subscribe(ORG, "starter")
    racing(billing)

    results = in_parallel(
        16, lambda _: billing.attribute(ORG, "run_1", {"scrap": Decimal("0.250")})
    )

    assert 1 == sum(not result.replayed for result in results)
    assert 1 == len({attrs.evolve(result, replayed=False) for result in results})
    charges = [e for e in journal_events(billing, ORG) if isinstance(e, ComputeCharged)]
    assert [250] == [charge.units for charge in charges]
    assert 250 == billing.usage(ORG)["compute_used"]
    assert_journal_contiguous(billing, ORG)


def test_sixteen_threads_with_distinct_keys_sum_exactly(make_billing: BillingFactory) -> None:
    """16 concurrent run steps: every unit is charged once and the quota/extras split is exact."""
    billing = make_billing()
    billing.subscribe(ORG, "starter")  # 1,000 units a week
    billing.extras.credit_pack(ORG, "small", "cs_1")  # 500 units of extras
    store = racing(billing)

    results = in_parallel(
        16,
        lambda i: billing.attribute(ORG, f"run_{i}", {"default": Decimal(10 * (i + 1)) / 1000}),
    )

    assert 1_360 == sum(result.units for result in results)  # 10 + 20 + ... + 160
    assert 1_000 == sum(result.from_quota for result in results)
    assert 360 == sum(result.from_extras for result in results)
    assert not any(result.replayed for result in results)
    assert 1_360 == billing.usage(ORG)["compute_used"]
    assert 140 == billing.extras.balance(ORG).balance
    assert_journal_contiguous(billing, ORG)
    assert store.lost_races > 0


def test_a_reset_racing_attributions_loses_no_unit(
    make_billing: BillingFactory, clock: FakeClock
) -> None:
    """reset_all_due racing 15 attributions: each week closes once, every unit is accounted for."""
    billing = make_billing()
    billing.subscribe(ORG, "starter")
    billing.attribute(ORG, "week1_a", {"default": Decimal("0.600")})
    billing.attribute(ORG, "week1_b", {"default": Decimal("0.500")})  # 100 units of debt
    expected_closed = [1_100, 250, 150]  # the third round closes the second race's week
    racing(billing)
    for round_number in range(3):
        closing = billing.usage(ORG)["week_key"]
        clock.advance(days=7, minutes=1)

        def work(i: int, round_number: int = round_number) -> object:
            if i == 0:
                return billing.reset_all_due()
            return billing.attribute(ORG, f"r{round_number}_{i}", {"default": Decimal("0.010")})

        sweep, *_ = in_parallel(16, work)

        assert isinstance(sweep, SweepSummary)
        assert {} == sweep.errors
        events = journal_events(billing, ORG)
        closes = [e for e in events if isinstance(e, WeekOpened) and e.closed_week_key == closing]
        assert [expected_closed[round_number]] == [e.closed_used for e in closes]
        settled = sum(e.units for e in events if isinstance(e, DebtSettled))
        charged = sum(e.units for e in events if isinstance(e, ComputeCharged))
        assert 1_100 + 150 * (round_number + 1) == charged
        closed_used = sum(e.closed_used or 0 for e in events if isinstance(e, WeekOpened))
        assert charged + settled == closed_used + billing.usage(ORG)["compute_used"]
        assert 100 == settled  # the first week's overflow debt, settled exactly once
    assert_journal_contiguous(billing, ORG)


def test_a_hundred_reservations_for_the_last_unit_admit_one(
    make_billing: BillingFactory,
) -> None:
    """100 concurrent reserve(org, 1) with one unit left: one hold, 99 ComputeExhaustedError."""
    billing = make_billing()
    billing.subscribe(ORG, "starter")
    billing.attribute(ORG, "run_1", {"default": Decimal("0.999")})
    assert 1 == billing.check_quota(ORG).remaining
    store = racing(billing)

    def reserve(_: int) -> ReservationHandle | ComputeExhaustedError:
        try:
            return billing.reserve(ORG, 1)
        except ComputeExhaustedError as exc:
            return exc

    outcomes = in_parallel(100, reserve)

    held = [o for o in outcomes if isinstance(o, ReservationHandle)]
    refused = [o for o in outcomes if isinstance(o, ComputeExhaustedError)]
    assert (1, 99) == (len(held), len(refused))
    with pytest.raises(ComputeExhaustedError):
        billing.check_quota(ORG)
    assert_journal_contiguous(billing, ORG)
    assert store.lost_races > 0


def test_concurrent_resets_of_one_week_close_it_once(
    make_billing: BillingFactory, clock: FakeClock
) -> None:
    """16 threads resetting one due week: one does it; the rest replay it or find it done."""
    billing = make_billing()
    billing.subscribe(ORG, "starter")
    billing.attribute(ORG, "run_1", {"default": Decimal("0.200")})
    clock.advance(timedelta(days=8))
    racing(billing)

    outcomes = in_parallel(16, lambda _: billing.reset_week(ORG))

    applied = [outcome for outcome in outcomes if outcome["applied"]]
    not_due = {"applied": False, "reason": "not_due", "replayed": False}
    assert 16 == len(applied) + sum(outcome == not_due for outcome in outcomes)
    assert 1 == sum(not outcome["replayed"] for outcome in applied)
    stored = {tuple(sorted((k, v) for k, v in o.items() if k != "replayed")) for o in applied}
    assert 1 == len(stored)
    opened = [e for e in journal_events(billing, ORG) if isinstance(e, WeekOpened)]
    assert [None, 200] == [e.closed_used for e in opened]
    assert_journal_contiguous(billing, ORG)
