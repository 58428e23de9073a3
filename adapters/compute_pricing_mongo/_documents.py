"""Document mapping shared by the Mongo adapters: domain values <-> BSON-safe documents.

Values go through :data:`MONGO`, a :class:`~compute_pricing.codec.Codec` whose lean per-type
encoders and strict decoders also escape every mapping key in the same pass, so caller-chosen
keys (cost categories, ``resource.action`` counters) may hold ``.``, ``$`` and ``%``, which
MongoDB field names cannot carry safely: ``%`` becomes ``%25``, ``.`` becomes ``%2E`` and
``$`` becomes ``%24``. The escape is injective, so decoding gives back exactly the key that was
stored.

On the way back every datetime is made aware UTC, whether or not the client was created with
``tz_aware=True``; values are stored at millisecond precision already (the core's clocks
truncate), so what is read equals what was written.

An account snapshot document is ``{_id: org, org, version, at, state, status, reset_at,
next_expiry, past_due_since}``: ``state`` is the encoded :class:`~compute_pricing.state.Account`,
and the other top-level fields are derived from it so the cron queries can use indexes
(absent when the state has no such value, which keeps the partial indexes small). The state is
written path by path (:data:`STATE_PATHS`: ``state.<field>``, and ``state.subscription.<field>``
for the subscription), so fields the core does not model survive a save.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Mapping
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any, TypeVar

from compute_pricing.codec import Codec, Encoder, to_document
from compute_pricing.errors import CorruptStateError
from compute_pricing.journal import JournalEntry, Snapshot
from compute_pricing.plans import Plan
from compute_pricing.state import Account, Subscription
from compute_pricing.stripe.records import ProcessedEvent
from compute_pricing_mongo._names import Document

__all__ = [
    "MONGO",
    "QUERYABLE_FIELDS",
    "STATE_PATHS",
    "decode",
    "derived_fields",
    "encode",
    "entry_document",
    "entry_from",
    "plan_from",
    "processed_event_from",
    "snapshot_from_document",
    "snapshot_update",
    "state_values",
]

#: Top-level snapshot fields derived from the state for the cron queries.
QUERYABLE_FIELDS = ("reset_at", "next_expiry", "past_due_since")

_T = TypeVar("_T")

_NEEDS_ESCAPE = re.compile(r"[.$%]")
_ESCAPED = re.compile(r"%(25|2E|24)")
_ESCAPES = {"%": "%25", ".": "%2E", "$": "%24"}
_UNESCAPES = {"25": "%", "2E": ".", "24": "$"}
_AS_IS = frozenset({str, int, bool, float, type(None), datetime})


def _escape(key: str) -> str:
    if "." not in key and "$" not in key and "%" not in key:
        return key
    return _NEEDS_ESCAPE.sub(lambda m: _ESCAPES[m.group(0)], key)


def _unescape(key: str) -> str:
    if "%" not in key:
        return key
    return _ESCAPED.sub(lambda m: _UNESCAPES[m.group(1)], key)


def _escape_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {_escape(str(k)): _escape_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_escape_keys(v) for v in value]
    return value


def encode(value: Any) -> Any:
    """BSON-safe data for ``value``: :func:`~compute_pricing.codec.to_document`, keys escaped.

    One pass over plain dicts and lists (an entry's outcome and request); anything else goes
    through ``to_document`` and then the escape.
    """
    kind = type(value)
    if kind in _AS_IS:
        return value
    if kind is dict:
        return {_escape(str(k)): encode(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [encode(v) for v in value]
    return _escape_keys(to_document(value))


def decode(value: Any) -> Any:
    """Plain data as :mod:`compute_pricing.codec` expects it: keys unescaped, datetimes UTC."""
    if isinstance(value, Mapping):
        return {_unescape(str(k)): decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


MONGO = Codec(key_out=_escape, key_in=_unescape, any_out=encode, any_in=decode)
"""The codec of every Mongo document: keys escaped, ``Any`` values through :func:`encode`."""

_entry_out = MONGO.encoder(JournalEntry)


def entry_document(entry: JournalEntry) -> Document:
    """The journal document of ``entry``: ``{org, seq, key, type, events, outcome, at, ...}``."""
    return typing.cast(Document, _entry_out(entry))


def entry_from(document: Mapping[str, Any], org: str | None = None) -> JournalEntry:
    """The journal entry a document written by :func:`entry_document` holds (strict).

    ``org`` is the org the read asked for; a bad document raises ``CorruptStateError``.
    """
    return MONGO.entry_from_document(document, org=org)


def _paths(cls: type, prefix: str) -> tuple[tuple[str, str, Encoder | None], ...]:
    return tuple(
        (name, f"{prefix}{name}", encoder)
        for name, encoder in MONGO.field_encoders(cls)
        if not (cls is Account and name == "subscription")
    )


_ACCOUNT_PATHS = _paths(Account, "state.")
_SUBSCRIPTION_PATHS = _paths(Subscription, "state.subscription.")
_account_values = attrgetter(*(name for name, _, _ in _ACCOUNT_PATHS))
_subscription_values = attrgetter(*(name for name, _, _ in _SUBSCRIPTION_PATHS))

#: ``(attribute, $set path, encoder)`` of each stored state field: the account's fields, then
#: the subscription's (``None``: stored as it is). The first tuple is the account's.
STATE_PATHS = (_ACCOUNT_PATHS, _SUBSCRIPTION_PATHS)


def state_values(state: Account) -> Document:
    """The encoded state by ``$set`` path (``state.<field>``, ``state.subscription.<field>``)."""
    values: Document = {}
    for (_, path, encoder), value in zip(_ACCOUNT_PATHS, _account_values(state), strict=True):
        values[path] = value if encoder is None else encoder(value)
    subscription = _subscription_values(state.subscription)
    for (_, path, encoder), value in zip(_SUBSCRIPTION_PATHS, subscription, strict=True):
        values[path] = value if encoder is None else encoder(value)
    return values


def derived_fields(state: Account) -> tuple[tuple[str, datetime | None], ...]:
    """The :data:`QUERYABLE_FIELDS` of ``state`` with their values (``None``: absent)."""
    week = state.week
    return (
        ("reset_at", week.reset_at if week is not None else None),
        ("next_expiry", state.next_expiry),
        ("past_due_since", state.subscription.past_due_since),
    )


def snapshot_update(snapshot: Snapshot) -> Document:
    """The upsert update that stores ``snapshot`` whole (the layout is in the module doc).

    Every state path is set, so fields the core does not model, such as a
    ``stripe_customer_id`` another service keeps in the subscription, survive a save.
    """
    state = snapshot.state
    values: Document = {"version": snapshot.version, "status": state.subscription.status}
    if snapshot.at is not None:
        values["at"] = snapshot.at
    values.update(state_values(state))
    derived = derived_fields(state)
    values.update({name: value for name, value in derived if value is not None})
    update: Document = {"$set": values, "$setOnInsert": {"_id": snapshot.org}}
    absent = {name: "" for name, value in derived if value is None}
    if absent:
        update["$unset"] = absent
    return update


def snapshot_from_document(document: Mapping[str, Any], org: str | None = None) -> Snapshot:
    """The snapshot an account document holds, decoded strictly.

    ``org`` is the org the read asked for. A missing or mistyped ``version`` (a snapshot whose
    version is unknown would fold the journal twice), ``org`` or state field raises
    :class:`~compute_pricing.errors.CorruptStateError` naming the dotted field.
    """
    stored_org = document.get("org")
    org = org if org is not None else stored_org if type(stored_org) is str else None
    if org is None or stored_org != org:
        raise CorruptStateError(org, "snapshot", "org", f"holds {stored_org!r}")
    for name in ("version", "state"):
        if name not in document:
            raise CorruptStateError(org, "snapshot", name, "missing")
    version = MONGO.from_document(
        int, document["version"], org=org, document="snapshot", field="version"
    )
    if version < 0:
        raise CorruptStateError(org, "snapshot", "version", f"negative: {version}")
    state = MONGO.account_from_document(document["state"], org=org, field="state")
    # ``at`` is absent from snapshots written before the last entry's instant was kept
    at = MONGO.from_document(
        datetime | None, document.get("at"), org=org, document="snapshot", field="at"
    )
    return Snapshot(org=org, version=version, state=state, at=at)


def _named(kind: str, name: object, tp: type[_T], document: Mapping[str, Any]) -> _T:
    """``document`` decoded as ``tp``; an error's reason names the document (``name``)."""
    try:
        return typing.cast(_T, MONGO.from_document(tp, document, document=kind))
    except CorruptStateError as exc:
        raise CorruptStateError(None, kind, exc.field, f"{name!r}: {exc.reason}") from None


def plan_from(document: Mapping[str, Any]) -> Plan:
    """The plan version a document written from ``encode(plan)`` holds, decoded strictly."""
    name = f"{document.get('plan_id')} v{document.get('version')}"
    return _named("plan", name, Plan, document)


def processed_event_from(document: Mapping[str, Any]) -> ProcessedEvent:
    """The claim a processed-event document holds, decoded strictly (``processed_event``)."""
    return _named("processed_event", document.get("_id"), ProcessedEvent, document)
