"""Documents from domain values and back: the mapping every storage adapter shares.

:func:`to_document` turns attrs values, mappings, tuples and ``Decimal`` into plain data
(dicts, lists, strings, ints, aware datetimes) that BSON and JSON hold exactly.
:func:`from_document` rebuilds a value of a given type from such data, driven by the type
hints, so a stored account folds to exactly the value that was saved. Events are stored as
``{"type": <class name>, "data": {...}}`` against the closed table
:data:`~compute_pricing.events.ACCOUNT_EVENTS`.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

import attrs

from compute_pricing.events import ACCOUNT_EVENTS, AccountEvent
from compute_pricing.journal import JournalEntry
from compute_pricing.state import Account

__all__ = [
    "account_from_document",
    "account_to_document",
    "entry_from_document",
    "entry_to_document",
    "event_from_document",
    "event_to_document",
    "from_document",
    "to_document",
]

T = TypeVar("T")


def to_document(value: Any) -> Any:
    """Plain, storable data for ``value`` (recursively)."""
    if attrs.has(type(value)):
        return {f.name: to_document(getattr(value, f.name)) for f in attrs.fields(type(value))}
    if isinstance(value, Mapping):
        return {str(k): to_document(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [to_document(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    return value


@cache
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def from_document(tp: Any, data: Any) -> Any:
    """A value of type ``tp`` rebuilt from :func:`to_document` output."""
    origin = get_origin(tp)
    if tp is Any:
        return data
    if origin in (typing.Union, types.UnionType):
        if data is None:
            return None
        (inner,) = [arg for arg in get_args(tp) if arg is not type(None)]
        return from_document(inner, data)
    if isinstance(tp, type) and attrs.has(tp):
        hints = _hints(tp)
        return tp(
            **{
                f.name: from_document(hints[f.name], data[f.name])
                for f in attrs.fields(tp)
                if f.init and f.name in data
            }
        )
    if origin is tuple:
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(from_document(args[0], item) for item in data)
        return tuple(from_document(arg, item) for arg, item in zip(args, data, strict=True))
    if origin in (dict, Mapping):
        _, value_type = get_args(tp)
        return {key: from_document(value_type, item) for key, item in data.items()}
    if tp is datetime:
        return _utc(data)
    if tp is Decimal:
        return Decimal(data)
    if tp in (int, str, bool):
        return tp(data)
    raise TypeError(f"cannot decode {tp!r}")  # pragma: no cover - closed set of field types


def event_to_document(event: AccountEvent) -> dict[str, Any]:
    """``{"type": <class name>, "data": {...}}``."""
    return {"type": type(event).__name__, "data": to_document(event)}


def event_from_document(document: Mapping[str, Any]) -> AccountEvent:
    """The event a :func:`event_to_document` document holds."""
    cls = ACCOUNT_EVENTS[document["type"]]
    return typing.cast(AccountEvent, from_document(cls, document["data"]))


def account_to_document(account: Account) -> dict[str, Any]:
    """Plain data of an account state."""
    return typing.cast(dict[str, Any], to_document(account))


def account_from_document(document: Mapping[str, Any]) -> Account:
    """The account state a :func:`account_to_document` document holds."""
    return typing.cast(Account, from_document(Account, document))


def entry_to_document(entry: JournalEntry) -> dict[str, Any]:
    """Plain data of a journal entry (events tagged by type)."""
    return {
        "org": entry.org,
        "seq": entry.seq,
        "key": entry.key,
        "type": entry.type,
        "events": [event_to_document(e) for e in entry.events],
        "outcome": to_document(entry.outcome),
        "at": entry.at,
        "ledger": entry.ledger,
        "request": None if entry.request is None else to_document(entry.request),
        "clock_skew_ms": entry.clock_skew_ms,
    }


def entry_from_document(document: Mapping[str, Any]) -> JournalEntry:
    """The journal entry an :func:`entry_to_document` document holds."""
    return JournalEntry(
        org=document["org"],
        seq=int(document["seq"]),
        key=document["key"],
        type=document["type"],
        events=tuple(event_from_document(e) for e in document["events"]),
        outcome=dict(document["outcome"]),
        at=_utc(document["at"]),
        ledger=int(document.get("ledger", 0)),
        # Absent on entries written before requests were stored: they match any replay.
        request=None if document.get("request") is None else dict(document["request"]),
        clock_skew_ms=int(document.get("clock_skew_ms", 0)),
    )
