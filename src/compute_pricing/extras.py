"""Extras use cases (docs/rules.md "Extras ledger"): packs, debits, refunds, expiry, ledger.

Every write goes through :class:`~compute_pricing.accounts.AccountService`, so each is one
idempotent commit on the org's account; the ledger view reads the journal.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import islice
from typing import SupportsInt

from compute_pricing import commands as cmd
from compute_pricing.accounts import SINGLY, AccountService, Committed
from compute_pricing.errors import InvalidAmountError, UnknownPackError, UnknownPurchaseError
from compute_pricing.events import ExtrasCredited
from compute_pricing.keys import journal_key
from compute_pricing.results import CreditResult, ExtrasBalance, LedgerPage, SweepSummary
from compute_pricing.rules.ledger import LedgerLine, ledger_lines
from compute_pricing.state import Account
from compute_pricing.validation import require_org, require_units, validate_reason, validate_ref

__all__ = ["ExtrasService"]

MAX_LEDGER_LIMIT = 100


def _credit_result(done: Committed) -> CreditResult:
    outcome = done.outcome
    return CreditResult(
        applied=bool(outcome.get("applied", False)),
        units=int(outcome.get("units", 0)),
        balance=int(outcome.get("balance", 0)),
        replayed=done.replayed,
    )


def _whole(field: str, value: object) -> int:
    """``int(value)`` (query strings such as ``"2"`` pass), or :class:`InvalidAmountError`."""
    if isinstance(value, (SupportsInt, str, bytes)):
        try:
            return int(value)
        except (ValueError, OverflowError) as exc:
            raise InvalidAmountError(field, value, "must be a whole number") from exc
    raise InvalidAmountError(field, value, "must be a whole number")


class ExtrasService:
    """``billing.extras``: the prepaid extras ledger of each org."""

    def __init__(self, accounts: AccountService, sweep: Callable[..., SweepSummary]) -> None:
        self._accounts = accounts
        self._sweep = sweep

    def credit_pack(self, org: str, pack_id: str, stripe_session_id: str) -> CreditResult:
        """Credit a purchased pack once per checkout session (a replay changes nothing)."""
        org = require_org(org)
        if self._accounts.config.pack(pack_id) is None:
            raise UnknownPackError(pack_id)
        session = validate_ref("stripe_session_id", stripe_session_id)
        return _credit_result(self._accounts.execute(org, cmd.CreditPack(pack_id, session)))

    def debit(self, org: str, units: int, ref_id: str) -> CreditResult:
        """Spend ``units`` of extras once per ``ref_id``; short lots become debt."""
        org = require_org(org)
        command = cmd.Debit(validate_ref("ref_id", ref_id), require_units("units", units))
        return _credit_result(self._accounts.execute(org, command))

    def adjust(self, org: str, units: int, ref: str, *, reason: str | None = None) -> CreditResult:
        """A signed manual correction, once per ``ref`` (positive repays debt first).

        ``reason`` is journaled with the entry (its outcome); the same ``ref`` asked again with
        other units or another reason is an ``IdempotencyConflictError``.
        """
        org = require_org(org)
        command = cmd.Adjust(
            validate_ref("ref", ref),
            require_units("units", units, signed=True),
            None if reason is None else validate_reason(reason),
        )
        return _credit_result(self._accounts.execute(org, command))

    def refund_partial(
        self, org: str, stripe_session_id: str, amount_cents: int, stripe_refund_id: str
    ) -> CreditResult:
        """Take back the units ``amount_cents`` of a pack purchase paid for, once per refund."""
        org = require_org(org)
        session = validate_ref("stripe_session_id", stripe_session_id)
        refund_id = validate_ref("stripe_refund_id", stripe_refund_id)
        amount = require_units("amount_cents", amount_cents)
        purchase = self._accounts.store.find_entry(org, journal_key("pack", session))
        credit = (
            next((e for e in purchase.events if isinstance(e, ExtrasCredited)), None)
            if purchase is not None
            else None
        )
        if credit is None or credit.price_cents is None:
            raise UnknownPurchaseError(session)
        if amount > credit.price_cents:
            raise InvalidAmountError(
                "amount_cents", amount, f"exceeds the purchase price of {credit.price_cents}"
            )
        command = cmd.Refund(
            refund_id=refund_id,
            session_id=session,
            amount_cents=amount,
            pack_units=credit.units,
            pack_price_cents=credit.price_cents,
        )
        return _credit_result(self._accounts.execute(org, command))

    def balance(self, org: str) -> ExtrasBalance:
        """Ledger balance, spendable balance (lots past expiry left out) and debt."""
        org = require_org(org)
        state, _ = self._accounts.load(org)
        now = self._accounts.clock.now()
        return ExtrasBalance(
            balance=state.ledger_balance, spendable=state.spendable(now), debt=state.debt
        )

    def list_ledger(self, org: str, page: int = 1, limit: int = 20) -> LedgerPage:
        """Ledger lines newest first; ``limit`` clamped to 1..100, ``page`` to >= 1."""
        org = require_org(org)
        page = max(1, _whole("page", page))
        limit = min(MAX_LEDGER_LIMIT, max(1, _whole("limit", limit)))
        state, _ = self._accounts.load(org)
        lines = (
            line
            for entry in self._accounts.store.iter_ledger(org)
            for line in reversed(_lines(entry.events))
        )
        start = min((page - 1) * limit, state.ledger_lines)  # islice needs start <= maxsize
        entries = tuple(islice(lines, start, start + limit))
        return LedgerPage(
            entries=entries,
            page=page,
            limit=limit,
            total=state.ledger_lines,
            balance=state.ledger_balance,
        )

    def expire_old_entries(
        self,
        *,
        after: str | None = None,
        dry_run: bool = False,
        on_org: Callable[[str, str], None] | None = None,
    ) -> SweepSummary:
        """Expire every lot past its ``expires_at``: one entry per lot, key ``expire:<lot>``.

        ``after`` resumes past that org, ``dry_run`` counts without writing, ``on_org`` is told
        each org's outcome (as for ``Billing.reset_all_due``).
        """
        at = self._accounts.clock.now()

        def due(state: Account) -> list[str]:
            return [lot.lot_id for lot in state.lots if lot.expires_at and lot.expires_at <= at]

        def expire(org: str) -> bool:
            if dry_run:
                return bool(due(self._accounts.load(org)[0]))
            # One snapshot read; each commit answers the caught-up state the next lot is
            # picked from, so a snapshot behind the journal costs a catch-up, not a lot.
            state = self._accounts.peek(org, keep=True)
            changed, tried = False, set()
            while todo := [lot_id for lot_id in due(state) if lot_id not in tried]:
                tried.add(todo[0])
                done = self._accounts.execute(org, cmd.ExpireLot(todo[0]))
                changed = changed or bool(done.events)
                state = done.state if done.state is not None else self._accounts.load(org)[0]
            return changed

        def batched(state: Account) -> object:
            lots = due(state)
            return cmd.ExpireLot(lots[0]) if len(lots) == 1 else SINGLY  # several, or none

        return self._sweep(
            self._accounts.store.orgs_with_expiring_lots,
            at,
            expire,
            after=after,
            on_org=on_org,
            bulk=None if dry_run else ("snapshots_with_expiring_lots", batched),
        )


def _lines(events: tuple[object, ...]) -> list[LedgerLine]:
    return [line for e in events for line in ledger_lines(e)]  # type: ignore[arg-type]
