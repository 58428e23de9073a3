"""The commit path's ledger line count agrees with the ledger view for every event."""

from __future__ import annotations

from compute_pricing import events as ev
from compute_pricing.rules.ledger import ledger_line_count, ledger_lines
from compute_pricing.testing.contracts import T0, rich_entries


def test_count_matches_the_lines_for_every_event() -> None:
    """For each event of a rich journal, plus zero and non-zero expirations, count == len."""
    events = [e for entry in rich_entries("org_a") for e in entry.events]
    events += [
        ev.LotExpired(org="org_a", at=T0, lot_id="l1", units=0),
        ev.LotExpired(org="org_a", at=T0, lot_id="l2", units=5),
        ev.DebtSettled(org="org_a", at=T0, week_key="2026-W10", units=3),
        ev.RefundApplied(
            org="org_a", at=T0, refund_id="re", session_id="cs", amount_cents=1, units=1
        ),
    ]
    assert [len(ledger_lines(e)) for e in events] == [ledger_line_count(e) for e in events]
    assert 5 == sum(map(ledger_line_count, events))
