"""Commands: what a use case asks of one account, each with its idempotency key and request.

A command's :meth:`~Command.key` is derived from domain identity, never random, and always built
by :func:`~compute_pricing.keys.journal_key`: a fixed namespace per operation kind, then the
caller-supplied parts escaped (``attr:<run_id>:<step>``, ``pack:<session_id>``,
``refund:<refund_id>``, ``expire:<lot_id>``, ``reset:<week_key>``...). The journal holds at most
one entry per key and org, so a command sent twice is applied once.

:meth:`~Command.request` is the canonical, JSON-safe mapping of what the command asks (its attrs
fields, ``Decimal`` as normalized strings); it is stored with the entry so a replay that asks
for something else under the same key is refused instead of answered with the first outcome.
A field whose ``metadata`` says ``request=False`` is left out (it does not identify what was
asked, see the field's comment); a field may give its own ``request`` converter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs

from compute_pricing.keys import journal_key
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
    "canonical",
]


def _decimal_text(value: Decimal) -> str:
    """Exact fixed-point text without trailing zeros (no decimal context involved)."""
    text = str(value)  # fixed-point already unless it has an exponent (``1E+2``, ``1E-7``)
    if "E" in text:
        text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


_PLAIN = frozenset({str, int, bool, type(None)})


def _canonical_mapping(value: Mapping[Any, Any]) -> dict[str, Any]:
    return {str(k): canonical(value[k]) for k in sorted(value, key=str)}


def _canonical_sequence(value: tuple[Any, ...] | list[Any]) -> list[Any]:
    return [canonical(v) for v in value]


#: Exact types that are not attrs classes, mapped to the branch ``canonical`` takes for them
#: (the same branch its ``isinstance`` chain would reach), so the hot path skips the
#: ``attrs.has`` and ABC checks. Subclasses still go through the generic chain.
_EXACT: dict[type, Callable[[Any], Any]] = {
    dict: _canonical_mapping,
    tuple: _canonical_sequence,
    list: _canonical_sequence,
    Decimal: _decimal_text,
    datetime: datetime.isoformat,
}


def canonical(value: Any) -> Any:
    """JSON-safe canonical data for ``value``: equal requests give equal data."""
    kind = type(value)
    if kind in _PLAIN:  # the common leaves first: no attrs or ABC checks for them
        return value
    exact = _EXACT.get(kind)
    if exact is not None:
        return exact(value)
    if attrs.has(kind):
        return {f.name: canonical(getattr(value, f.name)) for f in attrs.fields(type(value))}
    if isinstance(value, Mapping):
        return _canonical_mapping(value)
    if isinstance(value, (tuple, list)):
        return _canonical_sequence(value)
    if isinstance(value, Decimal):
        return _decimal_text(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _plan_identity(plan: Plan) -> str:
    """A published plan version is immutable, so its id and version name it."""
    return f"{plan.plan_id}@{plan.version}"


@attrs.frozen
class Command:
    """Base of every account command."""

    def key(self, state: Account) -> str:
        """The idempotency key of this command on ``state``'s account."""
        raise NotImplementedError

    def request(self) -> dict[str, Any]:
        """The canonical mapping of this command's parameters (see the module docstring)."""
        found: dict[str, Any] = {}
        for name, convert in _request_fields(type(self)):
            value = getattr(self, name)
            found[name] = canonical(value if convert is None else convert(value))
        return found


_REQUEST_FIELDS: dict[type, tuple[tuple[str, Callable[[Any], Any] | None], ...]] = {}


def _request_fields(kind: type) -> tuple[tuple[str, Callable[[Any], Any] | None], ...]:
    """The request fields of a command class and their converters, worked out once per class."""
    fields = _REQUEST_FIELDS.get(kind)
    if fields is None:
        found = []
        for field in attrs.fields(kind):
            convert: Callable[[Any], Any] | bool = field.metadata.get("request", True)
            if convert is not False:
                found.append((field.name, convert if callable(convert) else None))
        fields = _REQUEST_FIELDS[kind] = tuple(found)
    return fields


@attrs.frozen
class Attribute(Command):
    """Charge a run step's costs (already validated) to the week, then to extras."""

    run_id: str
    step: str
    costs: Mapping[str, Decimal] | None
    # Not part of the request: a replayed ``commit`` under another hold is still the same
    # charge (the use case releases that other hold).
    reservation_id: str | None = attrs.field(default=None, metadata={"request": False})

    def key(self, state: Account) -> str:
        """``attr:<run_id>:<step>``."""
        return journal_key("attr", self.run_id, self.step)

    def request(self) -> dict[str, Any]:
        """What :meth:`Command.request` gives, spelled out: this runs once per attribution."""
        costs = self.costs
        return {
            "run_id": self.run_id,
            "step": self.step,
            "costs": None
            if costs is None
            else {category: _decimal_text(costs[category]) for category in sorted(costs)},
        }


@attrs.frozen
class Reserve(Command):
    """Hold ``units`` for a run for ``ttl_seconds`` so concurrent runs cannot overspend."""

    reservation_id: str
    units: int
    ttl_seconds: int

    def key(self, state: Account) -> str:
        """``reserve:<reservation_id>``."""
        return journal_key("reserve", self.reservation_id)


@attrs.frozen
class Release(Command):
    """Give back a reservation's units without charging anything."""

    reservation_id: str

    def key(self, state: Account) -> str:
        """``release:<reservation_id>``."""
        return journal_key("release", self.reservation_id)


@attrs.frozen
class CreditPack(Command):
    """Credit a purchased pack, once per Stripe checkout session."""

    pack_id: str
    session_id: str

    def key(self, state: Account) -> str:
        """``pack:<session_id>``."""
        return journal_key("pack", self.session_id)


@attrs.frozen
class Adjust(Command):
    """A manual signed correction of the extras balance (support, migrations).

    ``reason`` is journaled in the entry's outcome. It is part of the request: the ref names
    one correction made for one reason, so the same ref with another reason is a 409 (a reused
    ticket id, say) instead of a replay that would silently keep the first reason.
    """

    ref: str
    units: int
    reason: str | None = None

    def key(self, state: Account) -> str:
        """``adjust:<ref>``."""
        return journal_key("adjust", self.ref)


@attrs.frozen
class Debit(Command):
    """Spend ``units`` of extras directly (not through a run)."""

    ref: str
    units: int

    def key(self, state: Account) -> str:
        """``debit:<ref>``."""
        return journal_key("debit", self.ref)


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
        return journal_key("refund", self.refund_id)


@attrs.frozen
class ExpireLot(Command):
    """Expire one lot whose ``expires_at`` has passed."""

    lot_id: str

    def key(self, state: Account) -> str:
        """``expire:<lot_id>``."""
        return journal_key("expire", self.lot_id)


@attrs.frozen
class ResetWeek(Command):
    """Close the current week and open the next (docs/rules.md "Week reset")."""

    # Not part of the request: a reset is named by the week it closes, so a cron reset and a
    # renewal that race for the same week are one reset, whichever came first.
    period_start: datetime | None = attrs.field(default=None, metadata={"request": False})

    def key(self, state: Account) -> str:
        """``reset:<week_key>`` of the week being closed (``reset:open`` for the first)."""
        return journal_key("reset", state.week.key if state.week else "open")


@attrs.frozen
class ChangePlan(Command):
    """Move the org to ``plan`` with subscription ``status``."""

    plan: Plan = attrs.field(metadata={"request": _plan_identity})
    ref: str
    status: str = "active"
    preserve_usage: bool = True

    def key(self, state: Account) -> str:
        """``plan:<ref>``."""
        return journal_key("plan", self.ref)


@attrs.frozen
class FailPayment(Command):
    """An invoice payment failed."""

    ref: str

    def key(self, state: Account) -> str:
        """``payment_failed:<ref>``."""
        return journal_key("payment_failed", self.ref)


@attrs.frozen
class RecoverPayment(Command):
    """An invoice was paid."""

    ref: str

    def key(self, state: Account) -> str:
        """``payment_succeeded:<ref>``."""
        return journal_key("payment_succeeded", self.ref)


@attrs.frozen
class ExpireSubscription(Command):
    """Dunning sweep: past due for ``dunning_days`` -> unpaid on the default plan."""

    def key(self, state: Account) -> str:
        """``dunning:<past_due_since>`` (one expiry per past-due episode)."""
        since = state.subscription.past_due_since
        return journal_key("dunning", since.isoformat() if since else "none")


@attrs.frozen
class RecordUsage(Command):
    """Legacy mode: add ``amount`` to this month's ``counter``."""

    counter: str
    amount: int
    ref: str

    def key(self, state: Account) -> str:
        """``usage:<ref>``."""
        return journal_key("usage", self.ref)
