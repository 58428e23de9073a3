"""Reconciliation: each account's snapshot checked against its journal, read-only.

The snapshot is only a cache of folding the journal, so folding every entry from ``seq`` 1 up
to the snapshot's version must rebuild it exactly. :func:`reconcile_account` does that for one
org and names what differs (``balance``, ``debt``, ``lots``, ``week``, ``subscription``, any
other account field, or ``journal`` when the entries up to the version are not gapless).
:func:`reconcile_all` walks every org of the store's ``OrgDirectory`` and publishes an
:class:`~compute_pricing.events.AccountDiverged` event per divergent org. Nothing is ever
repaired: a divergence is for a person to look at (see the runbook in ``docs/operations.md``).

Stripe: when ``billing.gateway`` is set, every active, trialing or past-due org whose
subscription is linked to a provider subscription (``Subscription.subscription_id``) is
compared with the provider's status through :func:`stripe_status_divergence`; a difference is
the field ``stripe_status`` (with both statuses in the summary), a provider failure is that
org's error. Without a gateway the summary says ``stripe: "not configured"``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from compute_pricing.errors import BillingError
from compute_pricing.events import AccountDiverged
from compute_pricing.evolve import fold
from compute_pricing.journal import Snapshot
from compute_pricing.ports import AccountStore, PaymentGateway
from compute_pricing.results import SweepSummary
from compute_pricing.state import Account

if TYPE_CHECKING:
    from compute_pricing.billing import Billing

__all__ = [
    "STRIPE_CHECKED",
    "ReconcileReport",
    "StripeDivergence",
    "reconcile_account",
    "reconcile_all",
    "stripe_status_divergence",
]

_BATCH = 500
#: Local subscription statuses compared with the provider's.
STRIPE_CHECKED = frozenset({"active", "past_due", "trialing"})


def _journal_divergence(
    store: AccountStore, org: str, new: Account, snapshot: Snapshot
) -> tuple[str, ...]:
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


def reconcile_account(store: AccountStore, org: str, new: Account) -> tuple[str, ...]:
    """The fields where ``org``'s snapshot differs from its journal folded onto ``new``."""
    snapshot = store.read_snapshot(org)
    return () if snapshot is None else _journal_divergence(store, org, new, snapshot)


@attrs.frozen
class StripeDivergence:
    """The provider's status of ``subscription_id`` is not the ``local`` one."""

    subscription_id: str
    local: str
    provider: str | None

    def to_dict(self) -> dict[str, str | None]:
        """JSON-ready: ``subscription_id``, ``local``, ``stripe``."""
        return {
            "subscription_id": self.subscription_id,
            "local": self.local,
            "stripe": self.provider,
        }


def stripe_status_divergence(gateway: PaymentGateway, state: Account) -> StripeDivergence | None:
    """How the provider's subscription status differs from ``state``'s, else ``None``.

    Only active, trialing and past-due orgs whose subscription is linked to a provider
    subscription (``Subscription.subscription_id``) are asked; the others answer ``None``
    without a call. A provider failure raises its ``PaymentProviderError``.
    """
    sub = state.subscription
    if sub.status not in STRIPE_CHECKED or not sub.subscription_id:
        return None
    info = gateway.retrieve_subscription(sub.subscription_id)
    if info.status == sub.status:
        return None
    return StripeDivergence(sub.subscription_id, sub.status, info.status)


@attrs.frozen
class ReconcileReport:
    """A reconciliation pass: the sweep tally, the divergent orgs, whether Stripe was asked.

    ``stripe_statuses`` holds, per org, the status the provider reported when it differs.
    """

    summary: SweepSummary
    divergences: Mapping[str, tuple[str, ...]]
    stripe: str
    stripe_statuses: Mapping[str, StripeDivergence] = attrs.field(factory=dict)

    def extra(self) -> dict[str, Any]:
        """The summary-line fields: ``divergences`` (``[{org, fields[, stripe]}]``), ``stripe``."""
        found: list[dict[str, Any]] = []
        for org, fields in sorted(self.divergences.items()):
            item: dict[str, Any] = {"org": org, "fields": list(fields)}
            if org in self.stripe_statuses:
                item["stripe"] = self.stripe_statuses[org].to_dict()
            found.append(item)
        return {"divergences": found, "stripe": self.stripe}


def _error(exc: BillingError, prefix: str = "") -> str:
    return f"{prefix}{exc.code}: {exc.message}"


def reconcile_all(
    billing: Billing,
    *,
    after: str | None = None,
    on_org: Callable[[str, str], None] | None = None,
) -> ReconcileReport:
    """Check every org past ``after``; ``processed`` counts orgs checked, never a write.

    An org whose check raised (its store read, or the provider when ``billing.gateway`` is
    set) is listed in the summary's errors, the Stripe ones prefixed ``stripe: ``; a journal
    divergence found before a Stripe failure is still reported.
    """
    directory = billing.stores.orgs
    store = billing.stores.accounts
    gateway = billing.gateway
    processed = 0
    errors: dict[str, str] = {}
    divergences: dict[str, tuple[str, ...]] = {}
    statuses: dict[str, StripeDivergence] = {}
    while True:
        batch = directory.list_orgs(after=after, limit=_BATCH)
        for org in batch:
            outcome = "processed"
            fields: tuple[str, ...] = ()
            snapshot: Snapshot | None = None
            try:
                snapshot = store.read_snapshot(org)
                if snapshot is not None:
                    new = billing.accounts.new_account(org)
                    fields = _journal_divergence(store, org, new, snapshot)
            except BillingError as exc:
                errors[org] = _error(exc)
                outcome = "error"
            if gateway is not None and snapshot is not None:
                try:
                    status = stripe_status_divergence(gateway, snapshot.state)
                except BillingError as exc:
                    errors.setdefault(org, _error(exc, "stripe: "))
                    outcome = "error"
                else:
                    if status is not None:
                        statuses[org] = status
                        fields += ("stripe_status",)
            if outcome == "processed":
                processed += 1
            if fields:
                divergences[org] = fields
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
        stripe_statuses=statuses,
    )
