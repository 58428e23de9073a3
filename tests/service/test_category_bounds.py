"""Bounded cost categories: name pattern, categories per step, and the week's stored breakdown."""

from __future__ import annotations

import json
from decimal import Decimal

import bson
import pytest

from compute_pricing import Billing, FakeClock
from compute_pricing.billing import InMemoryStores
from compute_pricing.codec import account_to_document
from compute_pricing.errors import InvalidInputError, InvalidNameError
from compute_pricing.memory import SequentialIds
from compute_pricing.ports import AccountStore
from compute_pricing.state import OTHER_CATEGORY, fold_breakdown
from compute_pricing_mongo import MongoStores
from compute_pricing_mongo._names import ACCOUNTS
from tests.conftest import START, BillingFactory, compute_config
from tests.support.mongo_fixtures import DatabaseFactory

#: Stored snapshot size an account never exceeds, whatever its categories (64 of 64 characters
#: each at the default bound, plus every other field): measured about 5.9 KB.
SNAPSHOT_BYTES_BOUND = 8_192
_COST = Decimal("0.01")


def _name(index: int) -> str:
    """A distinct category name of the longest allowed length (64 characters)."""
    return f"c{index:063d}"


def _journal_length(store: AccountStore, org: str) -> int:
    return len(store.read_journal(org))


@pytest.mark.parametrize(
    "name", ["", "x" * 65, "a b", "gpu/hour", "é", "x" * 200_000, "$where", "a\x00b"]
)
def test_a_bad_category_name_is_refused_and_nothing_is_written(
    make_billing: BillingFactory, name: str
) -> None:
    """Names outside ^[A-Za-z0-9_.:-]{1,64}$ raise InvalidNameError on costs; no journal entry."""
    billing = make_billing()
    billing.attribute("acme", "run_0", {"scrap": _COST})

    with pytest.raises(InvalidNameError) as caught:
        billing.attribute("acme", "run_1", {"scrap": _COST, name: _COST})

    assert "costs" == caught.value.field
    assert 10 == billing.usage("acme")["compute_used"]
    assert 1 == _journal_length(billing.accounts.store, "acme")


def test_too_many_categories_in_one_step_are_refused(make_billing: BillingFactory) -> None:
    """More than compute.max_categories_per_run categories raise InvalidInputError on costs."""
    billing = make_billing(compute_config(compute={"max_categories_per_run": 4}))
    allowed = {f"c{i}": _COST for i in range(4)}

    assert 40 == billing.attribute("acme", "run_ok", allowed).units
    with pytest.raises(InvalidInputError) as caught:
        billing.attribute("acme", "run_big", {**allowed, "c4": _COST})

    assert ("costs", 40) == (caught.value.field, billing.usage("acme")["compute_used"])
    assert 1 == _journal_length(billing.accounts.store, "acme")


def test_the_week_breakdown_folds_past_its_bound_and_charges_stay_exact(
    make_billing: BillingFactory,
) -> None:
    """Past max_breakdown_categories new categories count under 'other'; totals are unchanged."""
    billing = make_billing(compute_config(compute={"max_breakdown_categories": 4}))
    for index in range(10):
        billing.attribute("acme", f"run_{index}", {f"c{index}": _COST, "c0": _COST})

    week = billing.usage("acme")

    assert 190 == week["compute_used"]
    assert {"c0": 100, "c1": 10, "c2": 10, OTHER_CATEGORY: 70} == dict(week["compute_breakdown"])


def test_the_fold_keeps_known_categories_and_caps_the_count() -> None:
    """fold_breakdown keeps categories the week holds and sends the rest past the limit to other."""
    week = {"a": 1, "b": 2, OTHER_CATEGORY: 3}

    assert {"a": 5, OTHER_CATEGORY: 9} == fold_breakdown(week, {"a": 5, "z": 4, "other": 5}, 3)
    assert {"a": 1, "c": 2, OTHER_CATEGORY: 3} == fold_breakdown(
        {"a": 0}, {"a": 1, "c": 2, "d": 3}, 3
    )


def _distinct_runs(billing: Billing, runs: int, per_run: int) -> None:
    for run in range(runs):
        costs = {_name(run * per_run + part): _COST for part in range(per_run)}
        billing.attribute("acme", f"run_{run}", costs)


def test_ten_thousand_runs_of_distinct_categories_keep_the_snapshot_bounded() -> None:
    """10,000 runs x 3 new 64-character names each: the encoded snapshot stays under 8 KB."""
    clock = FakeClock(START)
    stores = InMemoryStores(clock)
    billing = Billing(compute_config(), stores=stores, clock=clock, ids=SequentialIds())

    _distinct_runs(billing, 10_000, 3)

    snapshot = stores.accounts.read_snapshot("acme")
    assert snapshot is not None
    encoded = json.dumps(account_to_document(snapshot.state), default=str).encode()
    assert len(encoded) < SNAPSHOT_BYTES_BOUND
    assert 64 == len(snapshot.state.week.breakdown)  # type: ignore[union-attr]
    assert 300_000 == billing.usage("acme")["compute_used"]


def test_distinct_categories_keep_the_mongo_snapshot_bounded_on_the_wire(
    mongo_wire_databases: DatabaseFactory,
) -> None:
    """Over the wire, 150 runs x 4 new names (600 > 64) leave the BSON snapshot under 8 KB.

    A reduced count: the wire server's insert cost grows with the journal, and the bound is
    already reached after 16 runs; the in-memory test above covers 10,000 runs.
    """
    clock = FakeClock(START)
    db = mongo_wire_databases()
    billing = Billing(compute_config(), stores=MongoStores(db, clock=clock), clock=clock)

    _distinct_runs(billing, 150, 4)

    document = db[ACCOUNTS].find_one({"org": "acme"})
    assert document is not None
    assert len(bson.encode(document)) < SNAPSHOT_BYTES_BOUND
    assert 64 == len(billing.usage("acme")["compute_breakdown"])
    assert 6_000 == billing.usage("acme")["compute_used"]
