"""Commands: what a use case asks of one account, each with its idempotency key.

A command's :meth:`~Command.key` is derived from domain identity, never random
(``"<run_id>:<step>"``, ``"pack:<session_id>"``, ``"refund:<refund_id>"``, ``"expire:<lot_id>"``,
``"reset:<week_key>"``...). The journal holds at most one entry per key and org, so a command
sent twice is applied once.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

import attrs

from compute_pricing.plans import Plan
from compute_pricing.state import Account

__all__ = [
    "Adjust",
    "Attribute",
    "ChangePlan",
    "Command",
    "CreditPack",
    "Debit",
    "ExpireLot",
    "ExpireSubscription",
    "FailPayment",
    "RecordUsage",
    "RecoverPayment",
    "Refund",
    "Release",
    "Reserve",
    "ResetWeek",
]


@attrs.frozen
class Command:
    """Base of every account command."""

    def key(self, state: Account) -> str:
        """The idempotency key of this command on ``state``'s account."""
        raise NotImplementedError


@attrs.frozen
class Attribute(Command):
    """Charge a run step's costs (already validated) to the week, then to extras."""

    run_id: str
    step: str
    costs: Mapping[str, Decimal] | None
    reservation_id: str | None = None

    def key(self, state: Account) -> str:
        """``<run_id>:<step>``."""
        return f"{self.run_id}:{self.step}"


@attrs.frozen
class Reserve(Command):
    """Hold ``units`` for a run for ``ttl_seconds`` so concurrent runs cannot overspend."""

    reservation_id: str
    units: int
    ttl_seconds: int

    def key(self, state: Account) -> str:
        """``reserve:<reservation_id>``."""
        return f"reserve:{self.reservation_id}"


@attrs.frozen
class Release(Command):
    """Give back a reservation's units without charging anything."""

    reservation_id: str

    def key(self, state: Account) -> str:
        """``release:<reservation_id>``."""
        return f"release:{self.reservation_id}"


@attrs.frozen
class CreditPack(Command):
    """Credit a purchased pack, once per Stripe checkout session."""

    pack_id: str
    session_id: str

    def key(self, state: Account) -> str:
        """``pack:<session_id>``."""
        return f"pack:{self.session_id}"


@attrs.frozen
class Adjust(Command):
    """A manual signed correction of the extras balance (support, migrations)."""

    ref: str
    units: int

    def key(self, state: Account) -> str:
        """``adjust:<ref>``."""
        return f"adjust:{self.ref}"


@attrs.frozen
class Debit(Command):
    """Spend ``units`` of extras directly (not through a run)."""

    ref: str
    units: int

    def key(self, state: Account) -> str:
        """``debit:<ref>``."""
        return f"debit:{self.ref}"


@attrs.frozen
class Refund(Command):
    """Take back the units a Stripe refund of a pack purchase pays back."""

    refund_id: str
    session_id: str
    amount_cents: int
    pack_units: int
    pack_price_cents: int

    def key(self, state: Account) -> str:
        """``refund:<refund_id>``."""
        return f"refund:{self.refund_id}"


@attrs.frozen
class ExpireLot(Command):
    """Expire one lot whose ``expires_at`` has passed."""

    lot_id: str

    def key(self, state: Account) -> str:
        """``expire:<lot_id>``."""
        return f"expire:{self.lot_id}"


@attrs.frozen
class ResetWeek(Command):
    """Close the current week and open the next (docs/rules.md "Week reset")."""

    period_start: datetime | None = None

    def key(self, state: Account) -> str:
        """``reset:<week_key>`` of the week being closed (``reset:open`` for the first)."""
        return f"reset:{state.week.key if state.week else 'open'}"


@attrs.frozen
class ChangePlan(Command):
    """Move the org to ``plan`` with subscription ``status``."""

    plan: Plan
    ref: str
    status: str = "active"
    preserve_usage: bool = True

    def key(self, state: Account) -> str:
        """``plan:<ref>``."""
        return f"plan:{self.ref}"


@attrs.frozen
class FailPayment(Command):
    """An invoice payment failed."""

    ref: str

    def key(self, state: Account) -> str:
        """``payment_failed:<ref>``."""
        return f"payment_failed:{self.ref}"


@attrs.frozen
class RecoverPayment(Command):
    """An invoice was paid."""

    ref: str

    def key(self, state: Account) -> str:
        """``payment_succeeded:<ref>``."""
        return f"payment_succeeded:{self.ref}"


@attrs.frozen
class ExpireSubscription(Command):
    """Dunning sweep: past due for ``dunning_days`` -> unpaid on the default plan."""

    def key(self, state: Account) -> str:
        """``dunning:<past_due_since>`` (one expiry per past-due episode)."""
        since = state.subscription.past_due_since
        return f"dunning:{since.isoformat() if since else 'none'}"


@attrs.frozen
class RecordUsage(Command):
    """Legacy mode: add ``amount`` to this month's ``counter``."""

    counter: str
    amount: int
    ref: str

    def key(self, state: Account) -> str:
        """``usage:<ref>``."""
        return f"usage:{self.ref}"
