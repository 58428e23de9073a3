"""bench_mongo_commands runs over the wire with tiny budgets; its figures are printed only."""

from __future__ import annotations

import pytest

from tests.examples.test_benchmarks import load


def test_bench_mongo_commands_prints_every_row_for_full_and_seeded_histories(
    mongo_wire_uri: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A fully loaded and a seeded history both verify, count and print every kind of call."""
    load("bench_mongo_commands").main(
        [
            "--uri",
            mongo_wire_uri,
            "--history",
            "5",
            "40",
            "--full-load",
            "10",
            "--repeats",
            "4",
            "--chunk",
            "2",
            "--snapshot-runs",
            "5",
        ]
    )
    out = capsys.readouterr().out
    assert "7 journal documents and the snapshot" in out
    assert "the last 20 of 42 journal documents and the snapshot" in out
    assert 2 == out.count("verified: reads back at version")
    for label in ("gate check", "attribution", "attr. cold", "raw pair", "bare insert"):
        assert 2 == out.count(f"    {label:<11}: ")
    assert "2.00 commands (floor 2) {'insert': 1, 'update': 1}" in out
    assert "3.00 commands (floor 3) {'find': 1, 'insert': 1, 'update': 1}" in out
    assert "the library's own above the raw pair" in out
    assert "5 runs:" in out
