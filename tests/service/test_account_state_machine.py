"""Stateful property test: random operations on several orgs keep every account invariant.

A hypothesis ``RuleBasedStateMachine`` drives ``Billing.in_memory`` through attributions (some
replayed with the same costs, some with other costs: a 409 that writes nothing), pack credits,
debits, partial refunds (some replayed, some with another amount: a 409), expiry sweeps,
week resets, plan changes, payment failures and recoveries, the dunning sweep and clock
jumps from a minute to ten days. After every step, for every org:

- the ledger balance is the sum of every ledger line, read from the journal and from the
  ledger view, and equals live lot remainders minus debt;
- no lot remainder and no debt is negative, and the snapshot keeps no spent lot that will
  never expire (it stays bounded); journal seqs are contiguous and the snapshot is the fold
  of the journal; everything committed was published once;
- every charge splits exactly into quota and extras, and its extras part was debited;
- each threshold fires at most once per (org, week);
- each week's usage is the units charged in it plus the debt settled into it, and a simple
  model of units charged per org agrees with the journal (no unit lost or doubled).
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, multiple, rule

from compute_pricing import (
    AccountEvent,
    AttributionResult,
    Billing,
    BillingConfig,
    ComputeCharged,
    CreditResult,
    DebtSettled,
    EventRecorder,
    ExtrasDebited,
    FakeClock,
    LotExpired,
    PackSettings,
    PlanSettings,
    ThresholdCrossed,
    WeekOpened,
)
from compute_pricing import commands as cmd
from compute_pricing.errors import IdempotencyConflictError, PaymentPastDueError
from compute_pricing.evolve import fold
from compute_pricing.money import cost_to_units, refund_units
from compute_pricing.rules.attribution import parse_costs
from compute_pricing.rules.gate import dunning_stage
from compute_pricing.rules.ledger import LedgerLine, ledger_lines
from compute_pricing.state import Account
from compute_pricing.testing import strategies as cps
from tests.conftest import START, BillingFactory, compute_config

ORGS = ("org-a", "org-b", "org-c")
PLANS = ("free", "starter", "pro")
#: Plan ratios of :func:`machine_config`, for the model's own unit count.
RATIOS = {
    "free": {"default": Decimal(1)},
    "starter": {"default": Decimal(1), "scrap": Decimal(1), "autofix": Decimal(2)},
    "pro": {"default": Decimal(1)},
}
CAP = 10_000
#: pack id -> (units, price in cents, expiry in days)
PACKS = {"small": (500, 900, 2), "big": (5_000, 4_900, 9), "forever": (100, 100, None)}

DAY = 24 * 60
#: Clock jumps in minutes, drawn often so weeks roll, lots expire and dunning runs its course.
JUMPS = (1, 60, DAY, 3 * DAY, 7 * DAY - 1, 7 * DAY, 7 * DAY + 1, 10 * DAY)

orgs = st.sampled_from(ORGS)
costs = st.none() | cps.cost_mappings(
    categories=st.sampled_from(["default", "scrap", "autofix", "llm"]), max_dollars=4, max_size=3
)
big_costs = cps.cost_mappings(categories=st.just("autofix"), max_dollars=12, max_size=1)


def machine_config() -> BillingConfig:
    """Small quotas, short pack expiries and dunning periods, so every path is reached."""
    return compute_config(
        plans=(
            PlanSettings(plan_id="free", compute_quota=0),
            PlanSettings(
                plan_id="starter",
                compute_quota=300,
                ratios={"default": 1, "scrap": 1, "autofix": 2},
            ),
            PlanSettings(plan_id="pro", compute_quota=1_500, signup_grant=300),
        ),
        packs=tuple(
            PackSettings(pack_id=pack_id, units=units, price_cents=cents, expiry_days=days)
            for pack_id, (units, cents, days) in PACKS.items()
        ),
        grace_days=2,
        dunning_days=5,
    )


def model_units(plan_id: str, step_costs: dict[str, Decimal] | None) -> int:
    """The model's own count of a step's units: base unit, per-category floor, the cap."""
    if step_costs is None:
        return 1
    ratios = RATIOS[plan_id]
    total = sum(
        cost_to_units(cost, ratios.get(category, ratios["default"]), 1000)
        for category, cost in step_costs.items()
    )
    return min(total, CAP)


class AccountMachine(RuleBasedStateMachine):
    """Random billing operations on a few orgs, with the account invariants checked each step."""

    attributed = Bundle("attributed")
    sessions = Bundle("sessions")
    refunds = Bundle("refunds")

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock(START)
        self.recorder = EventRecorder(keep=None)
        self.billing = Billing.in_memory(
            machine_config(), clock=self.clock, publisher=self.recorder
        )
        self.serial = itertools.count(1)
        self.first_attribution: dict[tuple[str, str, str], AttributionResult] = {}
        self.first_refund_cents: dict[tuple[str, str], int] = {}
        self.first_costs: dict[tuple[str, str, str], dict[str, Decimal] | None] = {}
        self.first_credit: dict[tuple[str, str], CreditResult] = {}
        self.first_refund: dict[tuple[str, str], CreditResult] = {}
        self.units: Counter[str] = Counter()
        self.from_quota: Counter[str] = Counter()
        self.from_extras: Counter[str] = Counter()

    # -- helpers ---------------------------------------------------------------------------

    def fresh(self, prefix: str) -> str:
        """A new unique reference."""
        return f"{prefix}_{next(self.serial)}"

    def loaded(self, org: str) -> tuple[Account, int]:
        """The org's current state and version."""
        return self.billing.accounts.load(org)

    def journal_events(self, org: str) -> Iterator[AccountEvent]:
        """Every event the org's journal holds, in commit order."""
        for entry in self.billing.accounts.store.read_journal(org):
            yield from entry.events

    def balance(self, org: str) -> int:
        """The org's ledger balance."""
        return self.billing.extras.balance(org).balance

    # -- compute ---------------------------------------------------------------------------

    @rule(
        target=attributed,
        org=orgs,
        run_id=cps.run_ids(max_size=6),
        step=cps.step_keys(max_size=4),
        step_costs=costs | big_costs,
    )
    def attribute(
        self, org: str, run_id: str, step: str, step_costs: dict[str, Decimal] | None
    ) -> Any:
        """Charge a run step; a key drawn twice is checked as a replay instead."""
        key = (org, run_id, step)
        if key in self.first_attribution:
            self.replay_attribution(key, step_costs)
            return multiple()
        plan_id = self.loaded(org)[0].subscription.plan_id
        result = self.billing.attribute(org, run_id, step_costs, step)
        assert not result.replayed
        assert model_units(plan_id, step_costs) == result.units
        assert result.units == result.from_quota + result.from_extras
        self.first_attribution[key] = result
        self.first_costs[key] = step_costs
        self.units[org] += result.units
        self.from_quota[org] += result.from_quota
        self.from_extras[org] += result.from_extras
        return key

    @rule(key=attributed, step_costs=costs, same=st.booleans())
    def replay_attribution(
        self, key: tuple[str, str, str], step_costs: dict[str, Decimal] | None, same: bool = True
    ) -> None:
        """A charged run step sent again replays with its costs, is a 409 with other costs."""
        org, run_id, step = key
        if same:
            step_costs = self.first_costs[key]
        before = self.loaded(org)
        asked = cmd.Attribute(run_id, step, parse_costs(step_costs)).request()
        first = cmd.Attribute(run_id, step, parse_costs(self.first_costs[key])).request()
        if asked == first:
            result = self.billing.attribute(org, run_id, step_costs, step)
            assert attrs.evolve(self.first_attribution[key], replayed=True) == result
        else:
            with pytest.raises(IdempotencyConflictError) as raised:
                self.billing.attribute(org, run_id, step_costs, step)
            assert "costs" == raised.value.field
        assert before == self.loaded(org)

    # -- extras ----------------------------------------------------------------------------

    @rule(target=sessions, org=orgs, pack_id=st.sampled_from(sorted(PACKS)))
    def credit_pack(self, org: str, pack_id: str) -> tuple[str, str, str]:
        """Credit a purchased pack under a new checkout session."""
        session = self.fresh("cs")
        before = self.balance(org)
        result = self.billing.extras.credit_pack(org, pack_id, session)
        units, _, _ = PACKS[pack_id]
        assert CreditResult(True, units, before + units) == result
        self.first_credit[(org, session)] = result
        return org, session, pack_id

    @rule(purchase=sessions)
    def replay_credit(self, purchase: tuple[str, str, str]) -> None:
        """Crediting the same checkout session again replays the first credit."""
        org, session, pack_id = purchase
        before = self.loaded(org)
        result = self.billing.extras.credit_pack(org, pack_id, session)
        assert before == self.loaded(org)
        assert attrs.evolve(self.first_credit[(org, session)], replayed=True) == result

    @rule(org=orgs, units=st.integers(1, 3_000))
    def debit(self, org: str, units: int) -> None:
        """Spend extras directly (lots short -> debt); refused, writing nothing, once degraded."""
        before, version = self.balance(org), self.loaded(org)[1]
        subscription = self.loaded(org)[0].subscription
        degraded = "degraded" == dunning_stage(
            subscription, self.clock.now(), self.billing.config.grace_days
        )
        if degraded:
            with pytest.raises(PaymentPastDueError):
                self.billing.extras.debit(org, units, self.fresh("debit"))
            assert (before, version) == (self.balance(org), self.loaded(org)[1])
            return
        result = self.billing.extras.debit(org, units, self.fresh("debit"))
        assert CreditResult(True, units, before - units) == result

    @rule(target=refunds, purchase=sessions, amount=st.integers(1, 5_000))
    def refund_partial(self, purchase: tuple[str, str, str], amount: int) -> tuple[str, str, str]:
        """Refund part of a purchase (within its price) under a new Stripe refund id."""
        org, session, pack_id = purchase
        pack_units, price, _ = PACKS[pack_id]
        cents = 1 + (amount - 1) % price
        refund_id = self.fresh("re")
        before = self.balance(org)
        result = self.billing.extras.refund_partial(org, session, cents, refund_id)
        expected = refund_units(cents, pack_units, price)
        assert CreditResult(True, expected, before - expected) == result
        self.first_refund[(org, refund_id)] = result
        self.first_refund_cents[(org, refund_id)] = cents
        return org, session, refund_id

    @rule(refund=refunds, amount=st.integers(1, 100))
    def replay_refund(self, refund: tuple[str, str, str], amount: int) -> None:
        """A Stripe refund id seen again replays its outcome; with another amount it is a 409."""
        org, session, refund_id = refund
        first_cents = self.first_refund_cents[(org, refund_id)]
        before = self.loaded(org)
        if amount % 2:
            result = self.billing.extras.refund_partial(org, session, first_cents, refund_id)
            assert attrs.evolve(self.first_refund[(org, refund_id)], replayed=True) == result
        elif amount != first_cents:
            with pytest.raises(IdempotencyConflictError) as raised:
                self.billing.extras.refund_partial(org, session, amount, refund_id)
            assert "amount_cents" == raised.value.field
        assert before == self.loaded(org)

    @rule()
    def expire_old_entries(self) -> None:
        """Run the pack expiry sweep."""
        assert {} == self.billing.extras.expire_old_entries().errors

    # -- weeks, plans, dunning, time -------------------------------------------------------

    @rule(org=orgs, hours_back=st.none() | st.integers(0, 240))
    def reset_week(self, org: str, hours_back: int | None) -> None:
        """Reset one org's week, sometimes with a Stripe period start; a no-op writes nothing."""
        period_start = (
            None if hours_back is None else self.clock.now() - timedelta(hours=hours_back)
        )
        before = self.loaded(org)
        outcome = self.billing.reset_week(org, period_start)
        if not outcome["applied"]:
            assert before == self.loaded(org)

    @rule()
    def reset_all_due(self) -> None:
        """Run the weekly reset sweep."""
        assert {} == self.billing.reset_all_due().errors

    @rule(org=orgs, plan_id=st.sampled_from(PLANS))
    def subscribe(self, org: str, plan_id: str) -> None:
        """Move an org to another plan (usage preserved)."""
        self.billing.subscribe(org, plan_id)
        assert plan_id == self.loaded(org)[0].subscription.plan_id

    @rule(org=orgs)
    def payment_failed(self, org: str) -> None:
        """An invoice payment failed."""
        self.billing.payment_failed(org, self.fresh("in"))
        assert "past_due" == self.loaded(org)[0].subscription.status

    @rule(org=orgs)
    def payment_succeeded(self, org: str) -> None:
        """An invoice was paid."""
        self.billing.payment_succeeded(org, self.fresh("in"))
        assert "active" == self.loaded(org)[0].subscription.status

    @rule()
    def dunning_sweep(self) -> None:
        """Run the dunning sweep."""
        assert {} == self.billing.dunning_sweep().errors

    @rule(minutes=st.sampled_from(JUMPS) | st.integers(1, 10 * DAY))
    def advance(self, minutes: int) -> None:
        """Let between a minute and ten days pass (week and grace boundaries often)."""
        self.clock.advance(minutes=minutes)

    # -- invariants ------------------------------------------------------------------------

    @invariant()
    def journal_is_contiguous_and_snapshot_is_its_fold(self) -> None:
        """Seqs run 1..n, the version is n, and the snapshot equals folding the journal."""
        for org in ORGS:
            entries = self.billing.accounts.store.read_journal(org)
            state, version = self.loaded(org)
            assert list(range(1, len(entries) + 1)) == [entry.seq for entry in entries]
            assert len(entries) == version
            assert fold(Account.new(org, "free"), self.journal_events(org)) == state
            assert state == self.billing.accounts.peek(org)

    @invariant()
    def ledger_balance_is_the_sum_of_ledger_lines(self) -> None:
        """Balance == sum of journal ledger lines == ledger view == lot remainders - debt."""
        for org in ORGS:
            state, _ = self.loaded(org)
            lines = [line for e in self.journal_events(org) for line in ledger_lines(e)]
            markers = [e for e in self.journal_events(org) if isinstance(e, LotExpired)]
            assert all(e.units >= 0 for e in markers)
            lots_minus_debt = (
                sum(lot.remaining for lot in state.lots) - state.usage_debt - state.refund_debt
            )
            assert sum(line.units for line in lines) == lots_minus_debt
            assert lots_minus_debt == self.balance(org)
            viewed: list[LedgerLine] = []
            page = 1
            while True:
                found = self.billing.extras.list_ledger(org, page=page, limit=100)
                assert len(lines) == found.total
                assert lots_minus_debt == found.balance
                viewed.extend(found.entries)
                if len(found.entries) < 100:
                    break
                page += 1
            assert list(reversed(lines)) == viewed

    @invariant()
    def lots_are_live_and_nothing_is_negative(self) -> None:
        """Lot remainders stay within 0..units, spent lots without expiry leave, debts >= 0."""
        for org in ORGS:
            state, _ = self.loaded(org)
            assert all(0 <= lot.remaining <= lot.units for lot in state.lots)
            assert [] == [lot for lot in state.lots if not lot.remaining and not lot.expires_at]
            assert state.usage_debt >= 0
            assert state.refund_debt >= 0

    @invariant()
    def every_charge_splits_exactly(self) -> None:
        """units == from_quota + from_extras for every charge, and extras parts were debited."""
        for org in ORGS:
            charges = [e for e in self.journal_events(org) if isinstance(e, ComputeCharged)]
            for charge in charges:
                assert charge.units == charge.from_quota + charge.from_extras
                assert charge.from_quota >= 0
                assert charge.from_extras >= 0
            assert self.units[org] == sum(c.units for c in charges)
            assert self.from_quota[org] == sum(c.from_quota for c in charges)
            assert self.from_extras[org] == sum(c.from_extras for c in charges)
            debited = sum(
                e.units
                for entry in self.billing.accounts.store.read_journal(org)
                if entry.type == "Attribute"
                for e in entry.events
                if isinstance(e, ExtrasDebited)
            )
            assert self.from_extras[org] == debited

    @invariant()
    def thresholds_fire_once_per_week(self) -> None:
        """No (org, week, threshold) is published twice, and each fired at its percentage."""
        crossed = [e for e in self.recorder.published if isinstance(e, ThresholdCrossed)]
        fired = Counter((e.org, e.week_key, e.threshold) for e in crossed)
        assert [] == [key for key, count in fired.items() if count > 1]
        assert all(e.used * 100 >= e.threshold * e.quota > 0 for e in crossed)

    @invariant()
    def week_usage_is_charges_plus_settlements(self) -> None:
        """Each week's used == its charges + settled debt; all weeks == model units + settled."""
        for org in ORGS:
            per_week: Counter[str] = Counter()
            closed: dict[str, int] = {}
            keys: list[str] = []
            for e in self.journal_events(org):
                if isinstance(e, ComputeCharged | DebtSettled):
                    per_week[e.week_key] += e.units
                elif isinstance(e, WeekOpened):
                    keys.append(e.week_key)
                    if e.closed_week_key is not None:
                        closed[e.closed_week_key] = e.closed_used or 0
            assert sorted(set(keys)) == keys  # strictly increasing, so reset keys are unique
            state, _ = self.loaded(org)
            if state.week is None:
                assert 0 == self.units[org]
                continue
            weeks = {**closed, state.week.key: state.week.used}
            assert {k: v for k, v in weeks.items() if v} == +per_week
            settled = sum(e.units for e in self.journal_events(org) if isinstance(e, DebtSettled))
            assert self.units[org] + settled == sum(weeks.values())

    @invariant()
    def every_commit_was_published_once(self) -> None:
        """The published account events of an org are exactly its journal, in order."""
        published: defaultdict[str, list[AccountEvent]] = defaultdict(list)
        for event in self.recorder.published:
            if isinstance(event, AccountEvent):
                published[event.org].append(event)
        for org in ORGS:
            assert list(self.journal_events(org)) == published[org]


class TestAccountStateMachine(AccountMachine.TestCase):  # type: ignore[misc, valid-type]
    """Random operations on several orgs never break a ledger, week, replay or event invariant."""

    settings = settings(max_examples=150, stateful_step_count=60, deadline=None)


def test_a_signup_grant_that_repays_overflow_debt_is_not_settled_again(
    make_billing: BillingFactory, clock: FakeClock
) -> None:
    """Debt repaid by a signup grant at a reset is not also settled from the new week."""
    billing = make_billing(machine_config())
    billing.attribute("org-a", "run_1", {"default": Decimal("0.1")})  # free: 100 units of debt
    billing.subscribe("org-a", "pro")  # signup grant of 300 units, paid out at the next reset
    clock.advance(days=7)

    outcome = billing.reset_week("org-a")

    state, _ = billing.accounts.load("org-a")
    assert 0 == outcome["settled"]
    assert 0 == state.usage_debt
    assert 0 == state.week.used if state.week else None
    assert 200 == billing.extras.balance("org-a").balance


def test_spent_lots_without_expiry_leave_the_snapshot(make_billing: BillingFactory) -> None:
    """A never-expiring lot drawn to zero is dropped, so the snapshot does not grow with use."""
    billing = make_billing(machine_config())
    for n in range(5):
        billing.extras.credit_pack("org-a", "forever", f"cs_{n}")
        billing.extras.debit("org-a", 100, f"debit_{n}")

    state, _ = billing.accounts.load("org-a")

    assert () == state.lots
    assert 0 == billing.extras.balance("org-a").balance
    assert 10 == billing.extras.list_ledger("org-a").total
