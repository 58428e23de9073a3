"""The benchmark scripts run (with tiny budgets); their figures are printed, never asserted."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def load(name: str) -> ModuleType:
    """Import ``benchmarks/<name>.py`` as a module."""
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", BENCHMARKS / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_core_prints_every_figure(capsys: pytest.CaptureFixture[str]) -> None:
    """bench_core reports both attribution rates, GC share, decide, ceiling, floor, gate."""
    load("bench_core").main(["--seconds", "0.02", "--orgs", "2", "--gate-calls", "200"])
    out = capsys.readouterr().out
    for label in (
        "attribute, charged to quota",
        "attribute, overflow to extras",
        "attribute, to quota, GC off",
        "decide() alone",
        "only the values a commit builds",
        "floor: dict update + Decimal mul",
        "median of 5 rounds",
        "check_quota, 10 prior runs",
        "p99",
    ):
        assert label in out


def test_bench_core_profile_lists_the_hot_functions(capsys: pytest.CaptureFixture[str]) -> None:
    """``--profile overflow`` appends a cProfile naming the attribution path."""
    bench = load("bench_core")
    bench.main(["--seconds", "0.02", "--orgs", "1", "--gate-calls", "100", "--profile", "overflow"])
    out = capsys.readouterr().out
    assert "cProfile of" in out
    assert "execute" in out


def write(directory: Path, name: str, body: str) -> None:
    """Write a fake benchmark module."""
    (directory / name).write_text(body)


def test_run_all_runs_skips_and_reports_failures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """run_all runs each bench_*.py, skips missing third-party deps, and exits 1 on failure."""
    write(tmp_path, "bench_a.py", "def main():\n    print('bench a ran')\n")
    write(tmp_path, "bench_deps.py", "import compute_pricing_no_such_dep\ndef main(): pass\n")
    write(tmp_path, "bench_lazy.py", "def main():\n    import no_such_sdk_either\n")
    write(tmp_path, "bench_nomain.py", "X = 1\n")
    write(tmp_path, "bench_own.py", "from compute_pricing import no_such_name\n")
    write(tmp_path, "bench_z.py", "def main():\n    raise RuntimeError('boom')\n")
    status = load("run_all").main([], directory=tmp_path)
    out = capsys.readouterr().out
    assert 1 == status
    assert "bench a ran" in out
    assert "bench_deps.py: skipped, a dependency is missing" in out
    assert "bench_lazy.py: skipped, a dependency is missing" in out
    assert "bench_nomain.py: skipped, it has no main()" in out
    assert "bench_mongo_commands.py: skipped, not present" in out
    assert "bench_own.py: failed to import" in out
    assert "bench_z.py: failed while running" in out
    assert "RuntimeError: boom" in out


def test_run_all_only_filters_and_exits_0_when_nothing_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--only`` picks benchmarks by name; all passing means exit status 0."""
    write(tmp_path, "bench_a.py", "def main():\n    print('bench a ran')\n")
    write(tmp_path, "bench_b.py", "def main():\n    return 3\n")
    assert 0 == load("run_all").main(["--only", "bench_a"], directory=tmp_path)
    out = capsys.readouterr().out
    assert "bench a ran" in out
    assert "bench_b" not in out
    assert 1 == load("run_all").main(["--only", "bench_b"], directory=tmp_path)
    assert "main() returned 3" in capsys.readouterr().out


def test_bench_codec_prints_each_decode_figure(capsys: pytest.CaptureFixture[str]) -> None:
    """bench_codec reports µs per snapshot and per entry decode, core and Mongo."""
    load("bench_codec").main(["--calls", "20", "--repeat", "1"])
    out = capsys.readouterr().out
    for label in (
        "codec: account snapshot decode",
        "codec: journal entry decode",
        "mongo: snapshot document decode",
        "mongo: journal document decode",
        "µs/call",
    ):
        assert label in out


def test_bench_contention_prints_the_attempt_distribution(
    mongo_wire_uri: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """bench_contention on the session's wire server: no call exhausted, no unit lost."""
    figures = load("bench_contention").run(mongo_wire_uri, "the test wire server", 4, 3)
    out = capsys.readouterr().out
    assert "attempts per call" in out
    assert 0 == figures["exhausted"]
    assert 36 == figures["used"]
    assert 12 == sum(figures["attempts"].values())


def test_bench_contention_starts_the_suites_wire_server_script() -> None:
    """bench_contention's own server (no --uri) is the script the suite starts."""
    script = load("bench_contention").SERVER_SCRIPT
    assert (True, "mongoeco_server.py") == (script.is_file(), script.name)


def test_bench_sweeps_seeds_the_wire_and_prints_every_figure(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """bench_sweeps seeds a mongoeco database (read back), counts commands, prints ratios."""
    argv = ["--wire-accounts", "6", "--single-accounts", "3", "--memory-accounts", "6", "9"]
    load("bench_sweeps").main(argv)
    out = capsys.readouterr().out
    for label in (
        "seeded 6 accounts",
        "weekly reset      6 accounts, batch 500",
        "dunning           3 accounts, batch   1",
        "commands/account",
        "client CPU",
        "batch 500,       9 accounts: weekly reset",
        "batch   1,       6 accounts",
        "(ratio 1.00)",
    ):
        assert label in out
