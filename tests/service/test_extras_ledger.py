"""The extras ledger through the facade: packs, burn order, expiry, refunds, the ledger view."""

from __future__ import annotations

from decimal import Decimal

import pytest

from compute_pricing import (
    Billing,
    ExtrasCredited,
    ExtrasExhausted,
    FakeClock,
    InvalidAmountError,
    InvalidNameError,
    UnknownPackError,
    UnknownPurchaseError,
)


def test_credit_pack_is_idempotent_on_the_session(billing: Billing) -> None:
    """The same checkout session credits once; the replay says so."""
    first = billing.extras.credit_pack("org_a", "small", "cs_1")
    again = billing.extras.credit_pack("org_a", "small", "cs_1")
    assert (500, 500, False) == (first.units, first.balance, first.replayed)
    assert True is again.replayed
    assert 500 == billing.extras.balance("org_a").balance
    assert 1 == len(billing.events.of_type(ExtrasCredited))  # type: ignore[attr-defined]


def test_unknown_pack_is_refused_and_writes_nothing(billing: Billing) -> None:
    """An unknown pack id raises UnknownPackError (404)."""
    with pytest.raises(UnknownPackError) as caught:
        billing.extras.credit_pack("org_a", "huge", "cs_1")
    assert (404, "huge") == (caught.value.status, caught.value.pack_id)
    assert [] == list(billing.accounts.store.read_journal("org_a"))


def test_debits_burn_earliest_expiry_first_and_no_expiry_last(
    billing: Billing, clock: FakeClock
) -> None:
    """A never-expiring lot, a 365-day lot and a 30-day lot: the 30-day one goes first."""
    billing.extras.credit_pack("org_a", "forever", "cs_forever")
    billing.extras.credit_pack("org_a", "big", "cs_big")
    clock.advance(hours=1)
    billing.extras.credit_pack("org_a", "small", "cs_small")
    billing.extras.debit("org_a", 600, "manual_1")
    page = billing.extras.list_ledger("org_a")
    assert (("pack:cs_small", 500), ("pack:cs_big", 100)) == page.entries[0].draws


def test_a_new_credit_repays_debt_first(billing: Billing) -> None:
    """Debt of 80 then a 500-unit pack: balance 420, all of it spendable."""
    billing.extras.debit("org_a", 80, "d1")
    assert (-80, 80) == (
        billing.extras.balance("org_a").balance,
        billing.extras.balance("org_a").debt,
    )
    billing.extras.credit_pack("org_a", "small", "cs_1")
    balance = billing.extras.balance("org_a")
    assert (420, 420, 0) == (balance.balance, balance.spendable, balance.debt)


def test_an_expired_lot_never_funds_a_debit_even_before_the_sweep(
    billing: Billing, clock: FakeClock
) -> None:
    """At expires_at the lot stops being spendable; the sweep later writes its expiration."""
    billing.extras.credit_pack("org_a", "small", "cs_1")
    clock.advance(days=30)
    balance = billing.extras.balance("org_a")
    assert (500, 0) == (balance.balance, balance.spendable)
    billing.extras.debit("org_a", 10, "d1")
    assert -10 == billing.extras.balance("org_a").spendable

    summary = billing.extras.expire_old_entries()
    assert 1 == summary.processed
    assert (-10, -10) == (
        billing.extras.balance("org_a").balance,
        billing.extras.balance("org_a").spendable,
    )
    kinds = [(line.kind, line.units) for line in billing.extras.list_ledger("org_a").entries]
    assert [("expiration", -500), ("debit", -10), ("topup", 500)] == kinds
    assert 0 == billing.extras.expire_old_entries().processed


def test_a_fully_spent_lot_expires_with_a_hidden_zero_marker(
    billing: Billing, clock: FakeClock
) -> None:
    """Expiring a spent lot writes a zero entry that the ledger view does not show."""
    billing.extras.credit_pack("org_a", "small", "cs_1")
    billing.extras.debit("org_a", 500, "d1")
    clock.advance(days=31)
    assert 1 == billing.extras.expire_old_entries().processed
    page = billing.extras.list_ledger("org_a")
    assert (2, ["debit", "topup"]) == (page.total, [line.kind for line in page.entries])
    assert "expire:pack%3Acs_1" == billing.accounts.store.read_journal("org_a")[-1].key


def test_refund_draws_from_its_own_pack_first(billing: Billing) -> None:
    """Refunding half of the small pack takes 250 units from that pack's lot."""
    billing.extras.credit_pack("org_a", "big", "cs_big")
    billing.extras.credit_pack("org_a", "small", "cs_small")
    result = billing.extras.refund_partial("org_a", "cs_small", 450, "re_1")
    assert 250 == result.units
    page = billing.extras.list_ledger("org_a")
    assert (("pack:cs_small", 250),) == page.entries[0].draws


def test_refund_of_a_spent_pack_leaves_debt_repaid_by_the_next_pack(billing: Billing) -> None:
    """A refund larger than what is left makes debt; the next pack repays it first."""
    billing.extras.credit_pack("org_a", "small", "cs_1")
    billing.extras.debit("org_a", 400, "d1")
    billing.extras.refund_partial("org_a", "cs_1", 900, "re_1")
    assert (-400, 400) == (
        billing.extras.balance("org_a").balance,
        billing.extras.balance("org_a").debt,
    )
    billing.extras.credit_pack("org_a", "small", "cs_2")
    assert (100, 0) == (
        billing.extras.balance("org_a").balance,
        billing.extras.balance("org_a").debt,
    )


def test_refund_needs_a_known_purchase_and_a_sane_amount(billing: Billing) -> None:
    """Unknown sessions are 404; amounts outside 1..price are 400; nothing is written."""
    with pytest.raises(UnknownPurchaseError):
        billing.extras.refund_partial("org_a", "cs_none", 100, "re_1")
    billing.extras.credit_pack("org_a", "small", "cs_1")
    for amount in (0, -5, 901):
        with pytest.raises(InvalidAmountError):
            billing.extras.refund_partial("org_a", "cs_1", amount, "re_1")
    assert 1 == len(billing.accounts.store.read_journal("org_a"))


def test_exhausting_extras_emits_one_event(billing: Billing) -> None:
    """The debit that takes spendable extras from positive to zero emits extras.exhausted."""
    billing.extras.credit_pack("org_a", "forever", "cs_1")
    billing.attribute("org_a", "run_1", {"x": Decimal("0.060")})
    billing.attribute("org_a", "run_2", {"x": Decimal("0.060")})
    billing.attribute("org_a", "run_3", {"x": Decimal("0.060")})
    assert [-20] == [e.balance for e in billing.events.of_type(ExtrasExhausted)]  # type: ignore[attr-defined]


def test_ledger_pages_newest_first_with_clamped_limits(billing: Billing) -> None:
    """25 debits: page 2 of 10 holds the 11th..20th newest; limits clamp to 1..100."""
    billing.extras.credit_pack("org_a", "big", "cs_1")
    for i in range(25):
        billing.extras.debit("org_a", 1, f"d{i:02d}")
    page = billing.extras.list_ledger("org_a", page=2, limit=10)
    assert (26, 499_975) == (page.total, page.balance)
    assert [f"d{i:02d}" for i in range(14, 4, -1)] == [line.ref for line in page.entries]
    assert 1 == billing.extras.list_ledger("org_a", limit=0).limit
    assert 100 == billing.extras.list_ledger("org_a", limit=1000).limit
    assert 20 == billing.extras.list_ledger("org_a").limit
    last = billing.extras.list_ledger("org_a", page=3, limit=10).to_dict()
    assert ("topup", 500_000) == (last["entries"][-1]["kind"], last["entries"][-1]["units"])


def test_adjustments_are_signed_and_idempotent(billing: Billing) -> None:
    """A +50 and a -20 adjustment leave 30; replaying either changes nothing."""
    billing.extras.adjust("org_a", 50, "support_1")
    billing.extras.adjust("org_a", -20, "support_2")
    assert True is billing.extras.adjust("org_a", 50, "support_1").replayed
    assert 30 == billing.extras.balance("org_a").balance
    with pytest.raises(InvalidAmountError):
        billing.extras.adjust("org_a", 0, "support_3")


@pytest.mark.parametrize("units", [0, -1, True, 1.5])
def test_debit_needs_positive_whole_units(billing: Billing, units: object) -> None:
    """Debits of zero, negative, boolean or fractional units are refused."""
    with pytest.raises(InvalidAmountError) as caught:
        billing.extras.debit("org_a", units, "d1")  # type: ignore[arg-type]
    assert "units" == caught.value.field


def test_refs_are_validated(billing: Billing) -> None:
    """An empty ref id is refused with the field named."""
    with pytest.raises(InvalidNameError) as caught:
        billing.extras.debit("org_a", 1, "")
    assert "ref_id" == caught.value.field
