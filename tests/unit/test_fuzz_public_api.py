"""h11's fuzz rule: every public core function returns a value or raises a ``BillingError``.

Each public entry point of :class:`~compute_pricing.Billing` and each pure validation rule is
called with junk of every shape (``None``, bools, huge and negative ints, NaN and infinite
floats and decimals, odd strings, bytes, naive and extreme datetimes, containers, bare
objects), mixed with valid values so calls also get past their first check. Anything but a
``BillingError`` escaping fails the test, and so does a refused call that wrote to a journal.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from functools import partial
from typing import Any, TypeVar

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from compute_pricing import Billing, BillingError, FakeClock, InvalidInputError
from compute_pricing.journal import JournalEntry
from compute_pricing.money import parse_cost
from compute_pricing.rules.attribution import parse_costs, validate_run_id, validate_step
from compute_pricing.rules.legacy import counter_name
from compute_pricing.testing import strategies as cps
from tests.conftest import START, compute_config, legacy_config

T = TypeVar("T")

ORG = "org_1"
HUGE = 10**5000  # more digits than int -> str conversion allows by default

junk: st.SearchStrategy[object] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([HUGE, -HUGE, 2**63, -(2**63) - 1]),
    st.floats(),
    st.decimals(),
    st.sampled_from(
        [Decimal("1e999999"), Decimal("-1e999999"), Decimal("sNaN"), Decimal("1e-999999")]
    ),
    st.text(max_size=12),
    st.text(alphabet="\x00\n\t \u00e9\u6f22\u202e/.:@$%", max_size=12),
    st.binary(max_size=8),
    st.datetimes(),
    st.datetimes(timezones=cps.utc_offsets(whole_minutes=False)),
    st.lists(st.integers() | st.text(max_size=4), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers() | st.none(), max_size=3),
    st.builds(object),
)


def maybe(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[object]:
    """A valid value or junk."""
    return valid | junk


orgs = maybe(st.sampled_from([ORG, "org_2"]) | cps.org_ids())


def seeded(*, compute_mode: bool = True) -> Billing:
    """A billing with ``org_1`` on starter, a credited ``small`` pack (``cs_1``) and a charge."""
    config = compute_config() if compute_mode else legacy_config()
    billing = Billing.in_memory(config, clock=FakeClock(START))
    if compute_mode:
        billing.subscribe(ORG, "starter")
        billing.extras.credit_pack(ORG, "small", "cs_1")
        billing.attribute(ORG, "run_1", {"scrap": Decimal("0.5")})
    else:
        billing.record_usage(ORG, "documents", "create")
    return billing


def journals(billing: Billing, orgs: list[str]) -> dict[str, list[JournalEntry]]:
    """The journal of each org."""
    return {org: list(billing.accounts.store.read_journal(org)) for org in orgs}


def returns_or_refuses(billing: Billing, org: object, call: Callable[[], T]) -> T | None:
    """``call()``'s value, or ``None`` after a BillingError that left every journal as it was."""
    watched = [ORG, "org_2", *([org] if isinstance(org, str) else [])]
    before = journals(billing, watched)
    try:
        return call()
    except BillingError:
        assert before == journals(billing, watched)
        return None


def value_or_billing_error(call: Callable[[], T]) -> T | None:
    """``call()``'s value, or ``None`` if it raised a BillingError (anything else escapes)."""
    try:
        return call()
    except BillingError:
        return None


# -- compute ---------------------------------------------------------------------------------


@given(
    org=orgs,
    run_id=maybe(cps.run_ids()),
    costs=maybe(st.none() | cps.cost_mappings() | cps.invalid_cost_mappings()),
    step=maybe(cps.step_keys()),
)
@example(org=ORG, run_id="r", costs={"gpu": Decimal("1e999999")}, step="initial")
@example(org=ORG, run_id="r", costs={"gpu": HUGE}, step="initial")
@example(org=ORG, run_id="r", costs={HUGE: 1}, step="initial")
def test_attribute(org: object, run_id: object, costs: object, step: object) -> None:
    """attribute returns a result or raises a BillingError, writing nothing when it refuses."""
    billing = seeded()
    returns_or_refuses(billing, org, lambda: billing.attribute(org, run_id, costs, step))  # type: ignore[arg-type]


@given(org=orgs, units=maybe(st.integers(-5, 2_000)), ttl=maybe(st.none() | st.integers(-5, 10**5)))
@example(org=ORG, units=1, ttl=10**12)
@example(org=ORG, units=1, ttl=10**20)
@example(org=ORG, units=-HUGE, ttl=None)
def test_reserve(org: object, units: object, ttl: object) -> None:
    """reserve returns a handle or raises a BillingError, writing nothing when it refuses."""
    billing = seeded()
    returns_or_refuses(billing, org, lambda: billing.reserve(org, units, ttl))  # type: ignore[arg-type]


@pytest.mark.parametrize("compute_mode", [True, False])
@given(org=orgs, resource=maybe(st.just("documents")), action=maybe(st.just("create")))
def test_check_quota(compute_mode: bool, org: object, resource: object, action: object) -> None:
    """check_quota admits or raises a BillingError (402, 429, 403...), in either mode."""
    billing = seeded(compute_mode=compute_mode)
    returns_or_refuses(billing, org, lambda: billing.check_quota(org, resource, action))  # type: ignore[arg-type]


@pytest.mark.parametrize("compute_mode", [True, False])
@given(
    org=orgs,
    counter=st.tuples(maybe(st.just("documents")), maybe(st.just("create"))),
    amount=maybe(st.integers(-3, 5)),
    key=maybe(st.none() | cps.run_ids()),
)
@example(org=ORG, counter=("documents", "create"), amount=HUGE, key=None)
@example(org=ORG, counter=("documents", "create"), amount=-HUGE, key=None)
def test_record_usage(
    compute_mode: bool, org: object, counter: tuple[object, object], amount: object, key: object
) -> None:
    """record_usage returns the counter or raises a BillingError, writing nothing if refused."""
    billing = seeded(compute_mode=compute_mode)
    resource, action = counter
    returns_or_refuses(
        billing,
        org,
        lambda: billing.record_usage(org, resource, action, amount, key=key),  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("compute_mode", [True, False])
@given(org=orgs)
def test_usage(compute_mode: bool, org: object) -> None:
    """usage returns a view or raises a BillingError."""
    billing = seeded(compute_mode=compute_mode)
    returns_or_refuses(billing, org, lambda: billing.usage(org))  # type: ignore[arg-type]


# -- extras ----------------------------------------------------------------------------------


@given(
    org=orgs,
    pack_id=maybe(st.sampled_from(["small", "big", "forever", "nope"])),
    session=maybe(st.sampled_from(["cs_1", "cs_2"]) | cps.run_ids()),
)
@example(org=ORG, pack_id=HUGE, session="cs_2")
def test_credit_pack(org: object, pack_id: object, session: object) -> None:
    """credit_pack credits (or replays) or raises a BillingError, writing nothing if refused."""
    billing = seeded()
    returns_or_refuses(billing, org, lambda: billing.extras.credit_pack(org, pack_id, session))  # type: ignore[arg-type]


@given(org=orgs, units=maybe(st.integers(-5, 5_000)), ref=maybe(cps.run_ids()))
@example(org=ORG, units=-HUGE, ref="d1")
def test_debit(org: object, units: object, ref: object) -> None:
    """debit spends or raises a BillingError, writing nothing when it refuses."""
    billing = seeded()
    returns_or_refuses(billing, org, lambda: billing.extras.debit(org, units, ref))  # type: ignore[arg-type]


@given(org=orgs, units=maybe(st.integers(-5, 5_000)), ref=maybe(cps.run_ids()))
@example(org=ORG, units=HUGE * 0, ref="a1")
def test_adjust(org: object, units: object, ref: object) -> None:
    """adjust corrects the balance or raises a BillingError, writing nothing when it refuses."""
    billing = seeded()
    returns_or_refuses(billing, org, lambda: billing.extras.adjust(org, units, ref))  # type: ignore[arg-type]


@given(
    org=orgs,
    session=maybe(st.sampled_from(["cs_1", "cs_9"])),
    amount=maybe(st.integers(-5, 1_000)),
    refund_id=maybe(cps.run_ids()),
)
@example(org=ORG, session="cs_1", amount=HUGE, refund_id="re_1")
def test_refund_partial(org: object, session: object, amount: object, refund_id: object) -> None:
    """refund_partial takes units back or raises a BillingError, writing nothing if refused."""
    billing = seeded()
    returns_or_refuses(
        billing,
        org,
        lambda: billing.extras.refund_partial(org, session, amount, refund_id),  # type: ignore[arg-type]
    )


@given(org=orgs, page=maybe(st.integers(-3, 5)), limit=maybe(st.integers(-3, 200)))
@example(org=ORG, page="abc", limit=20)
@example(org=ORG, page=1, limit=None)
@example(org=ORG, page=float("nan"), limit=20)
@example(org=ORG, page=10**30, limit=20)
def test_list_ledger(org: object, page: object, limit: object) -> None:
    """list_ledger returns a page or raises a BillingError."""
    billing = seeded()
    returns_or_refuses(billing, org, lambda: billing.extras.list_ledger(org, page, limit))  # type: ignore[arg-type]


@given(org=orgs)
def test_balance(org: object) -> None:
    """balance returns the balances or raises a BillingError."""
    billing = seeded()
    returns_or_refuses(billing, org, lambda: billing.extras.balance(org))  # type: ignore[arg-type]


# -- weeks, plans, payments ------------------------------------------------------------------


@given(org=orgs, period_start=maybe(st.none() | cps.aware_datetimes()))
@example(org=ORG, period_start="2026-01-05")
@example(org=ORG, period_start=datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5))))
@example(org=ORG, period_start=datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5))))
@example(org=ORG, period_start=datetime(2026, 1, 5, tzinfo=UTC).date())
def test_reset_week(org: object, period_start: object) -> None:
    """reset_week resets (or finds nothing due) or raises a BillingError."""
    billing = seeded()
    returns_or_refuses(billing, org, lambda: billing.reset_week(org, period_start))  # type: ignore[arg-type]


@given(
    org=orgs,
    plan_id=maybe(st.sampled_from(["free", "starter", "pro", "gold"])),
    status=maybe(st.sampled_from(["active", "trialing", "past_due", "canceled", "unpaid"])),
)
@example(org=ORG, plan_id="pro", status=[])
def test_subscribe(org: object, plan_id: object, status: object) -> None:
    """subscribe moves the org or raises a BillingError, writing nothing when it refuses."""
    billing = seeded()
    returns_or_refuses(billing, org, lambda: billing.subscribe(org, plan_id, status=status))  # type: ignore[arg-type]


@pytest.mark.parametrize("status", ["bogus", "", "ACTIVE", None, 1])
def test_subscribe_refuses_a_status_stripe_does_not_have(status: object) -> None:
    """An unknown subscription status is refused with InvalidInputError and never stored."""
    billing = seeded()
    before = journals(billing, [ORG])

    with pytest.raises(InvalidInputError):
        billing.subscribe(ORG, "pro", status=status)  # type: ignore[arg-type]

    assert before == journals(billing, [ORG])


@given(org=orgs, ref=maybe(cps.run_ids()), failed=st.booleans())
def test_payment_events(org: object, ref: object, failed: bool) -> None:
    """payment_failed and payment_succeeded apply or raise a BillingError."""
    billing = seeded()
    call = billing.payment_failed if failed else billing.payment_succeeded
    returns_or_refuses(billing, org, lambda: call(org, ref))  # type: ignore[arg-type]


# -- pure rules ------------------------------------------------------------------------------


@given(category=maybe(cps.cost_categories()), value=maybe(cps.dollar_costs()))
@example(category="gpu", value=HUGE)
@example(category=HUGE, value=-1)
def test_parse_cost(category: object, value: object) -> None:
    """parse_cost returns a Decimal or raises a BillingError."""
    parsed = value_or_billing_error(lambda: parse_cost(category, value))  # type: ignore[arg-type]

    assert parsed is None or isinstance(parsed, Decimal)


@given(costs=maybe(cps.cost_mappings() | cps.invalid_cost_mappings()))
def test_parse_costs(costs: object) -> None:
    """parse_costs returns a mapping (or None) or raises a BillingError."""
    parsed = value_or_billing_error(lambda: parse_costs(costs))

    assert parsed is None or all(isinstance(cost, Decimal) for cost in parsed.values())


@given(value=maybe(cps.step_keys() | cps.run_ids()))
def test_validate_step_and_run_id(value: object) -> None:
    """validate_step and validate_run_id return the value or raise a BillingError."""
    for validate in (validate_step, validate_run_id):
        checked = value_or_billing_error(partial(validate, value))

        assert checked is None or value == checked


@given(resource=maybe(st.just("documents")), action=maybe(st.just("create")))
@example(resource=HUGE, action="create")
def test_counter_name(resource: object, action: object) -> None:
    """counter_name returns ``resource.action`` or raises a BillingError."""
    name = value_or_billing_error(lambda: counter_name(resource, action))

    assert name is None or f"{resource}.{action}" == name
