"""Values the public API returns. Frozen; each has ``to_dict()``: plain JSON-ready data.

Instants become ISO-8601 strings; everything else is ints, strings, bools, lists and dicts.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from compute_pricing.rules.ledger import LedgerLine

__all__ = [
    "Admission",
    "AttributionResult",
    "CreditResult",
    "ExtrasBalance",
    "LedgerPage",
    "ReservationHandle",
    "SweepSummary",
    "UsageView",
]


@attrs.frozen
class AttributionResult:
    """What charging a run step did; a replay returns the first outcome with ``replayed``."""

    applied: bool
    units: int
    from_quota: int
    from_extras: int
    compute_used: int
    reason: str
    capped: bool = False
    replayed: bool = False

    @classmethod
    def from_outcome(cls, outcome: Mapping[str, Any], *, replayed: bool) -> AttributionResult:
        """Rebuild from a journaled outcome (once per attribution: positional, see below)."""
        # In field order: a keyword call to a class packs a dict on every call (CPython 3.11).
        return cls(
            bool(outcome["applied"]),
            int(outcome["units"]),
            int(outcome["from_quota"]),
            int(outcome["from_extras"]),
            int(outcome["compute_used"]),
            str(outcome["reason"]),
            bool(outcome.get("capped", False)),
            replayed,
        )

    def to_dict(self) -> dict[str, Any]:
        """Every field, JSON-ready (the attribution endpoint's body)."""
        return attrs.asdict(self)


@attrs.frozen
class Admission:
    """The gate let the request through: ``remaining`` units (``None`` when not metered)."""

    remaining: int | None
    degraded: bool = False
    payment_failing: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Every field, JSON-ready."""
        return attrs.asdict(self)


@attrs.frozen
class CreditResult:
    """A ledger operation's outcome: signed ``units`` and the ledger balance after it."""

    applied: bool
    units: int
    balance: int
    replayed: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Every field, JSON-ready."""
        return attrs.asdict(self)


@attrs.frozen
class ExtrasBalance:
    """``balance`` is the sum of ledger lines; ``spendable`` leaves out lots past expiry."""

    balance: int
    spendable: int
    debt: int

    def to_dict(self) -> dict[str, int]:
        """The ``GET /billing/extras/balance`` body."""
        return attrs.asdict(self)


@attrs.frozen
class LedgerPage:
    """One page of the ledger, newest first."""

    entries: tuple[LedgerLine, ...]
    page: int
    limit: int
    total: int
    balance: int

    def to_dict(self) -> dict[str, Any]:
        """The ``GET /billing/extras/ledger`` body."""
        return {
            "entries": [
                {
                    "kind": line.kind,
                    "units": line.units,
                    "ref": line.ref,
                    "at": line.at.isoformat(),
                    "lot_id": line.lot_id,
                    "draws": [list(d) for d in line.draws],
                }
                for line in self.entries
            ],
            "page": self.page,
            "limit": self.limit,
            "total": self.total,
            "balance": self.balance,
        }


@attrs.frozen
class ReservationHandle:
    """Units held for a run; pass it to ``commit`` or ``release``."""

    org: str
    reservation_id: str
    units: int
    expires_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """Every field, JSON-ready (``expires_at`` as ISO-8601)."""
        return {
            "org": self.org,
            "reservation_id": self.reservation_id,
            "units": self.units,
            "expires_at": self.expires_at.isoformat(),
        }


@attrs.frozen
class SweepSummary:
    """A cron sweep's tally; ``errors`` maps org to the error message (per-org isolation)."""

    processed: int = 0
    skipped: int = 0
    errors: Mapping[str, str] = attrs.field(factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Every field, JSON-ready."""
        return {"processed": self.processed, "skipped": self.skipped, "errors": dict(self.errors)}


@attrs.frozen
class UsageView:
    """``GET /billing/usage``: the compute shape in compute mode, the legacy shape otherwise."""

    mode: str
    body: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The HTTP body."""
        return dict(self.body)

    def __getitem__(self, key: str) -> Any:
        """``view["compute_used"]`` reads the body."""
        return self.body[key]
