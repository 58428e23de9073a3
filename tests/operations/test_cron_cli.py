"""The ``compute-pricing cron`` commands end to end: the console script against the wire server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from compute_pricing import Billing, FakeClock, cli
from compute_pricing.memory import SequentialIds
from compute_pricing_mongo import MongoStores
from tests.conftest import START, compute_config
from tests.support.mongo_fixtures import DatabaseFactory, Db

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = str(REPO_ROOT / ".venv" / "bin" / "compute-pricing")
ORGS = [f"org_{i}" for i in range(5)]
TIMEOUT = 120
#: Journal entry type each job writes once per org.
WRITES = {
    "weekly-reset": "ResetWeek",
    "extras-expiration": "ExpireLot",
    "dunning-sweep": "ExpireSubscription",
}


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    """The test compute config as a billing.toml."""
    path = tmp_path / "billing.toml"
    path.write_text(tomli_w.dumps(compute_config().to_toml_dict()))
    return path


def seed(db: Db, *, past_due: bool = False) -> Billing:
    """Every org on starter in January 2026 with a week, a 30-day pack (and a failed payment)."""
    clock = FakeClock(START)
    billing = Billing(
        compute_config(), stores=MongoStores(db, clock=clock), clock=clock, ids=SequentialIds()
    )
    for org in ORGS:
        billing.subscribe(org, "starter")
        billing.attribute(org, "run_1", {"llm": Decimal("0.010")})
        billing.extras.credit_pack(org, "small", f"cs_{org}")
        if past_due:
            billing.payment_failed(org, f"in_{org}")
    return billing


def journal(db: Db) -> list[dict[str, Any]]:
    """Every journal document, in a stable order."""
    return list(db["account_journal"].find({}, {"_id": 0}).sort([("org", 1), ("seq", 1)]))


def writes(db: Db, entry_type: str) -> Counter[str]:
    """How many journal entries of ``entry_type`` each org has."""
    return Counter(doc["org"] for doc in db["account_journal"].find({"type": entry_type}))


def command(job: str, uri: str, db: Db, config: Path, *extra: str) -> list[str]:
    """The argv of one cron run."""
    return [SCRIPT, "cron", job, "--config", str(config), "--uri", uri, "--db", db.name, *extra]


def run(args: list[str], **env: str) -> tuple[int, dict[str, Any], str]:
    """Run the console script; return its exit code, its one JSON line and its stderr."""
    done = subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={**os.environ, **env},
        check=False,
    )
    lines = done.stdout.splitlines()
    assert 1 == len(lines), (done.stdout, done.stderr)
    return done.returncode, json.loads(lines[0]), done.stderr


def prepared(job: str, databases: DatabaseFactory) -> Db:
    """A fresh database where every org is due for ``job``."""
    db = databases()
    seed(db, past_due=job == "dunning-sweep")
    return db


@pytest.mark.parametrize("job", sorted(WRITES))
def test_due_orgs_are_processed_once_and_a_second_run_does_nothing(
    job: str, mongo_wire_uri: str, mongo_wire_databases: DatabaseFactory, config_file: Path
) -> None:
    """First run: every due org once, exit 0, one summary line; second run: nothing to do."""
    db = prepared(job, mongo_wire_databases)
    code, summary, stderr = run(command(job, mongo_wire_uri, db, config_file))
    assert (0, "") == (code, stderr)
    assert {
        "job": job,
        "processed": len(ORGS),
        "skipped": 0,
        "errors": 0,
        "dry_run": False,
        "lock": "held",
    } == {key: summary[key] for key in ("job", "processed", "skipped", "errors", "dry_run", "lock")}
    assert isinstance(summary["duration_s"], float)
    code, again, _ = run(command(job, mongo_wire_uri, db, config_file))
    assert (0, 0, 0) == (code, again["processed"], again["errors"])
    assert dict.fromkeys(ORGS, 1) == writes(db, WRITES[job])


@pytest.mark.parametrize("job", sorted(WRITES))
def test_dry_run_counts_the_work_and_writes_nothing(
    job: str, mongo_wire_uri: str, mongo_wire_databases: DatabaseFactory, config_file: Path
) -> None:
    """``--dry-run`` reports every due org and leaves the journal and snapshots unchanged."""
    db = prepared(job, mongo_wire_databases)
    before = (journal(db), list(db["accounts"].find({}, {"_id": 0}).sort("org", 1)))
    code, summary, _ = run(command(job, mongo_wire_uri, db, config_file, "--dry-run"))
    after = (journal(db), list(db["accounts"].find({}, {"_id": 0}).sort("org", 1)))
    assert (0, len(ORGS), True, "none") == (
        code,
        summary["processed"],
        summary["dry_run"],
        summary["lock"],
    )
    assert before == after
    assert [] == list(db["locks"].find()) + list(db["job_cursors"].find())


def test_two_concurrent_runs_process_each_org_once(
    mongo_wire_uri: str, mongo_wire_databases: DatabaseFactory, config_file: Path
) -> None:
    """Two copies started together: the orgs are processed once between them."""
    db = prepared("weekly-reset", mongo_wire_databases)
    args = command("weekly-reset", mongo_wire_uri, db, config_file)
    copies = [
        subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [copy.communicate(timeout=TIMEOUT) for copy in copies]
    assert [0, 0] == [copy.returncode for copy in copies], outputs
    summaries = [json.loads(out) for out, _ in outputs]
    assert len(ORGS) == sum(summary["processed"] for summary in summaries)
    assert [0, 0] == [summary["errors"] for summary in summaries]
    assert dict.fromkeys(ORGS, 1) == writes(db, "ResetWeek")


def test_a_killed_run_is_finished_by_the_next_without_doubles_or_gaps(
    mongo_wire_uri: str, mongo_wire_databases: DatabaseFactory, config_file: Path
) -> None:
    """SIGKILL after 2 orgs: the next run resumes past the cursor and does the other 3."""
    db = prepared("extras-expiration", mongo_wire_databases)
    args = command("extras-expiration", mongo_wire_uri, db, config_file, "--lock-ttl", "1")
    victim = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COMPUTE_PRICING_TEST_PAUSE_AFTER": "2"},
    )
    try:
        assert victim.stderr is not None
        assert "PAUSED after 2\n" == victim.stderr.readline()
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.communicate(timeout=TIMEOUT)
    assert -signal.SIGKILL == victim.returncode
    assert {"org_0": 1, "org_1": 1} == writes(db, "ExpireLot")
    cursor = db["job_cursors"].find_one({"_id": "extras-expiration"})
    assert cursor is not None
    assert "org_1" == cursor["after"]
    time.sleep(1.2)  # the dead holder's lease expires
    code, summary, _ = run(args)
    assert (0, "org_1", len(ORGS) - 2, 0) == (
        code,
        summary["resumed_after"],
        summary["processed"],
        summary["errors"],
    )
    assert dict.fromkeys(ORGS, 1) == writes(db, "ExpireLot")
    assert db["job_cursors"].find_one({"_id": "extras-expiration"}) is None


def test_a_run_finding_the_lease_taken_does_nothing_and_says_so(
    mongo_wire_uri: str, mongo_wire_databases: DatabaseFactory, config_file: Path
) -> None:
    """A live lease held elsewhere: exit 0, ``lock: busy``, nothing processed or written."""
    db = prepared("weekly-reset", mongo_wire_databases)
    billing = Billing(compute_config(), stores=MongoStores(db))
    with billing.stores.lock.hold("cron:weekly-reset", 600) as held:
        assert held
        code, summary, _ = run(command("weekly-reset", mongo_wire_uri, db, config_file))
    assert (0, "busy", 0) == (code, summary["lock"], summary["processed"])
    assert {} == writes(db, "ResetWeek")


def test_reconcile_reports_nothing_on_a_clean_database_and_finds_an_edited_snapshot(
    mongo_wire_uri: str, mongo_wire_databases: DatabaseFactory, config_file: Path
) -> None:
    """Clean: exit 0, no divergence. A snapshot edited behind the library's back: exit 1."""
    db = prepared("reconcile", mongo_wire_databases)
    before = journal(db)
    code, summary, _ = run(command("reconcile", mongo_wire_uri, db, config_file))
    assert (0, len(ORGS), [], "not configured") == (
        code,
        summary["processed"],
        summary["divergences"],
        summary["stripe"],
    )
    db["accounts"].update_one({"org": "org_3"}, {"$set": {"state.usage_debt": 77}})
    code, summary, _ = run(command("reconcile", mongo_wire_uri, db, config_file))
    assert 1 == code
    assert [{"org": "org_3", "fields": ["balance", "debt"]}] == summary["divergences"]
    assert before == journal(db)


def test_a_missing_uri_is_a_short_error_and_exit_2(config_file: Path) -> None:
    """No ``--uri`` and no environment variable: one line on stderr naming both, exit 2."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPUTE_PRICING_MONGODB")}
    done = subprocess.run(
        [SCRIPT, "cron", "weekly-reset", "--config", str(config_file)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=env,
        check=False,
    )
    assert (2, "") == (done.returncode, done.stdout)
    assert [
        "error: no MongoDB URI: pass --uri or set COMPUTE_PRICING_MONGODB_URI"
    ] == done.stderr.splitlines()


def test_an_unreachable_server_is_one_short_line_and_exit_2(config_file: Path) -> None:
    """Nothing listens on the port: exit 2 with the host named, no topology dump."""
    done = subprocess.run(
        [SCRIPT, "cron", "weekly-reset", "--config", str(config_file), "--timeout", "0.3"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={**os.environ, "COMPUTE_PRICING_MONGODB_URI": "mongodb://127.0.0.1:9/billing"},
        check=False,
    )
    assert (2, "") == (done.returncode, done.stdout)
    assert [
        "error: MongoDB connect failed: no MongoDB server answered at 127.0.0.1:9 within 0.3s"
    ] == done.stderr.splitlines()


def test_in_process_cron_and_admin_commands_share_the_wire_database(
    mongo_wire_uri: str,
    mongo_wire_databases: DatabaseFactory,
    config_file: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``cli.main`` runs a cron, ``admin adjust`` twice (one credit) and ``admin show``."""
    db = prepared("weekly-reset", mongo_wire_databases)
    monkeypatch.setenv("COMPUTE_PRICING_CONFIG", str(config_file))
    monkeypatch.setenv("COMPUTE_PRICING_MONGODB_URI", mongo_wire_uri)
    monkeypatch.setenv("COMPUTE_PRICING_MONGODB_DB", db.name)
    assert 0 == cli.main(["cron", "weekly-reset"])
    assert len(ORGS) == json.loads(capsys.readouterr().out)["processed"]
    adjust = ["admin", "adjust", "org_0", "-5", "--reason", "double charge", "--ref", "t_1"]
    assert 0 == cli.main(adjust)
    assert 0 == cli.main(adjust)
    outputs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(495, False), (495, True)] == [(o["balance"], o["replayed"]) for o in outputs]
    assert 0 == cli.main(["admin", "show", "org_0", "--entries", "1"])
    view = json.loads(capsys.readouterr().out)
    assert ([("adjust:t_1", "double charge")], 495) == (
        [(entry["key"], entry["outcome"]["reason"]) for entry in view["journal"]],
        view["balance"]["balance"],
    )


def test_the_database_comes_from_the_uri_or_must_be_named(
    mongo_wire_uri: str,
    mongo_wire_databases: DatabaseFactory,
    config_file: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A URI naming a database needs no ``--db``; one naming none is exit 2 saying so."""
    db = prepared("reconcile", mongo_wire_databases)
    monkeypatch.delenv("COMPUTE_PRICING_MONGODB_DB", raising=False)
    base, _, query = mongo_wire_uri.partition("/?")
    args = ["cron", "reconcile", "--config", str(config_file), "--uri"]
    assert 0 == cli.main([*args, f"{base}/{db.name}?{query}"])
    assert len(ORGS) == json.loads(capsys.readouterr().out)["processed"]
    assert 2 == cli.main([*args, mongo_wire_uri])
    assert (
        "error: db: the URI names no database: pass --db or set COMPUTE_PRICING_MONGODB_DB\n"
        == capsys.readouterr().err
    )
