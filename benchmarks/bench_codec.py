"""Encode and decode cost of stored documents: one account snapshot and one journal entry.

Measures, in microseconds per call (``time.process_time``, best of ``--repeat`` rounds):

- ``account_from_document`` on a state with a week, lots, reservations and debt (the core
  codec alone), and ``entry_from_document`` on an attribution entry;
- the Mongo adapter's ``snapshot_from_document`` and ``entry_from`` on the same values as
  stored documents (key unescaping and datetime normalisation included);
- what an attribution's two writes map: ``entry_document`` of the attribution entry, the full
  ``snapshot_update`` and the changed-fields update a store that wrote the previous version
  sends instead (``changed_fields_update``).

These are what every gate read (one snapshot), every catch-up (one decode per entry) and every
attribution (one entry, one snapshot update) pay.
Prints figures only; nothing here is asserted.

Run it with ``.venv/bin/python benchmarks/bench_codec.py [--calls 20000] [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from typing import Any

from compute_pricing.codec import (
    account_from_document,
    account_to_document,
    entry_from_document,
    entry_to_document,
)
from compute_pricing.evolve import fold
from compute_pricing.journal import Snapshot
from compute_pricing.state import Account
from compute_pricing.testing.contracts import rich_entries
from compute_pricing_mongo._documents import (
    entry_document,
    entry_from,
    snapshot_from_document,
    snapshot_update,
)
from compute_pricing_mongo._snapshot_changes import changed_fields_update, full_update


def _stored_snapshot(snapshot: Snapshot) -> dict[str, Any]:
    """The account document ``snapshot_update`` would leave in an empty collection."""
    values = snapshot_update(snapshot)["$set"]
    document: dict[str, Any] = {"org": snapshot.org, "state": {"subscription": {}}}
    for path, value in values.items():
        parts = path.split(".")
        target = document
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return document


def per_call_us(func: Callable[[], object], calls: int, repeat: int) -> float:
    """Best per-call time of ``func`` over ``repeat`` rounds of ``calls`` calls, in µs."""
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        for _ in range(calls):
            func()
        best = min(best, time.process_time() - started)
    return best / calls * 1e6


def main(argv: Sequence[str] | None = None) -> None:
    """Print the per-decode figures; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    entries = rich_entries("org_a")
    state = fold(Account.new("org_a", "free"), [e for entry in entries for e in entry.events])
    account = account_to_document(state)
    attribution = entries[2]  # a charge, its debit and a threshold crossing
    entry = entry_to_document(attribution)
    stored_snapshot = _stored_snapshot(Snapshot("org_a", len(entries), state))
    stored_entry = entry_document(attribution)
    previous = Snapshot("org_a", len(entries), state, attribution.at)
    charged = Snapshot("org_a", len(entries) + 1, fold(state, attribution.events), attribution.at)
    _, known = full_update(previous)
    figures = {
        "codec: account snapshot decode": lambda: account_from_document(account),
        "codec: journal entry decode": lambda: entry_from_document(entry),
        "mongo: snapshot document decode": lambda: snapshot_from_document(stored_snapshot),
        "mongo: journal document decode": lambda: entry_from(stored_entry),
        "mongo: journal document encode": lambda: entry_document(attribution),
        "mongo: full snapshot update": lambda: snapshot_update(charged),
        "mongo: changed-fields update": lambda: changed_fields_update(charged, known),
    }
    print(f"encode and decode cost, best of {args.repeat} x {args.calls:,} calls (CPU time)")
    for label, func in figures.items():
        print(f"  {label:<34} {per_call_us(func, args.calls, args.repeat):8.2f} µs/call")


if __name__ == "__main__":
    main()
