"""Documents from domain values and back: the mapping every storage adapter shares.

:func:`to_document` turns attrs values, mappings, tuples and ``Decimal`` into plain data
(dicts, lists, strings, ints, aware datetimes) that BSON and JSON hold exactly.
:func:`from_document` rebuilds a value of a given type from such data, driven by the type
hints, so a stored account folds to exactly the value that was saved. Events are stored as
``{"type": <class name>, "data": {...}}`` against the closed table
:data:`~compute_pricing.events.ACCOUNT_EVENTS`.

Decoding is strict: every field the encoder writes must be there with exactly the type it was
written with (an ``int`` is not a ``bool`` nor a ``float`` nor a numeric string, a ``Decimal``
is the text ``str(Decimal)`` gave), an event type must be in the table, and a journal read must
be gapless (:func:`require_contiguous`). Anything else raises
:class:`~compute_pricing.errors.CorruptStateError` naming the org, the document kind and the
dotted path of the field; a value is never guessed (a field added to a stored type later may
be listed in :data:`ABSENT_AS_DEFAULT`). Fields a document holds that the type does not model
are ignored (another service may keep its own fields there). Decoders are built once
per type from its hints, so one more field on a stored type is decoded without a line here.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

import attrs

from compute_pricing.errors import CorruptStateError
from compute_pricing.events import ACCOUNT_EVENTS, AccountEvent, ExtrasCredited, SubscriptionExpired
from compute_pricing.journal import JournalEntry
from compute_pricing.state import Account, Lot, Subscription

__all__ = [
    "ABSENT_AS_DEFAULT",
    "account_from_document",
    "account_to_document",
    "entry_from_document",
    "entry_to_document",
    "event_from_document",
    "event_to_document",
    "from_document",
    "require_contiguous",
    "to_document",
]

T = TypeVar("T")
Decoder = Callable[[Any], Any]


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


class _DecodeError(Exception):
    """A decode failure on its way out: ``path`` collects field names innermost first."""

    def __init__(self, reason: str, *path: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path = list(path)

    def at(self, name: str) -> _DecodeError:
        """This failure, one level further out (under field ``name``)."""
        self.path.append(name)
        return self


def _kind(data: Any) -> str:
    return f"{type(data).__name__} {data!r}"[:80]


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _any(data: Any) -> Any:
    return data


def _int(data: Any) -> int:
    if type(data) is int:
        return data
    if isinstance(data, int) and not isinstance(data, bool):  # e.g. bson.int64.Int64
        return int(data)
    raise _DecodeError(f"expected an integer, found {_kind(data)}")


def _str(data: Any) -> str:
    if type(data) is str:
        return data
    raise _DecodeError(f"expected a string, found {_kind(data)}")


def _bool(data: Any) -> bool:
    if data is True or data is False:
        return data
    raise _DecodeError(f"expected true or false, found {_kind(data)}")


def _datetime(data: Any) -> datetime:
    if isinstance(data, datetime):
        return _utc(data)
    raise _DecodeError(f"expected a datetime, found {_kind(data)}")


def _decimal(data: Any) -> Decimal:
    if type(data) is str:
        try:
            value = Decimal(data)
        except InvalidOperation:
            pass
        else:
            if value.is_finite() and str(value) == data:
                return value
    raise _DecodeError(f"expected a decimal as text, found {_kind(data)}")


def _is_mapping(data: Any) -> bool:
    return type(data) is dict or isinstance(data, Mapping)


def _optional(inner: Decoder) -> Decoder:
    def decode(data: Any) -> Any:
        return None if data is None else inner(data)

    return decode


def _sequence(item: Decoder) -> Decoder:
    def decode(data: Any) -> tuple[Any, ...]:
        if type(data) is not list and type(data) is not tuple:
            raise _DecodeError(f"expected a list, found {_kind(data)}")
        out = []
        for index, value in enumerate(data):
            try:
                out.append(item(value))
            except _DecodeError as exc:
                raise exc.at(str(index)) from None
        return tuple(out)

    return decode


def _fixed(items: tuple[Decoder, ...]) -> Decoder:
    def decode(data: Any) -> tuple[Any, ...]:
        if (type(data) is not list and type(data) is not tuple) or len(data) != len(items):
            raise _DecodeError(f"expected a list of {len(items)}, found {_kind(data)}")
        out = []
        for index, (item, value) in enumerate(zip(items, data, strict=True)):
            try:
                out.append(item(value))
            except _DecodeError as exc:
                raise exc.at(str(index)) from None
        return tuple(out)

    return decode


def _mapping(item: Decoder) -> Decoder:
    def decode(data: Any) -> dict[str, Any]:
        if not _is_mapping(data):
            raise _DecodeError(f"expected a mapping, found {_kind(data)}")
        out = {}
        for key, value in data.items():
            if type(key) is not str:
                raise _DecodeError(f"expected text keys, found {_kind(key)}")
            try:
                out[key] = item(value)
            except _DecodeError as exc:
                raise exc.at(key) from None
        return out

    return decode


#: Fields added to a stored type after documents without them were written: a document that
#: lacks one decodes to the field's default (one line per field, e.g. a new journal field).
#: Every other field is required.
ABSENT_AS_DEFAULT: dict[type, frozenset[str]] = {
    JournalEntry: frozenset({"request", "clock_skew_ms"}),
    # the Stripe links, pending cancellation, restore point and ordering watermarks
    Subscription: frozenset(
        {
            "customer_id",
            "subscription_id",
            "customer_generation",
            "cancel_at",
            "cancel_at_period_end",
            "restore_plan_id",
            "restore_version",
            "subscription_mark",
            "invoice_mark",
        }
    ),
    Lot: frozenset({"payment_intent"}),
    ExtrasCredited: frozenset({"payment_intent"}),
    SubscriptionExpired: frozenset({"restore_plan_id", "restore_version"}),
}


def _record(cls: type) -> Decoder:
    hints = get_type_hints(cls)
    optional = ABSENT_AS_DEFAULT.get(cls, frozenset())
    fields = tuple(
        (f.name, _decoder(hints[f.name]), f.name in optional and f.default is not attrs.NOTHING)
        for f in attrs.fields(cls)
        if f.init
    )

    def decode(data: Any) -> Any:
        if not _is_mapping(data):
            raise _DecodeError(f"expected a mapping, found {_kind(data)}")
        values = {}
        for name, field, may_be_absent in fields:
            try:
                value = data[name]
            except KeyError:
                if may_be_absent:
                    continue
                raise _DecodeError("missing", name) from None
            try:
                values[name] = field(value)
            except _DecodeError as exc:
                raise exc.at(name) from None
        try:
            return cls(**values)
        except (TypeError, ValueError) as exc:  # pragma: no cover - every field type-checked
            raise _DecodeError(f"{type(exc).__name__}: {exc}") from None

    return decode


def _event(data: Any) -> AccountEvent:
    if not _is_mapping(data):
        raise _DecodeError(f"expected an event, found {_kind(data)}")
    name = data.get("type")
    cls = ACCOUNT_EVENTS.get(name) if type(name) is str else None
    if cls is None:
        raise _DecodeError(f"unknown event type {name!r}", "type")
    if "data" not in data:
        raise _DecodeError("missing", "data")
    try:
        return typing.cast(AccountEvent, _decoder(typing.cast(Any, cls))(data["data"]))
    except _DecodeError as exc:
        raise exc.at("data") from None


_SCALARS: Mapping[Any, Decoder] = {
    Any: _any,
    int: _int,
    str: _str,
    bool: _bool,
    datetime: _datetime,
    Decimal: _decimal,
    AccountEvent: _event,
}
"""Decoders of the leaf types a stored document holds (the closed set of field types)."""


@cache
def _decoder(tp: Any) -> Decoder:
    """The strict decoder of values of type ``tp`` (built once per type)."""
    scalar = _SCALARS.get(tp)
    if scalar is not None:
        return scalar
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        (inner,) = [arg for arg in get_args(tp) if arg is not type(None)]
        return _optional(_decoder(inner))
    if origin is tuple:
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return _sequence(_decoder(args[0]))
        return _fixed(tuple(_decoder(arg) for arg in args))
    if origin in (dict, Mapping):
        return _mapping(_decoder(get_args(tp)[1]))
    if isinstance(tp, type) and attrs.has(tp):
        return _record(tp)
    raise TypeError(f"cannot decode {tp!r}")  # pragma: no cover - closed set of field types


def _org_of(data: Any) -> str | None:
    org = data.get("org") if _is_mapping(data) else None
    return org if type(org) is str else None


def from_document(
    tp: Any, data: Any, *, org: str | None = None, document: str = "document", field: str = ""
) -> Any:
    """A value of type ``tp`` rebuilt from :func:`to_document` output, checked strictly.

    Raises :class:`~compute_pricing.errors.CorruptStateError` for ``org``'s ``document``
    (``field`` prefixes the dotted path) when ``data`` is not what the encoder wrote.
    """
    try:
        return _decoder(tp)(data)
    except _DecodeError as exc:
        path = ".".join([*([field] if field else []), *reversed(exc.path)])
        raise CorruptStateError(org, document, path or "(document)", exc.reason) from None


def event_to_document(event: AccountEvent) -> dict[str, Any]:
    """``{"type": <class name>, "data": {...}}``."""
    return {"type": type(event).__name__, "data": to_document(event)}


def event_from_document(document: Mapping[str, Any]) -> AccountEvent:
    """The event a :func:`event_to_document` document holds (strict, see the module doc)."""
    org = _org_of(document.get("data")) if _is_mapping(document) else None
    return typing.cast(
        AccountEvent, from_document(AccountEvent, document, org=org, document="event")
    )


def account_to_document(account: Account) -> dict[str, Any]:
    """Plain data of an account state."""
    return typing.cast(dict[str, Any], to_document(account))


def account_from_document(
    document: Mapping[str, Any], *, org: str | None = None, field: str = ""
) -> Account:
    """The account state a :func:`account_to_document` document holds (strict).

    ``org`` is the org the caller read (it names the org in errors and must match the
    state's); ``field`` prefixes error paths (``state`` when the state is nested).
    """
    org = org if org is not None else _org_of(document)
    account = typing.cast(
        Account, from_document(Account, document, org=org, document="snapshot", field=field)
    )
    if org is not None and account.org != org:
        where = f"{field}.org" if field else "org"
        raise CorruptStateError(org, "snapshot", where, f"holds org {account.org!r}")
    return account


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


def entry_from_document(document: Mapping[str, Any], *, org: str | None = None) -> JournalEntry:
    """The journal entry an :func:`entry_to_document` document holds (strict).

    ``org`` is the org the caller read (it names the org in errors and must match the entry's).
    """
    org = org if org is not None else _org_of(document)
    entry = typing.cast(
        JournalEntry, from_document(JournalEntry, document, org=org, document="journal")
    )
    if org is not None and entry.org != org:
        raise CorruptStateError(org, "journal", "org", f"holds org {entry.org!r}")
    return entry


def require_contiguous(
    org: str, after_seq: int, entries: Sequence[JournalEntry]
) -> Sequence[JournalEntry]:
    """``entries`` unchanged if their seqs run ``after_seq + 1, after_seq + 2, ...``.

    A gap (an entry missing after the snapshot's version, or between two entries) would skip
    a committed charge in the fold; it raises :class:`~compute_pricing.errors.CorruptStateError`.
    """
    expected = max(after_seq, 0) + 1
    for entry in entries:
        if entry.seq != expected:
            raise CorruptStateError(
                org,
                "journal",
                "seq",
                f"expected seq {expected} after {after_seq}, found {entry.seq}",
            )
        expected += 1
    return entries
