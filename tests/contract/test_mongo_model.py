"""Stateful check: ``MongoAccountStore`` answers exactly like ``InMemoryAccountStore``.

Hypothesis drives both stores with the same appends (new seqs, taken seqs, used keys) and
snapshot saves (older, equal, newer versions), and compares every read after each step. Appends
never leave a gap: the in-memory store refuses a gap, the port only promises to refuse a taken
seq, and the commit loop never writes one.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any, cast

import mongomock
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from compute_pricing.errors import JournalKeyExistsError, JournalSeqTakenError
from compute_pricing.evolve import fold
from compute_pricing.journal import JournalEntry, Snapshot
from compute_pricing.memory import InMemoryAccountStore
from compute_pricing.ports import AccountStore
from compute_pricing.state import Account
from compute_pricing.testing.contracts import T0, rich_entries
from compute_pricing_mongo import MongoStores
from tests.support.mongo_fixtures import Db, Serialized

ORGS = ("org_a", "org_b")
KEYS = tuple(f"k{i}" for i in range(5))


def _states(org: str) -> list[Account]:
    entries = rich_entries(org)
    states, state = [Account.new(org, "free")], Account.new(org, "free")
    for entry in entries:
        state = fold(state, entry.events)
        states.append(state)
    return states


STATES = {org: _states(org) for org in ORGS}


def _append(store: AccountStore, entry: JournalEntry) -> Any:
    try:
        store.append(entry)
    except JournalKeyExistsError as exc:
        return ("key", exc.existing)
    except JournalSeqTakenError as exc:
        return ("seq", exc.org, exc.seq)
    return "ok"


class StoresAgree(RuleBasedStateMachine):
    """Both stores see the same operations; every answer must be equal."""

    def __init__(self) -> None:
        super().__init__()
        self.model: AccountStore = InMemoryAccountStore()
        db = cast(Db, Serialized(mongomock.MongoClient(), threading.RLock())["model"])
        self.mongo: AccountStore = MongoStores(db).accounts
        self.length = dict.fromkeys(ORGS, 0)

    @rule(
        org=st.sampled_from(ORGS),
        key=st.sampled_from(KEYS),
        taken=st.booleans(),
        ledger=st.integers(0, 2),
        step=st.integers(0, 6),
    )
    def append(self, org: str, key: str, taken: bool, ledger: int, step: int) -> None:
        """Append at the next seq, or at a taken one; keys repeat on purpose."""
        length = self.length[org]
        seq = max(1, length - step % max(length, 1)) if taken and length else length + 1
        entry = JournalEntry(
            org=org,
            seq=seq,
            key=key,
            type="Model",
            events=(),
            outcome={"seq": seq, "at": T0 + timedelta(seconds=seq)},
            at=T0 + timedelta(milliseconds=seq),
            ledger=ledger,
        )
        expected = _append(self.model, entry)
        assert expected == _append(self.mongo, entry)
        if expected == "ok":
            self.length[org] += 1

    @rule(org=st.sampled_from(ORGS), version=st.integers(0, 8), state=st.integers(0, 6))
    def save(self, org: str, version: int, state: int) -> None:
        """Save a snapshot at any version: only a newer one may replace the stored one."""
        snapshot = Snapshot(org, version, STATES[org][state])
        assert self.model.save_snapshot(snapshot) == self.mongo.save_snapshot(snapshot)

    @invariant()
    def reads_agree(self) -> None:
        """Snapshots, journals, keys, ledgers and cron queries read the same."""
        for org in ORGS:
            assert self.model.read_snapshot(org) == self.mongo.read_snapshot(org)
            for after in (0, 2):
                assert list(self.model.read_journal(org, after_seq=after)) == list(
                    self.mongo.read_journal(org, after_seq=after)
                )
            for key in KEYS:
                assert self.model.find_entry(org, key) == self.mongo.find_entry(org, key)
            assert list(self.model.iter_ledger(org)) == list(self.mongo.iter_ledger(org))
        for at in (T0, T0 + timedelta(days=7), T0 + timedelta(days=30)):
            for query in ("orgs_due_for_reset", "orgs_with_expiring_lots", "orgs_past_due_before"):
                assert getattr(self.model, query)(at, after=None, limit=5) == getattr(
                    self.mongo, query
                )(at, after=None, limit=5)


StoresAgree.TestCase.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
TestStoresAgree = StoresAgree.TestCase
