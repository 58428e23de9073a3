"""The storage codec: every account event and state round-trips through plain data."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import attrs

from compute_pricing.codec import (
    account_from_document,
    account_to_document,
    entry_from_document,
    entry_to_document,
    from_document,
    to_document,
)
from compute_pricing.evolve import fold
from compute_pricing.plans import Plan
from compute_pricing.state import Account
from compute_pricing.testing.contracts import rich_entries


def test_journal_entries_round_trip() -> None:
    """Each entry of a rich journal decodes to an equal entry."""
    entries = rich_entries("org_a")
    assert entries == [entry_from_document(entry_to_document(e)) for e in entries]


def test_account_state_round_trips_through_json_safe_data() -> None:
    """A state with a week, lots, reservations and counters survives encode/decode."""
    state = Account.new("org_a", "free")
    for entry in rich_entries("org_a"):
        state = fold(state, entry.events)
    document = account_to_document(state)
    json.dumps(document, default=str)  # plain data only (datetimes stay native for BSON)
    assert state == account_from_document(document)


def test_naive_datetimes_from_a_driver_come_back_as_utc() -> None:
    """A driver without tz_aware returns naive UTC datetimes; decoding makes them aware."""
    assert datetime(2026, 1, 1, tzinfo=UTC) == from_document(datetime, datetime(2026, 1, 1))  # noqa: DTZ001


def test_plans_keep_exact_decimal_ratios_and_unlimited_counters() -> None:
    """Decimal ratios are stored as text and None limits stay None."""
    plan = Plan("team", 2, 100, ratios={"gpu": Decimal("2.5")}, limits={"a.b": None, "c.d": 3})
    document = to_document(plan)
    assert "2.5" == document["ratios"]["gpu"]
    assert plan == from_document(Plan, document)


def test_hand_built_copies_keep_every_other_field() -> None:
    """Hand-built copies (with_week, with_debit, charged, drawn) equal attrs.evolve's."""
    state = Account.new("org_a", "free")
    for entry in rich_entries("org_a"):
        state = fold(state, entry.events)
    assert state.week is not None
    week = state.week
    assert attrs.evolve(state, week=week) == state.with_week(week)
    debited = attrs.evolve(
        state, lots=(), usage_debt=state.usage_debt + 4, ledger_lines=state.ledger_lines + 1
    )
    assert debited == state.with_debit((), 4)
    merged = {k: v + (2 if k == "gpu" else 0) for k, v in week.breakdown.items()}
    assert attrs.evolve(week, used=week.used + 2, breakdown=merged) == week.charged(2, {"gpu": 2})
    lot = state.lots[0]
    assert attrs.evolve(lot, remaining=lot.remaining - 3) == lot.drawn(3)
    assert [f.name for f in attrs.fields(type(state))] == [
        "org",
        "subscription",
        "week",
        "lots",
        "usage_debt",
        "refund_debt",
        "reservations",
        "legacy",
        "signup_granted",
        "ledger_lines",
    ]  # a new Account field must be added to with_week and with_debit too
