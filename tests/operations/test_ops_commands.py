"""Operator commands in process: config check, cron plumbing, reconcile, admin, logging."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
import tomli_w

from compute_pricing import Billing, FakeClock, cli, opscli
from compute_pricing.errors import (
    ComputeExhaustedError,
    IdempotencyConflictError,
    InvalidInputError,
    PlanNotConfiguredError,
)
from compute_pricing.events import AccountDiverged, CronRunFinished
from compute_pricing.jobs import run_job
from compute_pricing.journal import Snapshot
from compute_pricing.memory import EventRecorder
from compute_pricing.reconcile import reconcile_account
from tests.conftest import START, compute_config

GOOD_TOML = """\
compute_mode = true

[[plans]]
plan_id = "free"

[[plans]]
plan_id = "starter"
compute_quota = 1000
"""


def write(tmp_path: Path, text: str) -> Path:
    """A billing.toml holding ``text``."""
    path = tmp_path / "billing.toml"
    path.write_text(text)
    return path


def seeded(orgs: int = 3) -> tuple[Billing, FakeClock]:
    """In-memory billing with ``orgs`` starter orgs that each have a week and a 30-day pack."""
    clock = FakeClock(START)
    billing = Billing.in_memory(compute_config(), clock=clock)
    for i in range(orgs):
        billing.subscribe(f"org_{i}", "starter")
        billing.attribute(f"org_{i}", "run_1", {"default": Decimal("0.010")})
        billing.extras.credit_pack(f"org_{i}", "small", f"cs_{i}")
    return billing, clock


# -- config check ------------------------------------------------------------------------------


def test_config_check_accepts_a_good_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A valid file: exit 0 and a one-line ``ok`` naming what it holds."""
    path = write(tmp_path, GOOD_TOML)
    assert 0 == cli.main(["config", "check", str(path)])
    assert f"{path}: ok (2 plan(s), 0 pack(s), compute_mode=on)\n" == capsys.readouterr().out


def test_config_check_names_a_typoed_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A misspelt key: exit 2, the error names the dotted field."""
    path = write(tmp_path, GOOD_TOML.replace("compute_quota", "compute_qouta"))
    assert 2 == cli.main(["config", "check", str(path)])
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: invalid field plans.1.compute_qouta: ")


def test_config_check_names_the_line_and_column_of_a_syntax_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Broken TOML: exit 2, the error gives the line and column."""
    path = write(tmp_path, GOOD_TOML.replace('plan_id = "free"', "plan_id = free"))
    assert 2 == cli.main(["config", "check", str(path)])
    err = capsys.readouterr().err
    assert f"error: {path}: TOML syntax error at line 4, column 11: Invalid value\n" == err


def test_config_check_reports_a_missing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A path that does not exist: exit 2, ``no such file``."""
    path = tmp_path / "nope.toml"
    assert 2 == cli.main(["config", "check", str(path)])
    assert f"error: {path}: no such file\n" == capsys.readouterr().err


def test_cron_needs_a_config(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No ``--config`` and no ``COMPUTE_PRICING_CONFIG``: exit 2 naming both."""
    monkeypatch.delenv(opscli.CONFIG_ENV_VAR, raising=False)
    assert 2 == cli.main(["cron", "weekly-reset", "--uri", "mongodb://127.0.0.1:9/x"])
    assert (
        "error: no configuration: pass --config or set COMPUTE_PRICING_CONFIG\n"
        == capsys.readouterr().err
    )


def test_cron_rejects_negative_knobs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--jitter-seconds -1`` and ``--lock-ttl 0`` are usage errors (exit 2)."""
    assert 2 == cli.main(["cron", "reconcile", "--jitter-seconds", "-1"])
    assert 2 == cli.main(["cron", "reconcile", "--lock-ttl", "0"])
    assert [
        "error: --jitter-seconds must be >= 0",
        "error: --lock-ttl must be >= 1",
    ] == capsys.readouterr().err.splitlines()


def test_an_unknown_backend_is_a_configuration_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--backend nope``: exit 2 naming the entry-point group."""
    path = write(tmp_path, GOOD_TOML)
    args = ["admin", "show", "org_1", "--config", str(path), "--uri", "mongodb://h/db"]
    assert 2 == cli.main([*args, "--backend", "nope"])
    assert "no store back end 'nope' is installed" in capsys.readouterr().err


def test_a_bad_uri_is_a_configuration_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A URI that is not a MongoDB URI: exit 2, field ``uri``, the URI itself not echoed."""
    path = write(tmp_path, GOOD_TOML)
    assert 2 == cli.main(["cron", "reconcile", "--config", str(path), "--uri", "http://secret@h"])
    err = capsys.readouterr().err
    assert err.startswith("error: uri: not a MongoDB URI")
    assert "secret" not in err


def test_cron_with_jitter_sleeps_before_starting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--jitter-seconds 5`` sleeps a random 0..5 s before connecting."""
    slept: list[float] = []
    monkeypatch.setattr(opscli, "jitter_sleep", slept.append)
    monkeypatch.delenv(opscli.URI_ENV_VAR, raising=False)
    path = write(tmp_path, GOOD_TOML)
    assert 2 == cli.main(["cron", "reconcile", "--config", str(path), "--jitter-seconds", "5"])
    assert 1 == len(slept)
    assert 0 <= slept[0] <= 5
    assert "no MongoDB URI" in capsys.readouterr().err


# -- the runner on the in-memory back end ------------------------------------------------------


def test_dry_run_on_memory_counts_and_writes_nothing() -> None:
    """A dry run reports the due orgs; the journal is unchanged and a real run still does all."""
    billing, clock = seeded()
    clock.advance(timedelta(days=40))
    store = billing.stores.accounts
    before = [store.read_journal(f"org_{i}") for i in range(3)]
    for job in ("weekly-reset", "extras-expiration"):
        summary = run_job(billing, job, dry_run=True)
        assert (3, True, "none") == (summary.processed, summary.dry_run, summary.lock)
    assert before == [store.read_journal(f"org_{i}") for i in range(3)]
    assert 3 == run_job(billing, "weekly-reset").processed


def test_a_failing_org_is_counted_and_makes_exit_code_1(caplog: pytest.LogCaptureFixture) -> None:
    """One org whose command raises: the others are done, ``errors`` 1, exit code 1, logged."""
    billing, clock = seeded()
    clock.advance(timedelta(days=40))
    execute = billing.accounts.execute

    def flaky(org: str, command: Any) -> Any:
        if org == "org_1":
            raise PlanNotConfiguredError("starter")
        return execute(org, command)

    billing.accounts.execute = flaky  # type: ignore[method-assign]
    with caplog.at_level(logging.INFO, logger="compute_pricing.jobs"):
        summary = run_job(billing, "weekly-reset")
    assert (2, 1, 1) == (summary.processed, summary.errors, summary.exit_code)
    assert ["org_1"] == list(summary.failed)
    finished = [r for r in caplog.records if r.getMessage().startswith("cron weekly-reset fin")]
    assert [(2, 1, False)] == [
        (r.__dict__["processed"], r.__dict__["errors"], r.__dict__["dry_run"]) for r in finished
    ]
    assert ["org_1"] == [r.__dict__["org"] for r in caplog.records if r.levelno == logging.WARNING]


def test_a_run_publishes_cron_run_finished() -> None:
    """Each run ends with one ``cron.run_finished`` event carrying the summary's figures."""
    billing, clock = seeded(2)
    clock.advance(timedelta(days=40))
    run_job(billing, "extras-expiration")
    assert isinstance(billing.events, EventRecorder)
    events = [e for e in billing.events.published if isinstance(e, CronRunFinished)]
    assert [("extras-expiration", 2, 0, 0, False)] == [
        (e.job, e.processed, e.skipped, e.errors, e.dry_run) for e in events
    ]


def test_a_resumed_run_starts_past_the_cursor_and_clears_it() -> None:
    """A saved cursor makes the next run start after it; the cursor is gone afterwards."""
    from compute_pricing.ports import JobCursor  # noqa: PLC0415 - local to this test

    billing, clock = seeded()
    clock.advance(timedelta(days=40))
    cursors = billing.stores.job_cursors
    cursors.save(JobCursor("weekly-reset", "org_0", START, START))
    summary = run_job(billing, "weekly-reset")
    assert ("org_0", 2) == (summary.resumed_after, summary.processed)
    assert cursors.load("weekly-reset") is None


def test_a_run_longer_than_its_lease_renews_it() -> None:
    """20 s an org, TTL 30 s: renewed at half the TTL, never lost, no rival gets in."""
    billing, clock = seeded(6)
    clock.advance(timedelta(days=40))
    rivals: list[bool] = []

    def slow(org: str, outcome: str) -> None:
        clock.advance(seconds=20)
        with billing.stores.lock.hold("cron:weekly-reset", 30) as rival:
            rivals.append(bool(rival))

    summary = run_job(billing, "weekly-reset", lock_ttl_seconds=30, on_org=slow)
    assert (6, "held", 0) == (summary.processed, summary.lock, summary.exit_code)
    assert [False] * 6 == rivals  # 120 s in all, four times the TTL


def test_a_lost_lease_stops_the_run_and_leaves_the_cursor() -> None:
    """The lease expires and a rival takes it: the run stops after that org, exit code 1."""
    billing, clock = seeded(3)
    clock.advance(timedelta(days=40))
    rival = billing.stores.lock.hold("cron:weekly-reset", 600)

    def stall(org: str, outcome: str) -> None:
        clock.advance(seconds=31)
        assert bool(rival.__enter__())

    summary = run_job(billing, "weekly-reset", lock_ttl_seconds=30, on_org=stall)
    rival.__exit__(None, None, None)
    assert (1, "lost", 1) == (summary.processed, summary.lock, summary.exit_code)
    cursor = billing.stores.job_cursors.load("weekly-reset")
    assert cursor is not None
    assert "org_0" == cursor.after
    assert 2 == run_job(billing, "weekly-reset").processed  # the rest, by the next run


def test_an_unknown_job_is_refused() -> None:
    """``run_job`` names the jobs it knows."""
    billing, _ = seeded(0)
    with pytest.raises(ValueError, match="unknown job 'nightly'"):
        run_job(billing, "nightly")


# -- reconcile ---------------------------------------------------------------------------------


def test_reconcile_finds_an_edited_snapshot_and_publishes_the_divergence() -> None:
    """A snapshot rewritten with an extra lot unit: ``balance`` and ``lots`` diverge."""
    billing, _ = seeded()
    store = billing.stores.accounts
    assert () == reconcile_account(store, "org_2", billing.accounts.new_account("org_2"))
    snapshot = store.read_snapshot("org_2")
    assert snapshot is not None
    lot = snapshot.state.lots[0]
    tampered = attrs.evolve(snapshot.state, lots=(attrs.evolve(lot, remaining=lot.remaining + 1),))
    store.save_snapshot(Snapshot(org="org_2", version=snapshot.version + 1, state=tampered))
    summary = run_job(billing, "reconcile")
    assert [{"org": "org_2", "fields": ["journal", "balance", "lots"]}] == summary.extra[
        "divergences"
    ]
    assert 1 == summary.exit_code
    assert isinstance(billing.events, EventRecorder)
    diverged = [e for e in billing.events.published if isinstance(e, AccountDiverged)]
    assert [("org_2", ("journal", "balance", "lots"))] == [(e.org, e.fields) for e in diverged]


# -- admin -------------------------------------------------------------------------------------


def test_admin_show_gathers_usage_balance_lots_and_the_last_entries() -> None:
    """``show`` is JSON-ready: usage, balance, one lot, the newest entries first."""
    billing, _ = seeded(1)
    view = billing.admin.show("org_0", entries=2)
    json.dumps(view)
    assert (3, 10, 500, ["pack:cs_0", "attr:run_1:initial"]) == (
        view["version"],
        view["usage"]["compute_used"],
        view["balance"]["balance"],
        [entry["key"] for entry in view["journal"]],
    )
    assert ["pack:cs_0"] == [lot["lot_id"] for lot in view["lots"]]
    with pytest.raises(InvalidInputError, match="entries"):
        billing.admin.show("org_0", entries=-1)


def test_admin_adjust_is_idempotent_by_ref_and_logs_the_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Same ref twice: one credit; the reason and ref are in the log record."""
    billing, _ = seeded(1)
    with caplog.at_level(logging.INFO, logger="compute_pricing.admin"):
        first = billing.admin.adjust("org_0", 25, "goodwill, ticket 42", "ticket_42")
        again = billing.admin.adjust("org_0", 25, "goodwill, ticket 42", "ticket_42")
    assert (525, False, True) == (first.balance, first.replayed, again.replayed)
    assert 525 == billing.extras.balance("org_0").balance
    assert [("goodwill, ticket 42", "ticket_42")] * 2 == [
        (r.__dict__["reason"], r.__dict__["ref"]) for r in caplog.records
    ]
    for bad in ("", "   ", "x" * 501):
        with pytest.raises(InvalidInputError, match="reason"):
            billing.admin.adjust("org_0", 1, bad, "ticket_43")


def test_admin_adjust_journals_its_reason_and_show_lists_it() -> None:
    """The reason is in the entry's outcome; ``show`` lists it with the entry."""
    billing, _ = seeded(1)
    billing.admin.adjust("org_0", -20, "double charge, ticket 7", "ticket_7")
    entry = billing.stores.accounts.find_entry("org_0", "adjust:ticket_7")
    assert entry is not None
    assert "double charge, ticket 7" == entry.outcome["reason"]
    view = billing.admin.show("org_0", entries=1)
    assert [("adjust:ticket_7", -20, "double charge, ticket 7")] == [
        (e["key"], e["outcome"]["units"], e["outcome"]["reason"]) for e in view["journal"]
    ]


def test_the_same_ref_with_another_reason_is_a_conflict_and_writes_nothing() -> None:
    """A reason is part of the request: another reason for the ref is a 409 on ``reason``."""
    billing, _ = seeded(1)
    billing.admin.adjust("org_0", 25, "goodwill", "ticket_8")
    version = billing.accounts.load("org_0")[1]
    with pytest.raises(IdempotencyConflictError) as raised:
        billing.admin.adjust("org_0", 25, "another incident", "ticket_8")
    assert ("adjust:ticket_8", "reason", 409) == (
        raised.value.key,
        raised.value.field,
        raised.value.status,
    )
    assert (version, 525) == (
        billing.accounts.load("org_0")[1],
        billing.extras.balance("org_0").balance,
    )


def test_extras_adjust_takes_an_optional_reason() -> None:
    """Without a reason the outcome has none; a blank reason is refused before any write."""
    billing, _ = seeded(1)
    billing.extras.adjust("org_0", 5, "migration_1")
    entry = billing.stores.accounts.find_entry("org_0", "adjust:migration_1")
    assert entry is not None
    assert "reason" not in entry.outcome
    assert billing.extras.adjust("org_0", 5, "migration_1").replayed
    with pytest.raises(InvalidInputError, match="reason"):
        billing.extras.adjust("org_0", 5, "migration_2", reason=" ")
    assert billing.stores.accounts.find_entry("org_0", "adjust:migration_2") is None


def test_gate_refusals_are_logged_with_structured_fields(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A 402 leaves one INFO record on ``compute_pricing.gate`` with org, status and code."""
    billing = Billing.in_memory(compute_config(), clock=FakeClock(START))
    billing.subscribe("org_1", "free")
    with (
        caplog.at_level(logging.INFO, logger="compute_pricing.gate"),
        pytest.raises(ComputeExhaustedError),
    ):
        billing.check_quota("org_1")
    assert [("org_1", 402, "COMPUTE_EXHAUSTED")] == [
        (r.__dict__["org"], r.__dict__["status"], r.__dict__["error"]) for r in caplog.records
    ]


def test_config_file_written_by_the_library_passes_the_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``to_toml_dict`` output round-trips through ``config check``."""
    path = write(tmp_path, tomli_w.dumps(compute_config().to_toml_dict()))
    assert 0 == cli.main(["config", "check", str(path)])
    assert "compute_mode=on" in capsys.readouterr().out


def test_a_store_failure_outside_any_org_is_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The lease itself cannot be taken: one line on stderr, exit 2, no summary line."""
    from contextlib import contextmanager  # noqa: PLC0415 - local to this test

    from compute_pricing.errors import ConcurrencyConflictError  # noqa: PLC0415 - idem

    def broken_run(*_: Any, **__: Any) -> Any:
        raise ConcurrencyConflictError("locks", 3)

    @contextmanager
    def memory_billing(*_: Any, **__: Any) -> Any:
        yield Billing.in_memory(compute_config())

    monkeypatch.setattr(opscli, "open_billing", memory_billing)
    monkeypatch.setattr(opscli, "run_job", broken_run)
    assert 2 == cli.main(["cron", "weekly-reset"])
    captured = capsys.readouterr()
    assert ("", 1) == (captured.out, len(captured.err.splitlines()))
    assert captured.err.startswith("error: CONCURRENCY_CONFLICT")
