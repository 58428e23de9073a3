"""Reconciliation: each account's snapshot checked against its journal, read-only.

The snapshot is only a cache of folding the journal, so folding every entry from ``seq`` 1 up
to the snapshot's version must rebuild it exactly. :func:`reconcile_account` does that for one
org and names what differs (``balance``, ``debt``, ``lots``, ``week``, ``subscription``, any
other account field, or ``journal`` when the entries up to the version are not gapless).
:func:`reconcile_all` walks every org of the store's ``OrgDirectory`` and publishes an
:class:`~compute_pricing.events.AccountDiverged` event per divergent org. Nothing is ever
repaired: a divergence is for a person to look at (see the runbook in ``docs/operations.md``).

Stripe: when ``billing`` has a ``gateway`` (a ``PaymentGateway``), active and past-due orgs
whose subscription carries a provider subscription id are compared with the provider's status
through :func:`stripe_status_divergence`; without one the summary says
``stripe: "not configured"``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from compute_pricing.errors import BillingError, InvalidInputError
from compute_pricing.events import AccountDiverged
from compute_pricing.evolve import fold
from compute_pricing.ports import AccountStore, OrgDirectory, PaymentGateway
from compute_pricing.results import SweepSummary
from compute_pricing.state import Account

if TYPE_CHECKING:
    from compute_pricing.billing import Billing

__all__ = [
    "ReconcileReport",
    "reconcile_account",
    "reconcile_all",
    "stripe_status_divergence",
]

_BATCH = 500
#: Local statuses whose provider status is worth checking.
_STRIPE_CHECKED = frozenset({"active", "past_due"})


def reconcile_account(store: AccountStore, org: str, new: Account) -> tuple[str, ...]:
    """The fields where ``org``'s snapshot differs from its journal folded onto ``new``."""
    snapshot = store.read_snapshot(org)
    if snapshot is None:
        return ()
    entries = [e for e in store.read_journal(org) if e.seq <= snapshot.version]
    differs: list[str] = []
    if [e.seq for e in entries] != list(range(1, snapshot.version + 1)):
        differs.append("journal")
    folded = fold(new, [event for entry in entries for event in entry.events])
    stored = snapshot.state
    if folded.ledger_balance != stored.ledger_balance:
        differs.append("balance")
    if folded.debt != stored.debt:
        differs.append("debt")
    for field in attrs.fields(Account):
        if field.name in {"usage_debt", "refund_debt"}:
            continue
        if getattr(folded, field.name) != getattr(stored, field.name):
            differs.append(field.name)
    return tuple(differs)


def stripe_status_divergence(gateway: PaymentGateway, state: Account) -> str | None:
    """``"stripe_status"`` when the provider's status differs from the local one, else ``None``.

    Only active and past-due orgs whose subscription records a provider subscription id (the
    ``subscription_id`` attribute) are asked; the others answer ``None`` without a call.
    """
    sub = state.subscription
    subscription_id = getattr(sub, "subscription_id", None)
    if sub.status not in _STRIPE_CHECKED or not subscription_id:
        return None
    info = gateway.retrieve_subscription(str(subscription_id))
    return None if info.status == sub.status else "stripe_status"


@attrs.frozen
class ReconcileReport:
    """A reconciliation pass: the sweep tally, the divergent orgs, whether Stripe was asked."""

    summary: SweepSummary
    divergences: Mapping[str, tuple[str, ...]]
    stripe: str

    def extra(self) -> dict[str, Any]:
        """The summary-line fields: ``divergences`` (``[{org, fields}]``) and ``stripe``."""
        return {
            "divergences": [
                {"org": org, "fields": list(fields)}
                for org, fields in sorted(self.divergences.items())
            ],
            "stripe": self.stripe,
        }


def _directory(billing: Billing) -> OrgDirectory:
    directory: OrgDirectory | None = getattr(billing.stores, "orgs", None)
    if directory is None:
        raise InvalidInputError("stores", type(billing.stores).__name__, "has no org directory")
    return directory


def reconcile_all(
    billing: Billing,
    *,
    after: str | None = None,
    on_org: Callable[[str, str], None] | None = None,
) -> ReconcileReport:
    """Check every org past ``after``; ``processed`` counts orgs checked, never a write."""
    directory = _directory(billing)
    store = billing.stores.accounts
    gateway: PaymentGateway | None = getattr(billing, "gateway", None)
    processed = 0
    errors: dict[str, str] = {}
    divergences: dict[str, tuple[str, ...]] = {}
    while True:
        batch = directory.list_orgs(after=after, limit=_BATCH)
        for org in batch:
            outcome = "processed"
            try:
                fields = reconcile_account(store, org, billing.accounts.new_account(org))
                if gateway is not None:
                    snapshot = store.read_snapshot(org)
                    state = snapshot.state if snapshot is not None else None
                    found = stripe_status_divergence(gateway, state) if state else None
                    fields += (found,) if found else ()
                processed += 1
            except BillingError as exc:
                errors[org] = f"{exc.code}: {exc.message}"
                outcome = "error"
            else:
                if fields:
                    divergences[org] = fields
                    snapshot = store.read_snapshot(org)
                    billing.events.publish(
                        [
                            AccountDiverged(
                                org=org,
                                at=billing.clock.now(),
                                version=snapshot.version if snapshot else 0,
                                fields=fields,
                            )
                        ]
                    )
            if on_org is not None:
                on_org(org, outcome)
        if len(batch) < _BATCH:
            break
        after = batch[-1]
    return ReconcileReport(
        summary=SweepSummary(processed=processed, skipped=0, errors=errors),
        divergences=divergences,
        stripe="checked" if gateway is not None else "not configured",
    )
