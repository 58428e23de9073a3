"""Edited documents in MongoDB are refused by name, never read as a guessed value.

Each test writes a real account (subscribed, a pack credited, a run charged), edits one stored
document the way an operator, a script or a bad migration might, and reads it back through the
adapter: the read raises ``CorruptStateError`` naming the org, the document and the dotted
field. Runs on mongomock and over the wire (mongoeco).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from compute_pricing import Billing
from compute_pricing.errors import CorruptStateError
from compute_pricing.memory import SequentialIds
from compute_pricing.testing.contracts import T0, contract_config
from compute_pricing.timekeeping import FakeClock
from compute_pricing_mongo import MongoStores
from compute_pricing_mongo._documents import snapshot_from_document
from tests.support.mongo_fixtures import DatabaseFactory, Db, MongomockTier, WireTier

ORG = "org_a"


@dataclass(frozen=True)
class Edit:
    """One edit of a stored document and the field the read must name."""

    name: str
    collection: str
    where: dict[str, Any]
    update: dict[str, Any]
    document: str
    field: str


SNAPSHOT_EDITS = [
    Edit(
        "usage_debt removed",
        "accounts",
        {},
        {"$unset": {"state.usage_debt": ""}},
        "snapshot",
        "state.usage_debt",
    ),
    Edit("lots removed", "accounts", {}, {"$unset": {"state.lots": ""}}, "snapshot", "state.lots"),
    Edit(
        "used 12.9",
        "accounts",
        {},
        {"$set": {"state.week.used": 12.9}},
        "snapshot",
        "state.week.used",
    ),
    Edit(
        "quota as text",
        "accounts",
        {},
        {"$set": {"state.week.quota": "25"}},
        "snapshot",
        "state.week.quota",
    ),
    Edit(
        "bool as text",
        "accounts",
        {},
        {"$set": {"state.signup_granted": "false"}},
        "snapshot",
        "state.signup_granted",
    ),
    Edit(
        "bool for an int",
        "accounts",
        {},
        {"$set": {"state.lots.0.remaining": True}},
        "snapshot",
        "state.lots.0.remaining",
    ),
    Edit("version removed", "accounts", {}, {"$unset": {"version": ""}}, "snapshot", "version"),
    Edit("version as text", "accounts", {}, {"$set": {"version": "3"}}, "snapshot", "version"),
    Edit("version negative", "accounts", {}, {"$set": {"version": -1}}, "snapshot", "version"),
    Edit("state removed", "accounts", {}, {"$unset": {"state": ""}}, "snapshot", "state"),
    Edit(
        "state of another org",
        "accounts",
        {},
        {"$set": {"state.org": "org_b"}},
        "snapshot",
        "state.org",
    ),
]
"""Edits of the account snapshot: each read by ``check_quota`` (the gate's one read)."""

JOURNAL_EDITS = [
    Edit(
        "unknown event type",
        "account_journal",
        {"seq": 3},
        {"$set": {"events.0.type": "Bogus"}},
        "journal",
        "events.0.type",
    ),
    Edit(
        "charged units 12.9",
        "account_journal",
        {"seq": 3},
        {"$set": {"events.1.data.units": 12.9}},
        "journal",
        "events.1.data.units",
    ),
    Edit(
        "ledger as text",
        "account_journal",
        {"seq": 3},
        {"$set": {"ledger": "1"}},
        "journal",
        "ledger",
    ),
    Edit(
        "outcome removed",
        "account_journal",
        {"seq": 3},
        {"$unset": {"outcome": ""}},
        "journal",
        "outcome",
    ),
]
"""Edits of a journal entry (the attribution at seq 3): each read by ``read_journal``."""


def _account(db: Db) -> Billing:
    """A subscribed org with a pack and one charged run (journal seqs 1..n, snapshot at n)."""
    clock = FakeClock(T0)
    billing = Billing(
        contract_config(), stores=MongoStores(db, clock=clock), clock=clock, ids=SequentialIds()
    )
    billing.subscribe(ORG, "team")
    billing.extras.credit_pack(ORG, "pack", "cs_1")
    billing.attribute(ORG, "run_1", {"gpu": Decimal("0.100")})
    clock.advance(timedelta(seconds=1))
    return billing


def _edit(db: Db, edit: Edit) -> None:
    result = db[edit.collection].update_one({"org": ORG, **edit.where}, edit.update)
    assert 1 == result.modified_count


def _assert_names(error: CorruptStateError, document: str, field: str) -> None:
    assert (ORG, document, field) == (error.org, error.document, error.field)
    assert 500 == error.status


class CorruptionSuite:
    """Every listed corruption raises ``CorruptStateError`` naming org, document and field."""

    def test_the_written_documents_read_back_cleanly(self, databases: DatabaseFactory) -> None:
        """Control: without an edit the gate and the journal read as written."""
        billing = _account(databases())
        assert 1_250 == billing.check_quota(ORG).remaining  # 750 of quota, 500 of extras
        assert [1, 2, 3] == [e.seq for e in billing.stores.accounts.read_journal(ORG)]

    @pytest.mark.parametrize("edit", SNAPSHOT_EDITS, ids=lambda edit: edit.name)
    def test_an_edited_snapshot_is_refused_by_field(
        self, databases: DatabaseFactory, edit: Edit
    ) -> None:
        """The gate's snapshot read refuses the edited field instead of guessing a value."""
        db = databases()
        billing = _account(db)
        _edit(db, edit)
        with pytest.raises(CorruptStateError) as raised:
            billing.check_quota(ORG)
        _assert_names(raised.value, edit.document, edit.field)

    @pytest.mark.parametrize("edit", JOURNAL_EDITS, ids=lambda edit: edit.name)
    def test_an_edited_journal_entry_is_refused_by_field(
        self, databases: DatabaseFactory, edit: Edit
    ) -> None:
        """Reading the journal (catch-up, ledger, replay) refuses the edited entry."""
        db = databases()
        billing = _account(db)
        store = billing.stores.accounts
        key = store.read_journal(ORG)[2].key
        _edit(db, edit)
        with pytest.raises(CorruptStateError) as by_read:
            store.read_journal(ORG)
        with pytest.raises(CorruptStateError) as by_key:
            store.find_entry(ORG, key)
        _assert_names(by_read.value, edit.document, edit.field)
        _assert_names(by_key.value, edit.document, edit.field)

    def test_a_journal_gap_is_refused_not_skipped(self, databases: DatabaseFactory) -> None:
        """A deleted entry after the snapshot's version is a gap: its charge is never skipped."""
        db = databases()
        billing = _account(db)
        assert 1 == db["account_journal"].delete_one({"org": ORG, "seq": 2}).deleted_count
        with pytest.raises(CorruptStateError) as from_start:
            billing.stores.accounts.read_journal(ORG)
        with pytest.raises(CorruptStateError) as after_snapshot:
            billing.stores.accounts.read_journal(ORG, after_seq=1)
        _assert_names(from_start.value, "journal", "seq")
        _assert_names(after_snapshot.value, "journal", "seq")
        assert "expected seq 2 after 1, found 3" == after_snapshot.value.reason

    def test_an_edited_plan_is_refused_by_field(self, databases: DatabaseFactory) -> None:
        """A plan whose quota became text is refused naming the plan and the field."""
        db = databases()
        billing = _account(db)
        db["plans"].update_one({"plan_id": "team"}, {"$set": {"compute_quota": "1000"}})
        assert billing.stores.plans is not None
        with pytest.raises(CorruptStateError) as raised:
            billing.stores.plans.get("team", 1)
        assert ("plan", "compute_quota") == (raised.value.document, raised.value.field)
        assert raised.value.reason.startswith("'team v1': expected an integer")

    def test_an_edited_processed_event_is_refused_by_field(
        self, databases: DatabaseFactory
    ) -> None:
        """A webhook claim whose ``done`` flag became text is refused, not read as true."""
        db = databases()
        store = _account(db).stores.processed_events
        assert "claimed" == store.claim("evt_1", "invoice.paid", T0)
        store.mark_done("evt_1", T0)
        db["processed_events"].update_one({"_id": "evt_1"}, {"$set": {"done": "false"}})
        with pytest.raises(CorruptStateError) as raised:
            store.claim("evt_1", "invoice.paid", T0)
        assert ("processed_event", "done") == (raised.value.document, raised.value.field)


class TestMongomockCorruption(MongomockTier, CorruptionSuite):
    """Edited documents on mongomock."""


class TestWireCorruption(WireTier, CorruptionSuite):
    """Edited documents over the wire (mongoeco)."""


def test_a_snapshot_document_of_another_org_is_refused() -> None:
    """A snapshot document whose top-level org is not the one read names ``org``."""
    document = {"org": "org_b", "version": 1, "state": {}}
    with pytest.raises(CorruptStateError) as raised:
        snapshot_from_document(document, ORG)
    assert (ORG, "snapshot", "org", "holds 'org_b'") == (
        raised.value.org,
        raised.value.document,
        raised.value.field,
        raised.value.reason,
    )
