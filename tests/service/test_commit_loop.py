"""The commit loop around a lost snapshot refresh, replays, the clock, retries and backoff.

A lost refresh is injected with :class:`LoseRefreshOnce`: the store's ``save_snapshot`` fails
once, right after the journal insert (the commit) succeeded, as a crash or a network error
between the two writes would leave it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
import pytest

from compute_pricing import Billing, EventRecorder, FakeClock
from compute_pricing import commands as cmd
from compute_pricing.accounts import BACKOFF_CAP_SECONDS, AccountService, backoff
from compute_pricing.decide import current_headroom
from compute_pricing.errors import (
    BillingError,
    ComputeExhaustedError,
    ConcurrencyConflictError,
    IdempotencyConflictError,
    JournalSeqTakenError,
    QuotaExceededError,
)
from compute_pricing.evolve import fold
from compute_pricing.journal import Snapshot
from compute_pricing.ports import AccountStore
from compute_pricing.state import Account
from tests.conftest import START, BillingFactory, compute_config, legacy_config
from tests.support.stores import STORE_KINDS

ORG = "org_a"


class LoseRefreshOnce:
    """An ``AccountStore`` whose next ``save_snapshot`` (once armed) raises; counts reads."""

    def __init__(self, inner: AccountStore) -> None:
        self.inner = inner
        self.armed = False
        self.lost = 0
        self.calls: Counter[str] = Counter()

    def save_snapshot(self, snapshot: Snapshot) -> bool:
        """Raise once when armed, else delegate."""
        self.calls["save_snapshot"] += 1
        if self.armed:
            self.armed = False
            self.lost += 1
            raise ConnectionError("connection lost after the journal insert")
        return self.inner.save_snapshot(snapshot)

    def read_snapshot(self, org: str) -> Snapshot | None:
        """Delegate (counted)."""
        self.calls["read_snapshot"] += 1
        return self.inner.read_snapshot(org)

    def read_journal(self, org: str, *, after_seq: int = 0) -> Any:
        """Delegate (counted)."""
        self.calls["read_journal"] += 1
        return self.inner.read_journal(org, after_seq=after_seq)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def flaky(billing: Billing) -> LoseRefreshOnce:
    """Put a :class:`LoseRefreshOnce` between ``billing`` and its account store."""
    store = LoseRefreshOnce(billing.accounts.store)
    billing.accounts.store = store
    return store


def journal_fold(billing: Billing) -> tuple[Account, int]:
    """The account folded from the whole journal, and the journal length."""
    entries = billing.accounts.store.read_journal(ORG)
    state = billing.accounts.new_account(ORG)
    for entry in entries:
        state = fold(state, entry.events)
    return state, len(entries)


def assert_healed_and_published_once(billing: Billing) -> None:
    """Snapshot == fold(journal) at the journal's length; every event published exactly once."""
    state, length = journal_fold(billing)
    snapshot = billing.accounts.store.read_snapshot(ORG)
    assert snapshot is not None
    assert (length, state) == (snapshot.version, snapshot.state)
    recorder = billing.events
    assert isinstance(recorder, EventRecorder)
    journaled = Counter(
        id(e) for entry in billing.accounts.store.read_journal(ORG) for e in entry.events
    )
    published = [e for e in recorder.published if getattr(e, "org", None) == ORG]
    expected = [e for entry in billing.accounts.store.read_journal(ORG) for e in entry.events]
    assert len(expected) == len(published)
    assert expected == published
    assert len(journaled) == len(published)


def assert_gate_is_the_fold(billing: Billing, *, exact: bool = True) -> None:
    """``check_quota`` admits when the journal's fold has room (with exactly that room once
    the snapshot is current, ``exact``), and refuses when it has none."""
    state, ctx = billing._current(journal_fold(billing)[0])
    room = current_headroom(state, ctx).remaining
    if room > 0:
        admitted = billing.check_quota(ORG).remaining
        assert admitted is not None
        if exact:
            assert room == admitted
    elif exact:
        with pytest.raises(BillingError):
            billing.check_quota(ORG)


def exhausted_with_pack(billing: Billing) -> None:
    """Subscribe to starter (1,000 units) and use it all."""
    billing.subscribe(ORG, "starter")
    billing.attribute(ORG, "run_0", {"scrap": Decimal("1.000")})
    with pytest.raises(ComputeExhaustedError):
        billing.check_quota(ORG)


def test_lost_refresh_after_a_pack_never_becomes_a_402(make_billing: BillingFactory) -> None:
    """Pack credited, refresh lost: the gate and reserve admit; Stripe's redelivery heals."""
    billing = make_billing(compute_config())
    exhausted_with_pack(billing)
    store = flaky(billing)
    store.armed = True
    credit = billing.extras.credit_pack(ORG, "small", "cs_1")
    assert (1, True, False) == (store.lost, credit.applied, credit.replayed)
    assert 500 == billing.check_quota(ORG).remaining
    assert_gate_is_the_fold(billing)
    assert 500 == billing.reserve(ORG, 500).units
    again = billing.extras.credit_pack(ORG, "small", "cs_1")
    assert True is again.replayed
    assert_healed_and_published_once(billing)


def test_gate_allow_path_is_one_store_read(billing: Billing) -> None:
    """An admitted ``check_quota`` reads the snapshot once and nothing else."""
    billing.subscribe(ORG, "starter")
    store = flaky(billing)
    billing.check_quota(ORG)
    assert Counter({"read_snapshot": 1}) == store.calls


def test_a_read_that_finds_the_snapshot_behind_heals_it(billing: Billing) -> None:
    """``usage`` after a lost refresh answers from the journal and refreshes the snapshot."""
    store = flaky(billing)
    billing.subscribe(ORG, "starter")
    store.armed = True
    billing.attribute(ORG, "run_1", {"scrap": Decimal("0.010")})
    assert 10 == billing.usage(ORG)["compute_used"]
    assert_healed_and_published_once(billing)


Call = Callable[[Billing], Any]


def _reserve_then_lose_commit(billing: Billing, store: LoseRefreshOnce) -> Call:
    handle = billing.reserve(ORG, 10, key="job")
    store.armed = True
    billing.commit(handle, {"scrap": Decimal("0.005")}, run_id="run_r")
    return lambda b: b.commit(handle, {"scrap": Decimal("0.005")}, run_id="run_r")


def _reserve_then_lose_release(billing: Billing, store: LoseRefreshOnce) -> Call:
    handle = billing.reserve(ORG, 10, key="job")
    store.armed = True
    billing.release(handle)
    return lambda b: b.release(handle)


def _lose(call: Call) -> Callable[[Billing, LoseRefreshOnce], Call]:
    def setup(billing: Billing, store: LoseRefreshOnce) -> Call:
        store.armed = True
        call(billing)
        return call

    return setup


def _purchase_then(call: Call) -> Callable[[Billing, LoseRefreshOnce], Call]:
    def setup(billing: Billing, store: LoseRefreshOnce) -> Call:
        billing.extras.credit_pack(ORG, "small", "cs_p")
        store.armed = True
        call(billing)
        return call

    return setup


def _expire(billing: Billing, store: LoseRefreshOnce) -> Call:
    billing.extras.credit_pack(ORG, "small", "cs_p")
    clock = billing.clock
    assert isinstance(clock, FakeClock)
    clock.advance(timedelta(days=31))
    store.armed = True
    assert 1 == billing.extras.expire_old_entries().processed
    return lambda b: b.extras.expire_old_entries()


def _reset(billing: Billing, store: LoseRefreshOnce) -> Call:
    billing.attribute(ORG, "run_w", {"scrap": Decimal("0.001")})
    clock = billing.clock
    assert isinstance(clock, FakeClock)
    clock.advance(timedelta(days=7))
    store.armed = True
    assert True is billing.reset_week(ORG)["applied"]
    return lambda b: b.reset_week(ORG)


def _dunning(billing: Billing, store: LoseRefreshOnce) -> Call:
    billing.payment_failed(ORG, "in_1")
    clock = billing.clock
    assert isinstance(clock, FakeClock)
    clock.advance(timedelta(days=billing.config.dunning_days + 1))
    store.armed = True
    assert 1 == billing.dunning_sweep().processed
    return lambda b: b.dunning_sweep()


KINDS: dict[str, Callable[[Billing, LoseRefreshOnce], Call]] = {
    "Attribute": _lose(lambda b: b.attribute(ORG, "run_1", {"scrap": Decimal("0.010")})),
    "Reserve": _lose(lambda b: b.reserve(ORG, 10, key="job")),
    "Release": _reserve_then_lose_release,
    "Attribute (commit)": _reserve_then_lose_commit,
    "CreditPack": _lose(lambda b: b.extras.credit_pack(ORG, "small", "cs_1")),
    "Debit": _purchase_then(lambda b: b.extras.debit(ORG, 7, "d_1")),
    "Adjust": _lose(lambda b: b.extras.adjust(ORG, 5, "a_1")),
    "Refund": _purchase_then(lambda b: b.extras.refund_partial(ORG, "cs_p", 90, "re_1")),
    "ExpireLot": _expire,
    "ResetWeek": _reset,
    "ChangePlan": _lose(lambda b: b.subscribe(ORG, "pro")),
    "FailPayment": _lose(lambda b: b.payment_failed(ORG, "in_1")),
    "RecoverPayment": _purchase_then(lambda b: b.payment_succeeded(ORG, "in_2")),
    "ExpireSubscription": _dunning,
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_lost_refresh_of_each_command_kind(kind: str, clock: FakeClock) -> None:
    """The commit stands and publishes once; its redelivery heals the snapshot."""
    billing = Billing.in_memory(compute_config(), clock=clock)
    billing.subscribe(ORG, "starter")
    store = flaky(billing)
    redeliver = KINDS[kind](billing, store)
    assert 1 == store.lost
    snapshot = billing.accounts.store.read_snapshot(ORG)
    assert snapshot is not None
    _, length = journal_fold(billing)
    assert length - 1 == snapshot.version  # the refresh really was lost
    assert_gate_is_the_fold(billing, exact=False)  # the allow path may lag, never refuse
    redeliver(billing)
    assert_healed_and_published_once(billing)
    assert_gate_is_the_fold(billing)


def test_lost_refresh_of_legacy_usage(clock: FakeClock) -> None:
    """RecordUsage (legacy mode): the count stands, the gate counts it, a retry heals."""
    billing = Billing.in_memory(legacy_config(), clock=clock)
    store = flaky(billing)
    store.armed = True
    assert 1 == billing.record_usage(ORG, "documents", "create", key="u_1")
    assert 1 == billing.record_usage(ORG, "documents", "create", key="u_1")
    assert_healed_and_published_once(billing)


def test_lost_refresh_of_a_legacy_upgrade_never_becomes_a_429(clock: FakeClock) -> None:
    """Free's 3 documents used, upgrade to team with its refresh lost: admitted, and healed."""
    billing = Billing.in_memory(legacy_config(), clock=clock)
    for i in range(3):
        billing.record_usage(ORG, "documents", "create", key=f"u_{i}")
    with pytest.raises(QuotaExceededError):
        billing.check_quota(ORG, "documents", "create")
    store = flaky(billing)
    store.armed = True
    billing.subscribe(ORG, "team")
    assert 1 == store.lost
    assert 97 == billing.check_quota(ORG, "documents", "create").remaining
    snapshot = store.inner.read_snapshot(ORG)
    assert snapshot is not None
    assert "team" == snapshot.state.subscription.plan_id  # the refusal path healed it
    assert 97 == billing.check_quota(ORG, "documents", "create").remaining


def test_keyed_reserve_retry_returns_the_same_reservation(billing: Billing) -> None:
    """A retried ``reserve(key=...)`` returns the same hold and holds the units once."""
    billing.subscribe(ORG, "starter")
    first = billing.reserve(ORG, 600, key="job-1")
    again = billing.reserve(ORG, 600, key="job-1")
    assert first == again
    assert 400 == billing.check_quota(ORG).remaining
    other = billing.reserve(ORG, 100, key="job-2")
    assert first.reservation_id != other.reservation_id


def test_replayed_commit_releases_its_new_hold(billing: Billing) -> None:
    """commit(h2, run_id=<already charged>) replays and gives h2's units back."""
    billing.subscribe(ORG, "starter")
    h1 = billing.reserve(ORG, 100)
    billing.commit(h1, {"scrap": Decimal("0.050")}, run_id="run_1")
    h2 = billing.reserve(ORG, 300)
    assert 650 == billing.check_quota(ORG).remaining
    replay = billing.commit(h2, {"scrap": Decimal("0.050")}, run_id="run_1")
    assert True is replay.replayed
    assert 950 == billing.check_quota(ORG).remaining
    assert False is billing.release(h2)


class SteppingClock:
    """A clock that may be set backwards, as NTP may step a real one. Implements ``Clock``."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        """The set instant."""
        return self.at

    def advance(self, by: timedelta) -> None:
        """Move by ``by`` (negative allowed)."""
        self.at += by


def test_a_stepped_back_clock_is_clamped_and_recorded(store_kind: str) -> None:
    """Journal ``at`` never goes backwards; the step back is stored as ``clock_skew_ms``."""
    clock = SteppingClock(START)
    billing = Billing(compute_config(), stores=STORE_KINDS[store_kind](clock), clock=clock)
    billing.attribute(ORG, "run_1", {"scrap": Decimal("0.001")})
    clock.advance(timedelta(seconds=-2, milliseconds=-500))
    billing.attribute(ORG, "run_2", {"scrap": Decimal("0.001")})
    clock.advance(timedelta(seconds=5))
    billing.attribute(ORG, "run_3", {"scrap": Decimal("0.001")})
    entries = billing.accounts.store.read_journal(ORG)
    ats = [e.at for e in entries]
    assert sorted(ats) == ats
    assert [0, 2_500, 0] == [e.clock_skew_ms for e in entries]
    assert entries[0].at == entries[1].at


def test_clamp_survives_a_lost_refresh() -> None:
    """With the snapshot behind, the clamp still uses the last entry's ``at`` (caught up)."""
    clock = SteppingClock(START)
    billing = Billing.in_memory(compute_config(), clock=clock)
    billing.attribute(ORG, "run_1", {"default": Decimal("0.001")})
    store = flaky(billing)
    clock.advance(timedelta(seconds=10))
    store.armed = True
    billing.attribute(ORG, "run_2", {"default": Decimal("0.001")})
    clock.advance(timedelta(seconds=-4))
    billing.attribute(ORG, "run_3", {"default": Decimal("0.001")})
    entries = billing.accounts.store.read_journal(ORG)
    assert [0, 0, 4_000] == [e.clock_skew_ms for e in entries]
    assert entries[1].at == entries[2].at


def test_backoff_is_bounded_full_jitter() -> None:
    """The draw is uniform below ``min(cap, base * 2**attempt)``."""
    bounds = [backoff(n, base=0.001, cap=0.01, draw=lambda low, high: high) for n in range(8)]
    assert [0.001, 0.002, 0.004, 0.008, 0.01, 0.01, 0.01, 0.01] == bounds
    assert 0.0 == backoff(3, draw=lambda low, high: low)
    assert BACKOFF_CAP_SECONDS == backoff(10_000, base=1.0, draw=lambda low, high: high)


class AlwaysLoses:
    """A store whose every append finds its ``seq`` taken."""

    def __init__(self, inner: AccountStore) -> None:
        self.inner = inner

    def append(self, entry: Any) -> None:
        """Refuse with a lost race."""
        raise JournalSeqTakenError(entry.org, entry.seq)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_lost_races_back_off_then_give_up(billing: Billing) -> None:
    """Every lost race sleeps a backoff; after ``max_commit_attempts`` the loop gives up."""
    slept: list[float] = []
    service = AccountService(
        AlwaysLoses(billing.accounts.store),
        billing.plans,
        compute_config(max_commit_attempts=5),
        billing.clock,
        EventRecorder(),
        sleep=slept.append,
    )
    with pytest.raises(ConcurrencyConflictError):
        service.execute(ORG, cmd.Attribute("run_1", "initial", {"default": Decimal(1)}))
    assert 5 == len(slept)
    assert all(0 <= s <= BACKOFF_CAP_SECONDS for s in slept)


def test_reserve_after_a_lost_pack_refresh_catches_up_instead_of_402(clock: FakeClock) -> None:
    """Snapshot says exhausted, journal holds the pack: reserve catches up and holds."""
    billing = Billing.in_memory(compute_config(), clock=clock)
    exhausted_with_pack(billing)
    store = flaky(billing)
    store.armed = True
    billing.extras.credit_pack(ORG, "small", "cs_1")
    assert 500 == billing.reserve(ORG, 500).units
    assert_healed_and_published_once(billing)


def test_a_key_committed_by_another_kind_is_a_conflict(billing: Billing) -> None:
    """A stored entry of another command kind under the key: 409 naming ``kind``."""
    billing.extras.credit_pack(ORG, "small", "cs_1")
    store = billing.accounts.store
    (entry,) = store.read_journal(ORG)
    forged = attrs.evolve(entry, seq=2, key="attr:run_1:initial", request=None)
    store.append(forged)
    with pytest.raises(IdempotencyConflictError) as raised:
        billing.attribute(ORG, "run_1", {"scrap": Decimal("0.010")})
    assert ("attr:run_1:initial", "kind") == (raised.value.key, raised.value.field)
