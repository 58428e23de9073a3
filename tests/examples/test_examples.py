"""The runnable examples: each one runs and prints what its docstring promises."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SCRIPTS = ("quickstart.py", "legacy_mode.py", "reservations.py")


def load_example(name: str) -> ModuleType:
    """Import ``examples/<name>`` as a module without running its ``__main__`` block."""
    path = EXAMPLES / name
    spec = importlib.util.spec_from_file_location(f"example_{path.stem}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_example(name: str, capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``main()`` of an example and return what it printed."""
    load_example(name).main()
    return capsys.readouterr().out


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_example_has_a_module_docstring_and_a_documented_main(name: str) -> None:
    """Each example explains itself and exposes a documented ``main()``."""
    module = load_example(name)
    assert module.__doc__
    assert module.main.__doc__


def test_quickstart_charges_replays_crosses_thresholds_and_recovers_with_a_pack(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Quickstart: 450 units, a replay charges nothing, 80/100 % fire, 402, then a pack."""
    out = run_example("quickstart.py", capsys)
    assert "run_1: 450 units, week used 450" in out
    assert "run_1 again: replayed=True, week used 450" in out
    assert "run_1:review: 600 units (550 from quota, 50 overflow), week used 1050" in out
    assert "compute.threshold_crossed: 80% (1050/1000)" in out
    assert "compute.threshold_crossed: 100% (1050/1000)" in out
    assert "gate: 402 COMPUTE_EXHAUSTED extras_remaining=0" in out
    assert "bought boost: +500 units, extras balance 450" in out
    assert "gate: remaining 450" in out


def test_legacy_mode_refuses_with_429_and_treats_compute_calls_as_no_ops(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Legacy example: three documents, then 429; compute is a no-op; March starts over."""
    out = run_example("legacy_mode.py", capsys)
    assert 3 == out.count("document created")
    assert "429 QUOTA_EXCEEDED" in out
    assert "'limit': 3, 'current': 3" in out
    assert "attribute: applied=False reason=compute_mode_off" in out
    assert "on team: remaining 97" in out
    assert "exports: remaining=None (unlimited)" in out
    assert "March: usage {}" in out


def test_reservations_hold_exactly_the_quota_under_concurrent_runs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Reservations example: 5 of 8 concurrent holds fit, commit/release/TTL add up."""
    out = run_example("reservations.py", capsys)
    assert "8 concurrent reserve(200): 5 held, 3 refused (402)" in out
    assert "gate while all 1,000 units are held: 402 COMPUTE_EXHAUSTED" in out
    assert "charged 150 units (held 200)" in out
    assert "again: False" in out
    assert "gate remaining: 250" in out
    assert "after the TTL: remaining 850 (3 holds expired)" in out
    assert "commit after the TTL: 404 UNKNOWN_RESERVATION" in out
    assert "usage: 250/1000" in out


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_example_runs_as_a_script(name: str) -> None:
    """``python examples/<name>`` exits 0 with output (the ``__main__`` block calls main)."""
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name)], capture_output=True, text=True, check=False
    )
    assert (0, "") == (result.returncode, result.stderr)
    assert result.stdout.strip()
