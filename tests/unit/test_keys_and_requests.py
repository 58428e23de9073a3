"""Idempotency keys never collide across operations or identities; requests are canonical."""

from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from compute_pricing import Billing, BillingConfig, FakeClock, PackSettings, PlanSettings
from compute_pricing import commands as cmd
from compute_pricing.errors import IdempotencyConflictError
from compute_pricing.keys import PROVIDER_KEY_MAX, provider_key
from compute_pricing.plans import Plan
from compute_pricing.state import Account, Subscription, Week
from compute_pricing.testing import strategies as cps
from tests.conftest import START

#: What ``validate_ref`` accepts (session ids, refs, refund ids, keys): up to 200 characters.
refs = st.text(alphabet=string.ascii_letters + string.digits + "_.:@/-", min_size=1, max_size=200)
#: Lot ids as the core builds them (``pack:<session>``, ``adjust:<ref>``, ``grant:signup``).
lot_ids = st.one_of(st.just("grant:signup"), refs.map("pack:".__add__), refs.map("adjust:".__add__))
week_keys = st.text(alphabet=string.ascii_letters + string.digits + "-:%", min_size=1, max_size=20)
PLAN = Plan(plan_id="free", version=1, compute_quota=0)
BASE = Account.new("org_a", "free")


def _with_week(key: str) -> Account:
    week = Week(
        key=key,
        started_at=START,
        reset_at=START + timedelta(days=7),
        quota=0,
        plan_id="free",
        plan_version=1,
    )
    return attrs.evolve(BASE, week=week)


def _past_due(since: datetime) -> Account:
    return attrs.evolve(BASE, subscription=Subscription(plan_id="free", past_due_since=since))


instants = st.datetimes(
    min_value=datetime(2000, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive
    max_value=datetime(2100, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive
    timezones=st.just(UTC),
)

#: ``(identity, command, state)``: the identity is (operation, caller-supplied id parts).
keyed = st.one_of(
    st.tuples(cps.run_ids(max_size=128), cps.step_keys()).map(
        lambda p: (("attr", *p), cmd.Attribute(p[0], p[1], None), BASE)
    ),
    refs.map(lambda r: (("reserve", r), cmd.Reserve(r, 1, 60), BASE)),
    refs.map(lambda r: (("release", r), cmd.Release(r), BASE)),
    refs.map(lambda r: (("pack", r), cmd.CreditPack("small", r), BASE)),
    refs.map(lambda r: (("adjust", r), cmd.Adjust(r, 1), BASE)),
    refs.map(lambda r: (("debit", r), cmd.Debit(r, 1), BASE)),
    refs.map(lambda r: (("refund", r), cmd.Refund(r, "cs", 1, 1, 1), BASE)),
    lot_ids.map(lambda r: (("expire", r), cmd.ExpireLot(r), BASE)),
    refs.map(lambda r: (("plan", r), cmd.ChangePlan(PLAN, r), BASE)),
    refs.map(lambda r: (("payment_failed", r), cmd.FailPayment(r), BASE)),
    refs.map(lambda r: (("payment_succeeded", r), cmd.RecoverPayment(r), BASE)),
    refs.map(lambda r: (("usage", r), cmd.RecordUsage("documents.create", 1, r), BASE)),
    week_keys.map(lambda w: (("reset", w), cmd.ResetWeek(), _with_week(w))),
    st.just((("reset", None), cmd.ResetWeek(), BASE)),
    instants.map(lambda t: (("dunning", t), cmd.ExpireSubscription(), _past_due(t))),
    st.just((("dunning", None), cmd.ExpireSubscription(), BASE)),
)


@given(keyed, keyed)
def test_keys_are_equal_only_for_the_same_operation_on_the_same_identity(
    a: tuple[tuple[Any, ...], cmd.Command, Account],
    b: tuple[tuple[Any, ...], cmd.Command, Account],
) -> None:
    """Any two commands of any kinds and valid ids: equal keys iff equal (operation, ids)."""
    (id_a, command_a, state_a), (id_b, command_b, state_b) = a, b
    assert (id_a == id_b) == (command_a.key(state_a) == command_b.key(state_b))


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (cmd.Attribute("pack", "cs_x", None), cmd.CreditPack("small", "cs_x")),
        (
            cmd.Attribute("run_1:review", "initial", None),
            cmd.Attribute("run_1", "review:initial", None),
        ),
        (cmd.Attribute("reset", "2026-W02", None), cmd.ResetWeek()),
        (cmd.Attribute("debit", "d1", None), cmd.Debit("d1", 1)),
        (cmd.Attribute("refund", "re_1", None), cmd.Refund("re_1", "cs", 1, 1, 1)),
    ],
)
def test_keys_of_the_reported_collisions_differ(first: cmd.Command, second: cmd.Command) -> None:
    """Each collision found on main now gives two different keys."""
    state = _with_week("2026-W02")
    assert first.key(state) != second.key(state)


def test_key_forms() -> None:
    """The documented key forms, with ``:`` and ``%`` in parts escaped."""
    assert "attr:run%3A1:review%3Ainitial" == cmd.Attribute("run:1", "review:initial", None).key(
        BASE
    )
    assert "pack:cs_1" == cmd.CreditPack("small", "cs_1").key(BASE)
    assert "expire:pack%3Acs_1" == cmd.ExpireLot("pack:cs_1").key(BASE)
    assert "reset:open" == cmd.ResetWeek().key(BASE)
    assert "reset:2026-W02" == cmd.ResetWeek().key(_with_week("2026-W02"))


def test_request_is_canonical_and_json_safe() -> None:
    """Decimals are normalized exact text, mappings sorted, excluded fields left out."""
    costs = {"b": Decimal("1.50"), "a": Decimal("10"), "c": Decimal("0.000")}
    request = cmd.Attribute("r", "s", costs, reservation_id="res_1").request()
    assert {"run_id": "r", "step": "s", "costs": {"a": "10", "b": "1.5", "c": "0"}} == request
    big = Decimal("1.99999999999999999999999999999000")
    assert {"costs": {"x": "1.99999999999999999999999999999"}} == {
        "costs": cmd.Attribute("r", "s", {"x": big}).request()["costs"]
    }
    assert {"plan": "free@1", "ref": "r", "status": "active", "preserve_usage": True} == (
        cmd.ChangePlan(PLAN, "r").request()
    )
    assert {} == cmd.ResetWeek(START).request()


def _billing() -> Billing:
    config = BillingConfig(
        compute_mode=True,
        plans=(PlanSettings(plan_id="free", compute_quota=100),),
        packs=(
            PackSettings(pack_id="small", units=500, price_cents=900),
            PackSettings(pack_id="big", units=900, price_cents=1_900),
        ),
    )
    return Billing.in_memory(config, clock=FakeClock(START))


def _journal(billing: Billing) -> int:
    return len(billing.accounts.store.read_journal("acme"))


def test_attribution_named_pack_no_longer_eats_a_purchase() -> None:
    """attribute("pack", step="cs_x") then credit_pack(session "cs_x"): the pack is credited."""
    billing = _billing()
    billing.attribute("acme", "pack", {"gpu": Decimal("0.001")}, step="cs_x")
    credit = billing.extras.credit_pack("acme", "small", "cs_x")
    assert (True, False, 500) == (credit.applied, credit.replayed, credit.units)
    again = billing.attribute("acme", "pack", {"gpu": Decimal("0.001")}, step="cs_x")
    assert True is again.replayed


def test_colon_split_run_steps_are_two_charges() -> None:
    """("run_1:review", "initial") and ("run_1", "review:initial") are both charged."""
    billing = _billing()
    first = billing.attribute("acme", "run_1:review", {"gpu": Decimal("0.002")}, "initial")
    second = billing.attribute("acme", "run_1", {"gpu": Decimal("0.002")}, "review:initial")
    assert (False, False) == (first.replayed, second.replayed)
    assert 4 == billing.usage("acme")["compute_used"]


def test_run_named_reset_does_not_stop_the_next_reset() -> None:
    """run_id="reset", step=<week key>: the next reset still closes the week and settles debt."""
    billing = _billing()
    clock = billing.clock
    assert isinstance(clock, FakeClock)
    billing.attribute("acme", "warm", {"gpu": Decimal("0.150")})  # 150 units: 50 of debt
    week = billing.usage("acme")["week_key"]
    billing.attribute("acme", "reset", {"gpu": Decimal("0.001")}, step=week)
    clock.advance(timedelta(days=7))
    reset = billing.reset_week("acme")
    assert (True, False) == (reset["applied"], reset["replayed"])
    assert 51 == reset["settled"]


@pytest.mark.parametrize(
    ("first", "again", "field"),
    [
        (("run_1", {"gpu": Decimal("0.010")}), ("run_1", {"gpu": Decimal("0.011")}), "costs"),
        (("run_1", None), ("run_1", {"gpu": Decimal("0.001")}), "costs"),
    ],
)
def test_attribution_replay_with_other_costs_is_a_conflict(
    first: tuple[str, Any], again: tuple[str, Any], field: str
) -> None:
    """Same run and step, other costs: 409 naming ``costs``, the journal unchanged."""
    billing = _billing()
    billing.attribute("acme", first[0], first[1])
    before = _journal(billing)
    with pytest.raises(IdempotencyConflictError) as raised:
        billing.attribute("acme", again[0], again[1])
    assert (409, "attr:run_1:initial", field) == (
        raised.value.status,
        raised.value.key,
        raised.value.field,
    )
    assert before == _journal(billing)


def test_pack_replay_with_another_pack_is_a_conflict() -> None:
    """Same checkout session, another pack: 409 naming ``pack_id``, nothing written."""
    billing = _billing()
    billing.extras.credit_pack("acme", "small", "cs_1")
    before = _journal(billing)
    with pytest.raises(IdempotencyConflictError) as raised:
        billing.extras.credit_pack("acme", "big", "cs_1")
    assert "pack_id" == raised.value.field
    assert before == _journal(billing)
    assert 500 == billing.extras.balance("acme").balance


@pytest.mark.parametrize("operation", ["debit", "adjust"])
def test_ref_replay_with_other_units_is_a_conflict(operation: str) -> None:
    """Same ref, other units: 409 naming ``units``; the same units replay."""
    billing = _billing()
    billing.extras.credit_pack("acme", "small", "cs_1")
    call = getattr(billing.extras, operation)
    call("acme", 10, "ref_1")
    before = _journal(billing)
    with pytest.raises(IdempotencyConflictError) as raised:
        call("acme", 11, "ref_1")
    assert "units" == raised.value.field
    assert before == _journal(billing)
    assert True is call("acme", 10, "ref_1").replayed


def test_reserve_retry_with_other_units_is_a_conflict() -> None:
    """A keyed reserve retried with other units: 409 naming ``units``."""
    billing = _billing()
    billing.reserve("acme", 10, key="job-1")
    with pytest.raises(IdempotencyConflictError) as raised:
        billing.reserve("acme", 11, key="job-1")
    assert "units" == raised.value.field


def test_entry_without_a_stored_request_matches_any_replay() -> None:
    """Entries written before requests were stored (``request=None``) replay as before."""
    billing = _billing()
    store = billing.accounts.store
    billing.attribute("acme", "run_1", {"gpu": Decimal("0.010")})
    (entry,) = [e for e in store.read_journal("acme") if e.key == "attr:run_1:initial"]
    legacy = attrs.evolve(entry, request=None)
    store._keys[("acme", entry.key)] = legacy  # type: ignore[attr-defined]  # an old entry
    again = billing.attribute("acme", "run_1", {"gpu": Decimal("0.500")})
    assert (True, 10) == (again.replayed, again.units)


#: Org ids as ``require_org`` accepts them, up to the maximum length.
orgs = st.text(alphabet=string.ascii_letters + string.digits + "_.:-", min_size=1, max_size=128)


@given(first=st.tuples(orgs, refs), second=st.tuples(orgs, refs))
def test_provider_keys_of_distinct_parts_never_meet(
    first: tuple[str, str], second: tuple[str, str]
) -> None:
    """Outbound keys differ whenever their parts do, ``_`` inside ids included."""
    assert (first == second) == (
        provider_key("extras_checkout", *first) == provider_key("extras_checkout", *second)
    )


def test_provider_keys_stay_short_and_apart() -> None:
    """The ``_``-joined spellings that collided stay apart; maximum-length ids fit Stripe."""
    assert provider_key("sub_checkout", "a_b", "c") != provider_key("sub_checkout", "a", "b_c")
    longest = provider_key("extras_checkout", "o" * 128, "p" * 64, "i" * 200)
    assert len("extras_checkout_") + 64 == len(longest) <= PROVIDER_KEY_MAX
    assert longest == provider_key("extras_checkout", "o" * 128, "p" * 64, "i" * 200)
