"""Batched sweeps (``sweep_batch_size`` > 1): the same journal as one org at a time, per-org
isolation when an org cannot be committed in the batch, and the commands they cost."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from decimal import Decimal
from typing import Any

from compute_pricing import Billing, FakeClock, SequentialIds
from compute_pricing.journal import Snapshot
from compute_pricing.memory import InMemoryAccountStore
from compute_pricing.results import SweepSummary
from tests.conftest import START, BillingFactory, compute_config
from tests.support.stores import STORE_KINDS

ORGS = [f"org_{i:02d}" for i in range(12)]


def _seeded(billing: Billing) -> None:
    """Twelve orgs: starter, a charge, a small pack; the last three past due (never reset)."""
    for i, org in enumerate(ORGS):
        billing.subscribe(org, "starter")
        billing.attribute(org, "run_1", {"scrap": Decimal("0.002")})
        billing.extras.credit_pack(org, "small", f"cs_{org}")
        if i >= 9:
            billing.payment_failed(org, f"in_{org}")


def _journal(billing: Billing) -> dict[str, list[tuple[str, str, Any]]]:
    """Each org's entries as (type, key, outcome)."""
    store = billing.accounts.store
    return {
        org: [(e.type, e.key, dict(e.outcome)) for e in store.read_journal(org)] for org in ORGS
    }


def _sweeps(billing: Billing, clock: FakeClock) -> list[SweepSummary]:
    clock.advance(timedelta(days=31))
    return [billing.reset_all_due(), billing.extras.expire_old_entries(), billing.dunning_sweep()]


def test_batched_sweeps_write_what_single_sweeps_write(store_kind: str) -> None:
    """Reset, expiry and dunning in batches of 5: the same summaries, journal and snapshots."""
    clocks = [FakeClock(START), FakeClock(START)]
    single, batched = (
        Billing(config, stores=STORE_KINDS[store_kind](c), clock=c, ids=SequentialIds())
        for config, c in zip(
            (compute_config(), compute_config(sweep_batch_size=5)), clocks, strict=True
        )
    )
    for billing in (single, batched):
        _seeded(billing)
    summaries = _sweeps(single, clocks[0])
    assert summaries == _sweeps(batched, clocks[1])
    assert ((9, 3), (12, 0), (3, 0)) == tuple((s.processed, s.skipped) for s in summaries)
    assert _journal(single) == _journal(batched)
    assert [single.accounts.load(org) for org in ORGS] == [
        batched.accounts.load(org) for org in ORGS
    ]


def test_an_org_the_batch_cannot_commit_is_done_singly(
    make_billing: BillingFactory, clock: FakeClock
) -> None:
    """A snapshot behind its journal (seq taken) and an org with two due lots: each once."""
    billing = make_billing(compute_config(sweep_batch_size=500))
    _seeded(billing)
    billing.extras.credit_pack("org_03", "small", "cs_second")
    behind = billing.accounts.store.read_snapshot("org_05")
    assert behind is not None
    billing.attribute("org_05", "run_2", {"scrap": Decimal("0.001")})
    # put the stored snapshot back one version, as a lost refresh would leave it
    stores: Any = billing.stores.accounts
    if isinstance(stores, InMemoryAccountStore):
        stores._snapshots["org_05"] = behind
    else:
        stores._accounts.delete_one({"org": "org_05"})
        stores.save_snapshot(behind)
    billing.accounts.cache.forget()
    summaries = _sweeps(billing, clock)
    assert ((9, 3), (12, 0), (3, 0)) == tuple((s.processed, s.skipped) for s in summaries)
    journal = _journal(billing)
    resets = Counter(
        org for org, entries in journal.items() for t, _, _ in entries if t == "ResetWeek"
    )
    expiries = Counter(
        org for org, entries in journal.items() for t, _, _ in entries if t == "ExpireLot"
    )
    assert dict.fromkeys(ORGS[:9], 1) == dict(resets)  # past due orgs are not reset
    assert {**dict.fromkeys(ORGS, 1), "org_03": 2} == dict(expiries)
    for org in ORGS:
        entries = billing.accounts.store.read_journal(org)
        assert list(range(1, len(entries) + 1)) == [entry.seq for entry in entries]
        snapshot = billing.accounts.store.read_snapshot(org)
        assert snapshot is not None
        assert Snapshot(org, len(entries), billing.accounts.load(org)[0], entries[-1].at) == (
            snapshot
        )
    again = [billing.reset_all_due(), billing.extras.expire_old_entries(), billing.dunning_sweep()]
    assert (0, 0, 0) == tuple(summary.processed for summary in again)
