"""The in-memory journal's retention option: bounded memory, exact sums, a bounded key window."""

from __future__ import annotations

from decimal import Decimal

import pytest

from compute_pricing import Billing, FakeClock
from compute_pricing.billing import InMemoryStores
from compute_pricing.memory import InMemoryAccountStore
from tests.conftest import START, compute_config

ORG = "org_keep"


def _billing(retain: int | None) -> Billing:
    clock = FakeClock(START)
    stores = InMemoryStores(clock, retain_keys=retain)
    return Billing(compute_config(), stores=stores, clock=clock)


def test_retention_keeps_only_entries_past_the_snapshot_and_a_key_window() -> None:
    """50 runs with ``retain_keys=3``: sums exact, no entry kept, the last 3 keys replay."""
    billing = _billing(3)
    billing.subscribe(ORG, "pro")
    for i in range(50):
        billing.attribute(ORG, f"run_{i}", {"scrap": Decimal("0.010")})
    assert 500 == billing.usage(ORG)["compute_used"]
    store = billing.stores.accounts
    assert [] == list(store.read_journal(ORG))
    assert 51 == billing.accounts.load(ORG)[1]
    assert True is billing.attribute(ORG, "run_49", {"scrap": Decimal("0.010")}).replayed
    assert store.find_entry(ORG, "attr:run_47:initial") is not None
    assert store.find_entry(ORG, "attr:run_46:initial") is None
    # what the option gives up: a key older than the window is decided again
    assert False is billing.attribute(ORG, "run_0", {"scrap": Decimal("0.010")}).replayed
    assert 510 == billing.usage(ORG)["compute_used"]


def test_without_retention_every_entry_and_key_is_kept() -> None:
    """The default keeps the whole journal: every key replays."""
    billing = _billing(None)
    billing.subscribe(ORG, "pro")
    for i in range(20):
        billing.attribute(ORG, f"run_{i}", {"scrap": Decimal("0.010")})
    assert 21 == len(billing.stores.accounts.read_journal(ORG))
    assert True is billing.attribute(ORG, "run_0", {"scrap": Decimal("0.010")}).replayed


def test_retention_window_must_hold_a_key() -> None:
    """``retain_keys=0`` is refused."""
    with pytest.raises(ValueError, match="retain_keys"):
        InMemoryAccountStore(retain_keys=0)
