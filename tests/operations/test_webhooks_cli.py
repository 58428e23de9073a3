"""``compute-pricing webhooks dead-letters|replay|purge``: the console script on the wire server.

A dead letter is made in process: a handler that always fails, with one attempt allowed, on
the same database the command then opens. The handler the command replays with comes from a
``compute_pricing.webhook_handlers`` plugin: a module and its ``.dist-info`` written to a
temporary directory put on ``PYTHONPATH`` (``sys.path`` in process).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from pydantic import SecretStr

from compute_pricing import Billing, FakeClock, StripeSettings, cli
from compute_pricing.config import BillingConfig
from compute_pricing.stripe.payloads import StripeEvent
from compute_pricing_mongo import MongoStores
from tests.conftest import START, compute_config
from tests.support.mongo_fixtures import DatabaseFactory, Db

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = str(REPO_ROOT / ".venv" / "bin" / "compute-pricing")
TIMEOUT = 120
SECRET = "whsec_ops"  # noqa: S105 - a test signing secret
TYPE = "customer.updated"  # a type the library itself does not handle

#: The plugin: its handler credits 7 units to org_1 once per event, or fails when asked to.
PLUGIN = '''\
"""Test webhook handlers for the compute-pricing CLI."""
import os

from compute_pricing.keys import journal_key


def register(billing):
    """Register the test handler."""

    def handler(event):
        if os.environ.get("CP_TEST_HANDLER") == "fail":
            raise RuntimeError("still broken")
        billing.extras.adjust("org_1", 7, journal_key("replayed", event.id))
        return "applied"

    billing.webhooks.register("customer.updated", handler)
'''


def config() -> BillingConfig:
    """Compute config with a signing secret and one attempt before a dead letter."""
    return compute_config(
        stripe=StripeSettings(webhook_secret=SecretStr(SECRET)), webhook_max_attempts=1
    )


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    """:func:`config` as a billing.toml."""
    path = tmp_path / "billing.toml"
    path.write_text(tomli_w.dumps(config().to_toml_dict()))
    return path


@pytest.fixture
def plugin_dir(tmp_path: Path) -> Path:
    """A directory holding the handler plugin and the metadata naming its entry point."""
    root = tmp_path / "plugins"
    info = root / "cp_test_handlers-0.1.dist-info"
    info.mkdir(parents=True)
    (root / "cp_test_handlers.py").write_text(PLUGIN)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: cp-test-handlers\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[compute_pricing.webhook_handlers]\ntest = cp_test_handlers:register\n"
    )
    return root


def payload(event_id: str) -> bytes:
    """An event body as Stripe sends it, of a type only the test plugin handles."""
    obj = {"id": "sub_1", "customer": "cus_1", "status": "active"}
    return json.dumps(
        {"id": event_id, "type": TYPE, "created": 1_767_603_600, "data": {"object": obj}}
    ).encode()


def dead_letter(db: Db, *event_ids: str) -> Billing:
    """Deliver each event once to an always-failing handler: each becomes a dead letter."""
    import stripe  # noqa: PLC0415 - the SDK signs the test deliveries

    clock = FakeClock(START)
    billing = Billing(config(), stores=MongoStores(db, clock=clock), clock=clock)
    billing.subscribe("org_1", "starter")

    def broken(event: StripeEvent) -> str:
        raise KeyError("plan 'team'")

    billing.webhooks.register(TYPE, broken)
    for event_id in event_ids:
        body = payload(event_id)
        stamp = int(clock.now().timestamp())
        header = stripe.WebhookSignature.generate_signature_header(body.decode(), SECRET, stamp)
        assert "dead_lettered" == billing.handle_stripe_webhook(body, str(header)).result
    return billing


def run(
    args: list[str], *, plugins: Path | None = None, env: dict[str, str] | None = None
) -> tuple[int, list[Any], str]:
    """Run the console script; exit code, its stdout JSON lines, its stderr."""
    extra = dict(env or {})
    if plugins is not None:
        extra["PYTHONPATH"] = str(plugins)
    done = subprocess.run(
        [SCRIPT, *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={**os.environ, **extra},
        check=False,
    )
    return done.returncode, [json.loads(line) for line in done.stdout.splitlines()], done.stderr


def options(uri: str, db: Db, config_file: Path) -> list[str]:
    """The connection options of one database."""
    return ["--config", str(config_file), "--uri", uri, "--db", db.name]


def balance(db: Db) -> int:
    """org_1's extras balance, read through the library."""
    billing = Billing(config(), stores=MongoStores(db), clock=FakeClock(START))
    return billing.extras.balance("org_1").balance


def test_dead_letters_are_listed_one_json_line_each_oldest_first(
    mongo_wire_uri: str, mongo_wire_databases: DatabaseFactory, config_file: Path
) -> None:
    """Two dead letters: two JSON lines with type, attempts and the handler's error; exit 0."""
    db = mongo_wire_databases()
    dead_letter(db, "evt_a", "evt_b")
    code, lines, stderr = run(
        ["webhooks", "dead-letters", *options(mongo_wire_uri, db, config_file)]
    )
    assert (0, "") == (code, stderr)
    assert [
        ("evt_a", TYPE, 1, "KeyError: \"plan 'team'\"", True),
        ("evt_b", TYPE, 1, "KeyError: \"plan 'team'\"", True),
    ] == [
        (r["event_id"], r["type"], r["attempts"], r["last_error"], r["dead_letter"]) for r in lines
    ]


def test_replay_runs_the_plugin_handler_once_then_answers_duplicate(
    mongo_wire_uri: str,
    mongo_wire_databases: DatabaseFactory,
    config_file: Path,
    plugin_dir: Path,
    tmp_path: Path,
) -> None:
    """Replay: ``applied``, exit 0, the handler's credit written once; again: ``duplicate``."""
    db = mongo_wire_databases()
    dead_letter(db, "evt_a")
    event = tmp_path / "evt_a.json"
    event.write_bytes(payload("evt_a"))
    args = ["webhooks", "replay", "evt_a", "--payload", str(event)]
    args += options(mongo_wire_uri, db, config_file)
    code, lines, stderr = run(args, plugins=plugin_dir)
    assert (0, "") == (code, stderr)
    assert [{"status": 200, "event_id": "evt_a", "event_type": TYPE, "result": "applied"}] == lines
    assert 7 == balance(db)
    code, lines, _ = run(args, plugins=plugin_dir)
    assert (0, "duplicate", 7) == (code, lines[0]["result"], balance(db))
    code, lines, _ = run(["webhooks", "dead-letters", *options(mongo_wire_uri, db, config_file)])
    assert (0, []) == (code, lines)


def test_a_replay_that_fails_again_exits_1_and_stays_a_dead_letter(
    mongo_wire_uri: str,
    mongo_wire_databases: DatabaseFactory,
    config_file: Path,
    plugin_dir: Path,
) -> None:
    """The handler still fails: ``dead_lettered`` with its error, exit 1, attempts 2."""
    db = mongo_wire_databases()
    dead_letter(db, "evt_a")
    code, lines, _ = _replay_stdin(
        mongo_wire_uri, db, config_file, plugin_dir, CP_TEST_HANDLER="fail"
    )
    assert 1 == code
    assert [("dead_lettered", "RuntimeError: still broken")] == [
        (line["result"], line["error"]) for line in lines
    ]
    record = db["processed_events"].find_one({"_id": "evt_a"})
    assert record is not None
    assert (True, 2, 0) == (record["dead_letter"], record["attempts"], balance(db))


def _replay_stdin(
    uri: str, db: Db, config_file: Path, plugins: Path | None, **env: str
) -> tuple[int, list[Any], str]:
    """Replay ``evt_a`` with its payload on stdin (``--payload -``)."""
    extra = dict(env)
    if plugins is not None:
        extra["PYTHONPATH"] = str(plugins)
    done = subprocess.run(
        [SCRIPT, "webhooks", "replay", "evt_a", "--payload", "-", *options(uri, db, config_file)],
        input=payload("evt_a"),
        capture_output=True,
        timeout=TIMEOUT,
        env={**os.environ, **extra},
        check=False,
    )
    lines = [json.loads(line) for line in done.stdout.decode().splitlines()]
    return done.returncode, lines, done.stderr.decode()


def test_a_replay_with_no_handler_registered_is_ignored_and_exits_1(
    mongo_wire_uri: str, mongo_wire_databases: DatabaseFactory, config_file: Path
) -> None:
    """No plugin: ``ignored``, exit 1, a note on stderr, the dead letter untouched."""
    db = mongo_wire_databases()
    dead_letter(db, "evt_a")
    before = db["processed_events"].find_one({"_id": "evt_a"})
    code, lines, stderr = _replay_stdin(mongo_wire_uri, db, config_file, None)
    assert (1, "ignored") == (code, lines[0]["result"])
    assert "no webhook handler for 'customer.updated'" in stderr
    assert before == db["processed_events"].find_one({"_id": "evt_a"})


def test_purge_forgets_the_event_once(
    mongo_wire_uri: str, mongo_wire_databases: DatabaseFactory, config_file: Path
) -> None:
    """``purge``: exit 0 ``purged: true``; again: exit 1 ``purged: false``; nothing listed."""
    db = mongo_wire_databases()
    dead_letter(db, "evt_a", "evt_b")
    args = ["webhooks", "purge", "evt_a", *options(mongo_wire_uri, db, config_file)]
    assert (0, [{"event_id": "evt_a", "purged": True}], "") == run(args)
    assert (1, [{"event_id": "evt_a", "purged": False}], "") == run(args)
    code, lines, _ = run(["webhooks", "dead-letters", *options(mongo_wire_uri, db, config_file)])
    assert (0, ["evt_b"]) == (code, [line["event_id"] for line in lines])


def test_the_commands_read_the_environment_and_exit_2_on_connection_errors(
    mongo_wire_uri: str, mongo_wire_databases: DatabaseFactory, config_file: Path
) -> None:
    """Configured by the environment alone they work; an unreachable server is exit 2."""
    db = mongo_wire_databases()
    dead_letter(db, "evt_a")
    env = {
        "COMPUTE_PRICING_CONFIG": str(config_file),
        "COMPUTE_PRICING_MONGODB_URI": mongo_wire_uri,
        "COMPUTE_PRICING_MONGODB_DB": db.name,
    }
    code, lines, _ = run(["webhooks", "dead-letters"], env=env)
    assert (0, ["evt_a"]) == (code, [line["event_id"] for line in lines])
    env["COMPUTE_PRICING_MONGODB_URI"] = "mongodb://127.0.0.1:9/billing"
    code, lines, stderr = run(["webhooks", "purge", "evt_a", "--timeout", "0.3"], env=env)
    assert (2, []) == (code, lines)
    assert [
        "error: MongoDB connect failed: no MongoDB server answered at 127.0.0.1:9 within 0.3s"
    ] == stderr.splitlines()


# -- in process: the error paths -----------------------------------------------------------


@pytest.fixture
def wired(
    mongo_wire_uri: str,
    mongo_wire_databases: DatabaseFactory,
    config_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Db:
    """A database with the dead letter ``evt_a``, named by the environment."""
    db = mongo_wire_databases()
    dead_letter(db, "evt_a")
    monkeypatch.setenv("COMPUTE_PRICING_CONFIG", str(config_file))
    monkeypatch.setenv("COMPUTE_PRICING_MONGODB_URI", mongo_wire_uri)
    monkeypatch.setenv("COMPUTE_PRICING_MONGODB_DB", db.name)
    return db


def test_in_process_replay_with_the_plugin_applies_it(
    wired: Db,
    plugin_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``cli.main`` finds the plugin on ``sys.path``; the replay applies and lists nothing."""
    monkeypatch.syspath_prepend(str(plugin_dir))
    monkeypatch.delitem(sys.modules, "cp_test_handlers", raising=False)
    event = tmp_path / "evt_a.json"
    event.write_bytes(payload("evt_a"))
    assert 0 == cli.main(["webhooks", "replay", "evt_a", "--payload", str(event)])
    assert "applied" == json.loads(capsys.readouterr().out)["result"]
    assert 0 == cli.main(["webhooks", "dead-letters"])
    assert ("", 7) == (capsys.readouterr().out, balance(wired))


def test_a_handler_failing_short_of_the_limit_is_reported_as_failed(
    wired: Db,
    plugin_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """With more attempts allowed the failed replay is ``failed`` with attempts and error."""
    path = tmp_path / "more.toml"
    path.write_text(tomli_w.dumps({**config().to_toml_dict(), "webhook_max_attempts": 5}))
    monkeypatch.setenv("COMPUTE_PRICING_CONFIG", str(path))
    monkeypatch.setenv("CP_TEST_HANDLER", "fail")
    monkeypatch.syspath_prepend(str(plugin_dir))
    monkeypatch.delitem(sys.modules, "cp_test_handlers", raising=False)
    event = tmp_path / "evt_a.json"
    event.write_bytes(payload("evt_a"))
    assert 1 == cli.main(["webhooks", "replay", "evt_a", "--payload", str(event)])
    assert {
        "event_id": "evt_a",
        "result": "failed",
        "attempts": 2,
        "error": "RuntimeError: still broken",
    } == json.loads(capsys.readouterr().out)


def test_a_bad_payload_or_plugin_is_exit_2_and_writes_nothing(
    wired: Db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Another event's JSON, a missing file, a limit of 0, a broken plugin: exit 2 each."""
    other = tmp_path / "evt_b.json"
    other.write_bytes(payload("evt_b"))
    before = wired["processed_events"].find_one({"_id": "evt_a"})
    assert 2 == cli.main(["webhooks", "replay", "evt_a", "--payload", str(other)])
    assert 2 == cli.main(["webhooks", "replay", "evt_a", "--payload", str(tmp_path / "nope")])
    assert 2 == cli.main(["webhooks", "dead-letters", "--limit", "0"])
    broken = tmp_path / "broken"
    info = broken / "cp_broken-0.1.dist-info"
    info.mkdir(parents=True)
    (broken / "cp_broken.py").write_text("def register(billing):\n    raise RuntimeError('no')\n")
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: cp-broken\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[compute_pricing.webhook_handlers]\nbroken = cp_broken:register\n"
    )
    monkeypatch.syspath_prepend(str(broken))
    assert 2 == cli.main(["webhooks", "replay", "evt_a", "--payload", str(other)])
    assert [
        "error: payload: webhook payload invalid at id: is 'evt_b', not the event 'evt_a'",
        f"error: {tmp_path / 'nope'}: No such file or directory",
        "error: --limit must be >= 1",
        "error: webhook handlers 'broken' failed to register: RuntimeError: no",
    ] == capsys.readouterr().err.splitlines()
    assert before == wired["processed_events"].find_one({"_id": "evt_a"})
