"""The ``compute-pricing`` console script: ``demo``, ``--version`` and plugin commands."""

from __future__ import annotations

import argparse
import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

from compute_pricing import __version__, cli, demo
from compute_pricing.errors import UnknownPackError

GROUP = cli.ENTRY_POINT_GROUP


def fake_entry_points(*specs: tuple[str, str]) -> object:
    """A stand-in for ``importlib.metadata.entry_points`` listing ``(name, value)`` plugins."""
    points = [importlib.metadata.EntryPoint(name, value, GROUP) for name, value in specs]

    def entry_points(*, group: str) -> list[importlib.metadata.EntryPoint]:
        return points if group == GROUP else []

    return entry_points


def register_hello(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """A well-behaved plugin: ``hello --name X`` prints a greeting."""
    parser = subparsers.add_parser("hello", help="say hello")
    parser.add_argument("--name", default="world")
    parser.set_defaults(func=lambda args: sys.stdout.write(f"hello {args.name}\n") and 0)


def register_failing_command(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    """A plugin whose command raises a library error."""

    def fail(_: argparse.Namespace) -> int:
        raise UnknownPackError("nope")

    subparsers.add_parser("fail").set_defaults(func=fail)


def register_raises(_: object) -> None:
    """A plugin whose registration itself blows up."""
    raise RuntimeError("plugin exploded")


@pytest.fixture
def no_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hide every installed plugin so the tests see only the built-in commands."""
    monkeypatch.setattr(importlib.metadata, "entry_points", fake_entry_points())


@pytest.mark.usefixtures("no_plugins")
def test_demo_exits_zero_and_shows_the_402_the_429_and_the_thresholds(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``demo`` runs both scenarios: 429 in legacy mode, thresholds and 402 in compute mode."""
    assert 0 == cli.main(["demo"])
    out = capsys.readouterr().out
    for marker in (
        "429",
        "QUOTA_EXCEEDED",
        "reason=compute_mode_off",
        "402 COMPUTE_EXHAUSTED",
        '"error": "COMPUTE_EXHAUSTED"',
        "compute.threshold_crossed 80% (8,050 / 10,000)",
        "compute.threshold_crossed 100% (10,150 / 10,000)",
        "bought boost pack: +5,000 units",
        "reset_all_due() -> processed=2 skipped=0 errors=0",
        "compute.debt_settled 240 units into 2026-W03",
        "extras.refunded re_1: -10,000 units",
        "extras.expired pack:cs_globex_1: -8,960 units",
    ):
        assert marker in out


@pytest.mark.usefixtures("no_plugins")
@pytest.mark.parametrize(
    ("mode", "present", "absent"),
    [
        ("legacy", "QUOTA_EXCEEDED", "COMPUTE_EXHAUSTED"),
        ("compute", "COMPUTE_EXHAUSTED", "QUOTA_EXCEEDED"),
    ],
)
def test_demo_mode_selects_one_scenario(
    mode: str, present: str, absent: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--mode legacy|compute`` runs only that scenario."""
    assert 0 == cli.main(["demo", "--mode", mode])
    out = capsys.readouterr().out
    assert present in out
    assert absent not in out


def test_demo_report_is_deterministic_short_and_narrow() -> None:
    """Same report every time, under 80 lines of at most 80 columns."""
    report = demo.render("both")
    lines = report.splitlines()
    assert report == demo.render("both")
    assert len(lines) <= 80
    assert [] == [line for line in lines if len(line) > 80]


def test_demo_week_table_lists_seven_days_for_both_orgs() -> None:
    """The compute section's table has one row per org and day, ending with the overflow."""
    lines = demo.compute_lines()
    rows = [line for line in lines if "acme    starter" in line or "globex  pro" in line]
    assert 14 == len(rows)
    assert rows[-2].startswith("Sun 01-11  acme    starter")
    assert rows[-2].endswith("15,240 / 10,000  152%    -240")


def test_table_aligns_columns_and_formats_integers() -> None:
    """``table`` pads every column to its widest cell; ints get thousands separators."""
    assert ["a       n", "--  -----", "x   1,234", "yy      5"] == demo.table(
        ["a", "n"], [["x", 1234], ["yy", 5]], "<>"
    )


def test_hbar_uses_eighth_blocks_and_clamps_to_the_scale() -> None:
    """Bars are drawn in eighths of a cell, never longer than ``width``."""
    assert "████▌" == demo.hbar(45, 100, 10)
    assert "██████████" == demo.hbar(500, 100, 10)
    assert "" == demo.hbar(0, 100, 10)


def test_usage_chart_puts_all_series_on_one_scale() -> None:
    """The largest value gets the full width; the others are proportional."""
    lines = demo.usage_chart(["Mon", "Tue"], [("a", [50, 100]), ("bb", [200, 0])], width=8)
    assert [
        "  Mon  a  ██        50  │ bb ████████ 200",
        "  Tue  a  ████     100  │ bb            0",
    ] == lines


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    """``--version`` prints ``compute-pricing <version>`` and exits 0."""
    assert 0 == cli.main(["--version"])
    assert f"compute-pricing {__version__}\n" == capsys.readouterr().out


@pytest.mark.usefixtures("no_plugins")
def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """Without a command the usage goes to stderr and the exit status is 2."""
    assert 2 == cli.main([])
    assert "demo" in capsys.readouterr().err


@pytest.mark.usefixtures("no_plugins")
def test_unknown_mode_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """An invalid ``--mode`` is refused by argparse with exit status 2."""
    assert 2 == cli.main(["demo", "--mode", "quantum"])
    assert "invalid choice" in capsys.readouterr().err


def test_a_broken_entry_point_warns_but_demo_still_runs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A plugin that cannot be imported, or whose register raises, only costs a warning."""
    monkeypatch.setattr(
        importlib.metadata,
        "entry_points",
        fake_entry_points(
            ("migrate", "compute_pricing_no_such_adapter.cli:register"),
            ("boom", f"{__name__}:register_raises"),
        ),
    )
    assert 0 == cli.main(["demo", "--mode", "legacy"])
    captured = capsys.readouterr()
    assert "QUOTA_EXCEEDED" in captured.out
    assert "warning: plugin 'migrate'" in captured.err
    assert "ModuleNotFoundError" in captured.err
    assert "warning: plugin 'boom'" in captured.err
    assert "plugin exploded" in captured.err


def test_entry_points_that_cannot_even_be_listed_only_warn(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Broken package metadata (entry_points itself raising) does not break the CLI."""

    def broken(*, group: str) -> list[importlib.metadata.EntryPoint]:
        raise ValueError(f"bad metadata for {group}")

    monkeypatch.setattr(importlib.metadata, "entry_points", broken)
    assert 0 == cli.main(["--version"])
    assert "could not list compute_pricing.commands plugins" in capsys.readouterr().err


def test_a_plugin_command_is_registered_and_dispatched(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An entry point's ``register(subparsers)`` adds a command that ``main`` dispatches."""
    monkeypatch.setattr(
        importlib.metadata,
        "entry_points",
        fake_entry_points(("hello", f"{__name__}:register_hello")),
    )
    assert 0 == cli.main(["hello", "--name", "billing"])
    assert "hello billing\n" == capsys.readouterr().out


def test_a_plugin_command_raising_a_billing_error_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A library error from a command is printed with its code on stderr; exit status 1."""
    monkeypatch.setattr(
        importlib.metadata,
        "entry_points",
        fake_entry_points(("fail", f"{__name__}:register_failing_command")),
    )
    assert 1 == cli.main(["fail"])
    assert "error: UNKNOWN_PACK: unknown extras pack 'nope'" in capsys.readouterr().err


def test_the_console_script_runs_the_demo() -> None:
    """The installed ``compute-pricing`` script (what ``make demo`` runs) exits 0."""
    script = Path(sys.executable).with_name("compute-pricing")
    if not script.exists():
        pytest.skip("the console script is not installed next to this interpreter")
    result = subprocess.run(
        [str(script), "demo", "--mode", "compute"], capture_output=True, text=True, check=False
    )
    assert 0 == result.returncode
    assert "COMPUTE_EXHAUSTED" in result.stdout


def test_an_entry_point_listed_twice_registers_once(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same distribution found twice on sys.path adds its command once, without warning."""
    hello = ("hello", f"{__name__}:register_hello")
    monkeypatch.setattr(importlib.metadata, "entry_points", fake_entry_points(hello, hello))
    assert ["hello"] == cli.load_plugins(argparse.ArgumentParser().add_subparsers())
    assert "" == capsys.readouterr().err
