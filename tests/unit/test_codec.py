"""The storage codec: every account event and state round-trips through plain data."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compute_pricing import Billing
from compute_pricing.codec import (
    ABSENT_AS_DEFAULT,
    PLAIN,
    Codec,
    account_from_document,
    account_to_document,
    entry_from_document,
    entry_to_document,
    event_from_document,
    event_to_document,
    from_document,
    require_contiguous,
    to_document,
)
from compute_pricing.errors import CorruptStateError
from compute_pricing.evolve import fold
from compute_pricing.journal import JournalEntry
from compute_pricing.memory import InMemoryAccountStore
from compute_pricing.plans import Plan
from compute_pricing.state import Account
from compute_pricing.testing.contracts import T0, contract_config, rich_entries
from compute_pricing.testing.strategies import cost_mappings
from compute_pricing.timekeeping import FakeClock


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


# -- strict decoding ----------------------------------------------------------------------


def _state_document() -> dict[str, Any]:
    state = Account.new("org_a", "free")
    for entry in rich_entries("org_a"):
        state = fold(state, entry.events)
    return account_to_document(state)


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        (("week", "used"), 12.9, "expected an integer, found float 12.9"),
        (("week", "used"), "25", "expected an integer, found str '25'"),
        (("week", "used"), True, "expected an integer, found bool True"),
        (("signup_granted",), "false", "expected true or false, found str 'false'"),
        (("signup_granted",), 0, "expected true or false, found int 0"),
        (("lots", 0, "lot_id"), 7, "expected a string, found int 7"),
        (("lots", 0, "created_at"), "2026-03-02", "expected a datetime, found str '2026-03-02'"),
        (("lots",), {"0": {}}, "expected a list, found dict {'0': {}}"),
        (("week", "breakdown"), [1], "expected a mapping, found list [1]"),
        (("week", "breakdown", "gpu"), None, "expected an integer, found NoneType None"),
        (("reservations",), "x", "expected a list, found str 'x'"),
    ],
)
def test_a_value_of_another_type_is_refused_by_its_dotted_field(
    path: tuple[str | int, ...], value: object, reason: str
) -> None:
    """A mistyped value raises CorruptStateError naming the field path, never a coerced value."""
    document = _state_document()
    target: Any = document
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    with pytest.raises(CorruptStateError) as raised:
        account_from_document(document)
    error = raised.value
    expected_field = ".".join(str(part) for part in path)
    assert ("org_a", "snapshot", expected_field, reason) == (
        error.org,
        error.document,
        error.field,
        error.reason,
    )


@pytest.mark.parametrize("name", ["usage_debt", "lots", "refund_debt", "week", "legacy"])
def test_a_missing_field_is_refused_not_defaulted(name: str) -> None:
    """A removed field (debt, lots, ...) is an error, never the field's default."""
    document = _state_document()
    del document[name]
    with pytest.raises(CorruptStateError) as raised:
        account_from_document(document)
    assert (name, "missing") == (raised.value.field, raised.value.reason)


def test_an_int_subclass_from_a_driver_reads_as_int() -> None:
    """An int subclass other than bool (BSON's Int64) is an integer, read as a plain int."""

    class Int64(int):
        pass

    document = _state_document()
    document["usage_debt"] = Int64(5)
    decoded = account_from_document(document)
    assert (5, int) == (decoded.usage_debt, type(decoded.usage_debt))


@pytest.mark.parametrize("text", ["2.50", " 2.5", "NaN", "Infinity", "2,5", "1E+1", "1e1"])
def test_a_decimal_must_be_the_text_it_was_written_as(text: str) -> None:
    """Decimals are stored as their ``str``; other spellings, NaN and infinities are refused."""
    document = to_document(Plan("team", 1, 100, ratios={"gpu": Decimal("2.5")}))
    document["ratios"]["gpu"] = text
    if text in {"2.50", "1E+1"}:  # canonical spellings of other decimals still read exactly
        assert Decimal(text) == from_document(Plan, document).ratios["gpu"]
        return
    with pytest.raises(CorruptStateError) as raised:
        from_document(Plan, document, document="plan")
    assert ("plan", "ratios.gpu") == (raised.value.document, raised.value.field)


def test_an_unknown_event_type_is_refused_naming_the_entry_field() -> None:
    """An event type outside the closed table raises CorruptStateError, not a KeyError."""
    document = entry_to_document(rich_entries("org_a")[2])
    document["events"][1]["type"] = "ComputeRefunded"
    with pytest.raises(CorruptStateError) as raised:
        entry_from_document(document)
    assert ("org_a", "journal", "events.1.type") == (
        raised.value.org,
        raised.value.document,
        raised.value.field,
    )
    assert "unknown event type 'ComputeRefunded'" == raised.value.reason


def test_an_event_without_its_data_is_refused() -> None:
    """An event document with its type but no data names ``events.N.data``."""
    document = entry_to_document(rich_entries("org_a")[0])
    del document["events"][0]["data"]
    with pytest.raises(CorruptStateError) as raised:
        entry_from_document(document)
    assert ("events.0.data", "missing") == (raised.value.field, raised.value.reason)


def test_an_event_that_is_not_a_mapping_is_refused() -> None:
    """A journal event stored as a bare value names its index."""
    document = entry_to_document(rich_entries("org_a")[0])
    document["events"][0] = "WeekOpened"
    with pytest.raises(CorruptStateError) as raised:
        event_from_document(document["events"][0])
    assert ("event", "(document)") == (raised.value.document, raised.value.field)
    with pytest.raises(CorruptStateError) as in_entry:
        entry_from_document(document)
    assert "events.0" == in_entry.value.field


def test_an_entry_or_state_of_another_org_is_refused() -> None:
    """A document read for one org that holds another org's data is corrupt, not used."""
    entry = entry_to_document(rich_entries("org_b")[0])
    with pytest.raises(CorruptStateError) as wrong_entry:
        entry_from_document(entry, org="org_a")
    with pytest.raises(CorruptStateError) as wrong_state:
        account_from_document(_state_document(), org="org_b", field="state")
    assert ("org_a", "org") == (wrong_entry.value.org, wrong_entry.value.field)
    assert ("org_b", "state.org") == (wrong_state.value.org, wrong_state.value.field)


def test_fixed_length_pairs_are_checked_for_length_and_types() -> None:
    """A debit's ``(lot_id, units)`` draws must be pairs of text and integer."""
    document = entry_to_document(rich_entries("org_a")[2])
    debit = next(e for e in document["events"] if e["type"] == "ExtrasDebited")
    debit["data"]["draws"] = [["lot_1"]]
    with pytest.raises(CorruptStateError) as short:
        entry_from_document(document)
    debit["data"]["draws"] = [["lot_1", "3"]]
    with pytest.raises(CorruptStateError) as mistyped:
        entry_from_document(document)
    index = document["events"].index(debit)
    assert f"events.{index}.data.draws.0" == short.value.field
    assert f"events.{index}.data.draws.0.1" == mistyped.value.field


def test_mapping_keys_must_be_text() -> None:
    """A mapping with a non-text key (a driver or script artefact) is refused."""
    document = _state_document()
    document["week"]["breakdown"] = {1: 2}
    with pytest.raises(CorruptStateError) as raised:
        account_from_document(document)
    assert "week.breakdown" == raised.value.field


def test_a_document_that_is_not_a_mapping_is_refused() -> None:
    """A state stored as a list is refused as a whole."""
    with pytest.raises(CorruptStateError) as raised:
        from_document(Account, ["org_a"], org="org_a", document="snapshot", field="state")
    assert ("state", "expected a mapping, found list ['org_a']") == (
        raised.value.field,
        raised.value.reason,
    )


def test_journal_reads_must_be_contiguous_after_the_snapshot() -> None:
    """``require_contiguous`` passes seqs after+1, after+2, ... and names the first gap."""
    entries = rich_entries("org_a")
    assert entries[2:] == require_contiguous("org_a", 2, entries[2:])
    assert [] == require_contiguous("org_a", 6, [])
    with pytest.raises(CorruptStateError) as skipped:
        require_contiguous("org_a", 2, entries[3:])
    with pytest.raises(CorruptStateError) as holed:
        require_contiguous("org_a", 0, [entries[0], entries[2]])
    assert ("org_a", "journal", "seq") == (skipped.value.org, skipped.value.document, "seq")
    assert "expected seq 3 after 2, found 4" == skipped.value.reason
    assert "expected seq 2 after 0, found 3" == holed.value.reason


def test_the_memory_store_checks_its_journal_reads_too() -> None:
    """The in-memory store's reads pass the same gap check (a store that lost an entry fails)."""
    store = InMemoryAccountStore()
    entries = rich_entries("org_a")
    for entry in entries:
        store.append(entry)
    assert entries[4:] == list(store.read_journal("org_a", after_seq=4))
    assert entries == list(store.read_journal("org_a", after_seq=-1))


def test_a_field_listed_as_added_later_may_be_absent_and_decodes_to_its_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Only a field listed in ABSENT_AS_DEFAULT (and having a default) may be missing."""

    @attrs.frozen
    class Stored:
        kept: int
        added: str | None = None
        required: int = 0

    monkeypatch.setitem(ABSENT_AS_DEFAULT, Stored, frozenset({"added", "kept"}))
    assert Stored(1, None, 2) == from_document(Stored, {"kept": 1, "required": 2})
    with pytest.raises(CorruptStateError) as no_default:
        from_document(Stored, {"required": 2})
    with pytest.raises(CorruptStateError) as not_listed:
        from_document(Stored, {"kept": 1})
    assert ("kept", "required") == (no_default.value.field, not_listed.value.field)


# -- lean per-type codecs -------------------------------------------------------------------


def _generic_entry(entry: JournalEntry) -> dict[str, Any]:
    """An entry encoded by the generic, runtime-typed encoder (events tagged by type)."""
    document: dict[str, Any] = to_document(entry)
    document["events"] = [{"type": type(e).__name__, "data": to_document(e)} for e in entry.events]
    return document


def _rich_states() -> list[Account]:
    states, state = [], Account.new("org_a", "free")
    for entry in rich_entries("org_a"):
        state = fold(state, entry.events)
        states.append(state)
    return states


def test_lean_encoders_give_what_the_generic_encoder_gives() -> None:
    """Entries, events, states and plans encode as ``to_document`` encodes them."""
    plan = Plan("team", 2, 100, ratios={"gpu": Decimal("2.5")}, limits={"a.b": None, "c.d": 3})
    entries = rich_entries("org_a")
    assert [_generic_entry(e) for e in entries] == [entry_to_document(e) for e in entries]
    assert [to_document(s) for s in _rich_states()] == [
        account_to_document(s) for s in _rich_states()
    ]
    assert to_document(plan) == PLAIN.encoder(Plan)(plan)
    event = entries[2].events[0]
    assert {"type": type(event).__name__, "data": to_document(event)} == event_to_document(event)


@settings(max_examples=40, deadline=None)
@given(runs=st.lists(cost_mappings(), min_size=1, max_size=6))
def test_lean_encoders_agree_on_generated_accounts(runs: list[dict[str, Decimal]]) -> None:
    """Any attributed history: lean and generic encodings agree and decode back equal."""
    billing = Billing.in_memory(contract_config(), clock=FakeClock(T0))
    billing.subscribe("org_a", "team")
    billing.extras.credit_pack("org_a", "pack", "cs_1")
    for index, costs in enumerate(runs):
        billing.attribute("org_a", f"run_{index}", costs)
    store = billing.stores.accounts
    snapshot = store.read_snapshot("org_a")
    assert snapshot is not None
    encoded = account_to_document(snapshot.state)
    assert to_document(snapshot.state) == encoded
    assert snapshot.state == account_from_document(encoded)
    for entry in store.read_journal("org_a"):
        assert _generic_entry(entry) == entry_to_document(entry)
        assert entry == entry_from_document(entry_to_document(entry))


def test_a_codec_transforms_keys_both_ways_and_names_the_read_key() -> None:
    """``key_out`` / ``key_in`` apply to every mapping key; errors name the key as read."""
    codec = Codec(key_out=str.upper, key_in=str.lower)
    state = _rich_states()[-1]
    assert state.week is not None
    encoded = codec.encoder(Account)(state)
    assert {k.upper(): v for k, v in state.week.breakdown.items()} == encoded["week"]["breakdown"]
    assert state == codec.from_document(Account, encoded)
    category = next(iter(state.week.breakdown))
    encoded["week"]["breakdown"][category.upper()] = "3"
    with pytest.raises(CorruptStateError) as raised:
        codec.account_from_document(encoded, field="state")
    assert f"state.week.breakdown.{category}" == raised.value.field


def test_a_record_of_one_field_encodes_and_decodes() -> None:
    """A stored type with a single field (one ``attrgetter`` value, not a tuple) round-trips."""

    @attrs.frozen
    class One:
        units: int

    assert {"units": 3} == PLAIN.encoder(One)(One(3))
    assert One(3) == from_document(One, {"units": 3})
