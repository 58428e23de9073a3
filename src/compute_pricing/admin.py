"""Support and operator calls: ``billing.admin.show(org)`` and ``billing.admin.adjust(...)``.

``show`` gathers what a support person needs about one org in a JSON-ready mapping (usage,
balance, lots, subscription, the last journal entries). ``adjust`` credits (positive) or takes
back (negative) extras units once per ``ref``, with a reason journaled in the entry's outcome
and logged alongside; a retry with the same ``ref`` and reason changes nothing. Both are what
``compute-pricing admin show|adjust`` call.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs

from compute_pricing.errors import InvalidInputError
from compute_pricing.results import CreditResult
from compute_pricing.validation import MAX_REASON_LENGTH, require_org, validate_reason

if TYPE_CHECKING:
    from compute_pricing.billing import Billing

__all__ = ["MAX_REASON_LENGTH", "AdminService"]

log = logging.getLogger(__name__)

_MAX_ENTRIES = 100


def _plain(value: Any) -> Any:
    """``value`` as JSON-ready data (attrs classes as dicts, datetimes as ISO strings)."""
    if attrs.has(type(value)):
        return {f.name: _plain(getattr(value, f.name)) for f in attrs.fields(type(value))}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


class AdminService:
    """``billing.admin``: read one org's whole picture, or adjust its extras with a reason."""

    def __init__(self, billing: Billing) -> None:
        self._billing = billing

    def show(self, org: str, *, entries: int = 10) -> dict[str, Any]:
        """Usage, balance, lots, subscription and the last ``entries`` journal entries (<= 100)."""
        org = require_org(org)
        if not isinstance(entries, int) or isinstance(entries, bool) or entries < 0:
            raise InvalidInputError("entries", entries, "must be a whole number >= 0")
        billing = self._billing
        state, version = billing.accounts.load(org)
        balance = billing.extras.balance(org)
        journal = billing.stores.accounts.read_journal(
            org, after_seq=max(0, version - min(entries, _MAX_ENTRIES))
        )
        return {
            "org": org,
            "version": version,
            "subscription": _plain(state.subscription),
            "usage": billing.usage(org).to_dict(),
            "balance": {
                "balance": balance.balance,
                "spendable": balance.spendable,
                "debt": balance.debt,
            },
            "lots": _plain(state.lots),
            "journal": [
                {
                    "seq": entry.seq,
                    "key": entry.key,
                    "type": entry.type,
                    "at": entry.at.isoformat(),
                    "events": [event.name for event in entry.events],
                    "outcome": _plain(entry.outcome),
                }
                for entry in reversed(journal)
            ],
        }

    def adjust(self, org: str, units: int, reason: str, ref: str) -> CreditResult:
        """Credit (or, negative, debit) ``units`` of extras once per ``ref``, with ``reason``.

        The reason is journaled with the entry (``admin show`` lists it in the entry's outcome)
        and logged; a retry with the same ref and reason replays, another reason is a 409.
        """
        org = require_org(org)
        reason = validate_reason(reason)
        result = self._billing.extras.adjust(org, units, ref, reason=reason)
        log.info(
            "admin adjustment of %s: %+d units (%s)",
            org,
            result.units,
            reason,
            extra={
                "org": org,
                "units": result.units,
                "ref": ref,
                "reason": reason,
                "replayed": result.replayed,
                "balance": result.balance,
            },
        )
        return result
