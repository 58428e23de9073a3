"""The in-memory sweep index answers exactly what a scan of every stored snapshot answers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from compute_pricing.journal import Snapshot
from compute_pricing.memory import InMemoryAccountStore
from compute_pricing.state import Account, Lot, Subscription, Week
from compute_pricing.sweep_index import DueIndex

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
ORGS = [f"org_{i}" for i in range(8)]

# Instants a few hours apart over a few days: several share a UTC day, some fall on its edge.
instants = st.integers(min_value=-30, max_value=90).map(lambda h: T0 + timedelta(hours=h))
maybe = st.none() | instants


def _week(reset_at: datetime) -> Week:
    return Week(
        key="w", started_at=reset_at - timedelta(days=7), reset_at=reset_at, quota=10,
        plan_id="team", plan_version=1,
    )  # fmt: skip


def _lot(expires_at: datetime | None) -> Lot:
    return Lot(lot_id="l", kind="pack", units=5, remaining=5, created_at=T0, expires_at=expires_at)


@st.composite
def states(draw: st.DrawFn, org: str) -> Account:
    """An account with any mix of week, lots and past-due subscription."""
    reset_at = draw(maybe)
    status = draw(st.sampled_from(["active", "past_due", "unpaid", "none"]))
    return Account(
        org=org,
        subscription=Subscription(plan_id="team", status=status, past_due_since=draw(maybe)),
        week=None if reset_at is None else _week(reset_at),
        lots=tuple(_lot(e) for e in draw(st.lists(maybe, max_size=3))),
    )


@st.composite
def writes(draw: st.DrawFn) -> list[Account]:
    """One to four new states of orgs, saved together."""
    orgs = draw(st.lists(st.sampled_from(ORGS), min_size=1, max_size=4, unique=True))
    return [draw(states(org)) for org in orgs]


def _scan(
    store: InMemoryAccountStore, due: Callable[[Account], datetime | None], at: datetime
) -> list[str]:
    """The reference: every stored snapshot in org order whose instant is at or before ``at``."""
    found = []
    for org in sorted(ORGS):
        snapshot = store.read_snapshot(org)
        instant = None if snapshot is None else due(snapshot.state)
        if instant is not None and instant <= at:
            found.append(org)
    return found


def _reset(state: Account) -> datetime | None:
    return None if state.week is None else state.week.reset_at


def _expiry(state: Account) -> datetime | None:
    return state.next_expiry


def _dunning(state: Account) -> datetime | None:
    subscription = state.subscription
    return subscription.past_due_since if subscription.status == "past_due" else None


QUERIES = (
    ("snapshots_due_for_reset", "orgs_due_for_reset", _reset),
    ("snapshots_with_expiring_lots", "orgs_with_expiring_lots", _expiry),
    ("snapshots_past_due_before", "orgs_past_due_before", _dunning),
)

steps = st.one_of(
    st.tuples(st.just("save"), writes(), st.booleans()),
    st.tuples(st.just("query"), instants, st.none() | st.sampled_from(ORGS), st.integers(0, 9)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(steps, max_size=30))
def test_indexed_sweep_queries_match_a_scan_of_every_snapshot(program: list[tuple]) -> None:  # type: ignore[type-arg]
    """Saves (single, batched, refused as stale) interleaved with queries at any instant."""
    store = InMemoryAccountStore()
    versions: dict[str, int] = {}
    for step in program:
        if step[0] == "save":
            _, accounts, together = step
            snapshots = []
            for account in accounts:
                stale = versions.get(account.org, 0) > 0 and len(account.lots) == 3
                version = versions.get(account.org, 0) + (0 if stale else 1)
                versions[account.org] = version
                snapshots.append(Snapshot(org=account.org, version=version, state=account))
            if together:
                store.save_snapshots(snapshots)
            else:
                for snapshot in snapshots:
                    store.save_snapshot(snapshot)
            continue
        _, at, after, limit = step
        for with_snapshots, orgs_only, due in QUERIES:
            expected = [org for org in _scan(store, due, at) if after is None or org > after]
            expected = expected[:limit]
            pairs = getattr(store, with_snapshots)(at, after=after, limit=limit)
            assert [(org, store.read_snapshot(org)) for org in expected] == pairs
            assert expected == getattr(store, orgs_only)(at, after=after, limit=limit)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(ORGS), maybe, instants, st.integers(0, 9)), max_size=40),
)
def test_due_index_matches_a_dict_of_instants(
    moves: list[tuple[str, datetime | None, datetime, int]],
) -> None:
    """Each move then a query at any instant: the index answers as a filter over a dict."""
    index, truth = DueIndex(), {}
    for org, instant, at, limit in moves:
        index.set(org, instant)
        truth[org] = instant
        expected = sorted(o for o, i in truth.items() if i is not None and i <= at)
        assert expected[:limit] == index.due(at, after=None, limit=limit)
        past = [o for o in expected if o > org]
        assert past[:limit] == index.due(at, after=org, limit=limit)
    assert sum(1 for i in truth.values() if i is not None) == len(index)


def test_an_org_due_again_at_the_viewed_instant_is_listed_once() -> None:
    """Due, moved past the viewed instant, then due again: one entry, in org order."""
    index = DueIndex()
    index.set("org_b", T0)
    index.set("org_a", T0 + timedelta(days=3))
    assert ["org_b"] == index.due(T0, after=None, limit=10)
    index.set("org_b", T0 + timedelta(days=9))
    assert [] == index.due(T0, after=None, limit=10)
    index.set("org_b", T0 - timedelta(days=1))
    index.set("org_a", T0 - timedelta(hours=1))
    assert ["org_a", "org_b"] == index.due(T0, after=None, limit=10)


def test_instants_in_other_time_zones_are_compared_as_instants() -> None:
    """A due instant an hour east of UTC is the same instant as its UTC spelling."""
    index = DueIndex()
    east = timezone(timedelta(hours=1))
    index.set("org_a", (T0 + timedelta(hours=1)).replace(tzinfo=east))
    index.set("org_a", T0)  # the same instant: nothing moves
    assert ["org_a"] == index.due(T0.astimezone(east), after=None, limit=1)
    assert [] == index.due(T0 - timedelta(microseconds=1), after=None, limit=1)


def test_attribution_shaped_saves_keep_the_index_without_moving_it() -> None:
    """A new week with the same reset instant, the same lots and subscription: still due."""
    store = InMemoryAccountStore()
    state = Account(org="org_a", subscription=Subscription(plan_id="team"), week=_week(T0))
    store.save_snapshot(Snapshot(org="org_a", version=1, state=state))
    charged = attrs.evolve(state, week=attrs.evolve(_week(T0), used=3))
    store.save_snapshot(Snapshot(org="org_a", version=2, state=charged))
    assert ["org_a"] == store.orgs_due_for_reset(T0, after=None, limit=5)
    assert [] == store.orgs_due_for_reset(T0 - timedelta(seconds=1), after=None, limit=5)


def test_a_debit_drawing_a_lot_keeps_its_expiry_indexed() -> None:
    """A drawn lot keeps its expiry object: the org stays due at it, not before."""
    store = InMemoryAccountStore()
    lot = _lot(T0)
    state = Account(org="org_a", subscription=Subscription(plan_id="team"), lots=(lot,))
    store.save_snapshot(Snapshot(org="org_a", version=1, state=state))
    drawn = attrs.evolve(state, lots=(lot.drawn(2),))
    store.save_snapshot(Snapshot(org="org_a", version=2, state=drawn))
    assert ["org_a"] == store.orgs_with_expiring_lots(T0, after=None, limit=5)
    assert [] == store.orgs_with_expiring_lots(T0 - timedelta(seconds=1), after=None, limit=5)
    spent = attrs.evolve(state, lots=())
    store.save_snapshot(Snapshot(org="org_a", version=3, state=spent))
    assert [] == store.orgs_with_expiring_lots(T0, after=None, limit=5)
