"""Migrations on a fixture dump of legacy-mode documents: plan, apply, re-apply (a no-op).

``tests/fixtures/legacy_mongo_dump.json`` holds what a pre-compute, legacy-mode release left
in MongoDB: account documents with a subscription and legacy counters only, and webhook
records without a dead-letter flag. The same tests run on mongomock, the wire server and (when
configured) a real MongoDB; the ``compute-pricing migrate`` command is tested over the wire.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from bson import json_util

from compute_pricing import (
    Billing,
    BillingConfig,
    FakeClock,
    PackSettings,
    PlanSettings,
    QuotaExceededError,
)
from compute_pricing.cli import main as cli_main
from compute_pricing.journal import Snapshot
from compute_pricing.state import Account, LegacyUsage, Subscription
from compute_pricing_mongo import (
    MIGRATIONS,
    MigrationRunner,
    MongoAccountStore,
    MongoProcessedEventStore,
    MongoStores,
)
from compute_pricing_mongo.cli import URI_ENV_VAR, register
from compute_pricing_mongo.migrations import upgraded_key
from tests.support.mongo_fixtures import DatabaseFactory, Db, MongomockTier, RealTier, WireTier

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "legacy_mongo_dump.json"
MARCH = datetime(2026, 3, 25, 12, 0, tzinfo=UTC)
COLLECTIONS = ("accounts", "processed_events", "migrations")


def load_legacy(db: Db) -> None:
    """Insert the legacy dump into ``db``; the recent webhook record is dated yesterday."""
    dump: dict[str, Any] = json_util.loads(FIXTURE.read_text())
    for name, documents in dump.items():
        if not name.startswith("_"):
            db[name].insert_many(documents)
    yesterday = datetime.now(UTC) - timedelta(days=1)
    db["processed_events"].update_one(
        {"_id": "evt_legacy_2"}, {"$set": {"processed_at": yesterday}}
    )


def contents(db: Db) -> dict[str, Any]:
    """Every document and index name of the migrated collections, for comparisons."""
    return {
        name: (
            sorted(db[name].find(), key=lambda doc: str(doc["_id"])),
            sorted(index["name"] for index in db[name].list_indexes()),
        )
        for name in COLLECTIONS
    }


def legacy_config() -> BillingConfig:
    """Legacy mode: free allows 3 documents a month, team 100."""
    return BillingConfig(
        plans=(
            PlanSettings(plan_id="free", limits={"documents.create": 3}),
            PlanSettings(plan_id="team", compute_quota=1_000, limits={"documents.create": 100}),
        )
    )


class MigrationSuite:
    """The migrations keep their promises on one tier (mixed with a tier's ``databases``)."""

    @pytest.fixture
    def legacy(self, databases: DatabaseFactory) -> Db:
        """A fresh database holding the legacy dump."""
        db = databases()
        load_legacy(db)
        return db

    def test_dry_run_plans_every_change_and_writes_nothing(self, legacy: Db) -> None:
        """The plan lists each migration with its counts; the database is left as it was."""
        before = contents(legacy)
        reports = MigrationRunner(legacy).plan()
        counts = {report.name: dict(report.counts) for report in reports}
        assert [m.name for m in MIGRATIONS] == [report.name for report in reports]
        assert 3 == counts["add-compute-fields"]["accounts.version = 0 where missing"]
        assert (
            1
            == counts["add-compute-fields"][
                "accounts.past_due_since from state.subscription.past_due_since where missing"
            ]
        )
        assert (
            3
            == counts["add-plan-version-and-period-start"][
                "accounts.state.subscription.plan_version = None where missing"
            ]
        )
        assert (
            2
            == counts["add-processed-event-fields"][
                "processed_events.dead_letter = False where missing"
            ]
        )
        assert 1 == counts["create-indexes"]["create index account_journal.org_seq_unique"]
        assert before == contents(legacy)

    def test_run_applies_what_the_plan_said_and_records_it(self, legacy: Db) -> None:
        """A run changes what the dry run counted and records every migration."""
        runner = MigrationRunner(legacy, clock=FakeClock(MARCH))
        planned = [(report.name, report.counts) for report in runner.plan()]
        applied = runner.run()
        assert planned == [(report.name, report.counts) for report in applied]
        assert {m.name for m in MIGRATIONS} == {doc["_id"] for doc in legacy["migrations"].find()}
        assert [] == runner.plan()

    def test_a_second_run_changes_nothing(self, legacy: Db) -> None:
        """Re-running, and even forcing every change again, leaves every document as it was."""
        runner = MigrationRunner(legacy)
        runner.run()
        after = contents(legacy)
        assert [] == runner.run()
        forced = [change.apply(legacy, MARCH) for m in MIGRATIONS for change in m.changes()]
        assert [0] * len(forced) == forced
        assert after == contents(legacy)

    def test_migrated_accounts_read_back_with_the_compute_defaults(self, legacy: Db) -> None:
        """A legacy account reads back as version 0 with its counters and no compute state."""
        MigrationRunner(legacy).run()
        expected = Account(
            org="org_acme",
            subscription=Subscription(plan_id="team", plan_version=None, status="active"),
            legacy=LegacyUsage(
                period="2026-03", counts={"documents.create": 42, "documents.export": 3}
            ),
        )
        assert Snapshot("org_acme", 0, expected) == MongoAccountStore(legacy).read_snapshot(
            "org_acme"
        )
        stored = legacy["accounts"].find_one({"_id": "org_acme"})
        assert stored is not None
        assert {
            "plan_id": "team",
            "status": "active",
            "past_due_since": None,
            "plan_version": None,
            "current_period_start": None,
        } == stored["state"]["subscription"]

    def test_a_legacy_subscription_without_status_reads_back_as_none(self, legacy: Db) -> None:
        """Strict decoding finds every subscription field: the migration fills the missing ones."""
        MigrationRunner(legacy).run()
        stores = MongoAccountStore(legacy)
        found = {org: stores.read_snapshot(org) for org in ("org_acme", "org_beta", "org_late")}
        assert {"org_acme": "active", "org_beta": "none", "org_late": "past_due"} == {
            org: snapshot.state.subscription.status if snapshot else None
            for org, snapshot in found.items()
        }

    def test_the_dunning_sweep_finds_a_migrated_past_due_account(self, legacy: Db) -> None:
        """The derived top-level fields let the cron query find a legacy past-due org."""
        store = MongoAccountStore(legacy)
        since = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
        assert [] == store.orgs_past_due_before(since, after=None, limit=10)
        MigrationRunner(legacy).run()
        assert ["org_late"] == store.orgs_past_due_before(since, after=None, limit=10)

    def test_legacy_mode_carries_on_after_the_migration(self, legacy: Db) -> None:
        """Legacy counters keep counting and gating on migrated accounts."""
        MigrationRunner(legacy).run()
        clock = FakeClock(MARCH)
        billing = Billing(legacy_config(), stores=MongoStores(legacy, clock=clock), clock=clock)
        assert 43 == billing.record_usage("org_acme", "documents", "create")
        assert 3 == billing.check_quota("org_beta", "documents", "create").remaining
        with pytest.raises(QuotaExceededError) as caught:
            billing.check_quota("org_late", "documents", "create")
        assert (3, 7) == (caught.value.limit, caught.value.current)

    def test_compute_mode_starts_on_a_migrated_account(self, legacy: Db) -> None:
        """Turning compute mode on opens a first week on the account's plan."""
        MigrationRunner(legacy).run()
        clock = FakeClock(MARCH)
        config = legacy_config().model_copy(update={"compute_mode": True})
        billing = Billing(config, stores=MongoStores(legacy, clock=clock), clock=clock)
        result = billing.attribute("org_acme", "run_1", {"llm": Decimal("0.100")})
        assert (100, 100, 900) == (
            result.units,
            result.from_quota,
            billing.check_quota("org_acme").remaining,
        )
        snapshot = MongoAccountStore(legacy).read_snapshot("org_acme")
        assert snapshot is not None
        assert snapshot.state.week is not None
        assert (1, 1, 42) == (
            snapshot.version,
            snapshot.state.week.plan_version,
            snapshot.state.legacy.counts["documents.create"],
        )

    def test_webhook_records_become_ttl_covered_claims(self, legacy: Db) -> None:
        """Legacy webhook records gain the flags; a recent one still answers ``done``."""
        MigrationRunner(legacy).run()
        recent = legacy["processed_events"].find_one({"_id": "evt_legacy_2"})
        assert recent is not None
        assert (False, True, 0, "evt_legacy_2", recent["processed_at"]) == (
            recent["dead_letter"],
            recent["done"],
            recent["attempts"],
            recent["event_id"],
            recent["touched_at"],
        )
        uncovered = legacy["processed_events"].count_documents({"dead_letter": {"$ne": False}})
        assert 0 == uncovered
        events = MongoProcessedEventStore(legacy)
        assert "done" == events.claim(
            "evt_legacy_2", "customer.subscription.updated", datetime.now(UTC)
        )

    def test_operations_committed_under_old_keys_still_replay(self, legacy: Db) -> None:
        """After ``namespace-journal-keys``, replaying a pre-upgrade operation charges nothing."""
        MigrationRunner(legacy).run()
        clock = FakeClock(MARCH)
        config = legacy_config().model_copy(
            update={
                "compute_mode": True,
                "packs": (PackSettings(pack_id="small", units=500, price_cents=900),),
            }
        )
        billing = Billing(config, stores=MongoStores(legacy, clock=clock), clock=clock)
        billing.attribute("org_acme", "run:1", {"llm": Decimal("0.100")}, step="review:initial")
        billing.attribute("org_acme", "run_0", {}, step="initial")
        billing.extras.credit_pack("org_acme", "small", "cs:1")
        billing.extras.debit("org_acme", 7, "d:1")
        old_keys = {
            "Attribute": ["run:1:review:initial", "run_0:initial"],
            "CreditPack": ["pack:cs:1"],
            "Debit": ["debit:d:1"],
        }
        journal = legacy["account_journal"]
        # Write them back as the previous release stored them: raw keys and no request.
        for kind, keys in old_keys.items():
            documents = list(journal.find({"org": "org_acme", "type": kind}).sort("seq", 1))
            for document, key in zip(documents, keys, strict=True):
                journal.update_one(
                    {"_id": document["_id"]}, {"$set": {"key": key}, "$unset": {"request": ""}}
                )
        legacy["migrations"].delete_one({"_id": "namespace-journal-keys"})
        (report,) = MigrationRunner(legacy).run()
        assert ("namespace-journal-keys", 4) == (report.name, report.counts[0][1])
        rekeyed = {
            doc["legacy_key"]: doc["key"] for doc in journal.find({"legacy_key": {"$exists": True}})
        }
        assert {
            "run:1:review:initial": "attr:run%3A1:review%3Ainitial",
            "run_0:initial": "attr:run_0:initial",
            "pack:cs:1": "pack:cs%3A1",
            "debit:d:1": "debit:d%3A1",
        } == rekeyed
        length = journal.count_documents({"org": "org_acme"})
        before = billing.extras.balance("org_acme")
        again = billing.attribute(
            "org_acme", "run:1", {"llm": Decimal("0.100")}, step="review:initial"
        )
        assert (True, 100) == (again.replayed, again.units)
        assert True is billing.attribute("org_acme", "run_0", {}, step="initial").replayed
        assert True is billing.extras.credit_pack("org_acme", "small", "cs:1").replayed
        assert True is billing.extras.debit("org_acme", 7, "d:1").replayed
        assert length == journal.count_documents({"org": "org_acme"})
        assert before == billing.extras.balance("org_acme")
        assert 100 == billing.usage("org_acme")["compute_used"]


class TestMongomockMigrations(MongomockTier, MigrationSuite):
    """Migrations on mongomock."""


class TestWireMigrations(WireTier, MigrationSuite):
    """Migrations over the wire (mongoeco)."""


class TestRealMigrations(RealTier, MigrationSuite):
    """Migrations on a real MongoDB."""


class TestMigrateCommand:
    """``compute-pricing migrate`` through the core CLI, against the wire server."""

    def test_dry_run_then_run_then_rerun(
        self,
        mongo_wire_uri: str,
        mongo_wire_databases: DatabaseFactory,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """The dry run prints the plan and writes nothing; the run applies; a rerun is a no-op."""
        db = mongo_wire_databases()
        load_legacy(db)
        args = ["migrate", "--uri", mongo_wire_uri, "--db", db.name]
        assert 0 == cli_main([*args, "--dry-run"])
        planned = capsys.readouterr().out
        assert f"dry run on database '{db.name}': {len(MIGRATIONS)} pending migration(s)" in planned
        assert "    accounts.version = 0 where missing: 3 to change" in planned
        assert "migrations" not in db.list_collection_names()
        assert 0 == cli_main(args)
        applied = capsys.readouterr().out
        assert "    accounts.version = 0 where missing: 3 changed" in applied
        assert 0 == cli_main(args)
        assert (
            f"database '{db.name}': nothing to do, every migration is applied\n"
            == capsys.readouterr().out
        )

    def test_uri_and_database_from_the_environment(
        self,
        mongo_wire_uri: str,
        mongo_wire_databases: DatabaseFactory,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """Without flags the URI comes from the environment and the database from the URI."""
        db = mongo_wire_databases()
        monkeypatch.setenv(URI_ENV_VAR, mongo_wire_uri.replace("/?", f"/{db.name}?"))
        assert 0 == cli_main(["migrate"])
        applied = f"database '{db.name}': applied {len(MIGRATIONS)} migration(s)"
        assert applied in capsys.readouterr().out
        assert len(MIGRATIONS) == db["migrations"].count_documents({})

    def test_missing_uri_is_a_usage_error(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """With neither --uri nor the environment variable the command exits 2 and says why."""
        monkeypatch.delenv(URI_ENV_VAR, raising=False)
        assert 2 == cli_main(["migrate", "--db", "x"])
        assert f"pass --uri or set {URI_ENV_VAR}" in capsys.readouterr().err

    def test_unreachable_server_fails_with_a_store_error(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A server that does not answer is reported as STORE_UNAVAILABLE (exit 1)."""
        uri = "mongodb://127.0.0.1:9/?directConnection=true"
        assert 1 == cli_main(["migrate", "--uri", uri, "--db", "x", "--timeout", "0.2"])
        assert "error: STORE_UNAVAILABLE" in capsys.readouterr().err

    def test_a_uri_without_database_needs_db(self, capsys: pytest.CaptureFixture[str]) -> None:
        """Without --db and without a database in the URI the command fails and says so."""
        uri = "mongodb://127.0.0.1:9/?directConnection=true"
        assert 1 == cli_main(["migrate", "--uri", uri, "--timeout", "0.2"])
        assert "choose the database" in capsys.readouterr().err

    def test_the_entry_point_registers_migrate(self) -> None:
        """The package declares ``migrate`` in the ``compute_pricing.commands`` group."""
        found = {ep.name: ep for ep in metadata.entry_points(group="compute_pricing.commands")}
        assert register is found["migrate"].load()


def test_upgraded_key_keeps_keys_it_does_not_know() -> None:
    """Keys of other kinds, or not in their kind's old shape, are left as they are."""
    assert "stripe:evt_1" == upgraded_key("HandleWebhook", "stripe:evt_1", [])
    assert "odd:x" == upgraded_key("Debit", "odd:x", [])
    assert "norun" == upgraded_key("Attribute", "norun", [])
    assert "dunning:2026-03-01T08%3A00" == upgraded_key(
        "ExpireSubscription", "dunning:2026-03-01T08:00", []
    )
