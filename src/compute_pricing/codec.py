"""Documents from domain values and back: the mapping every storage adapter shares.

A :class:`Codec` builds, once per stored type, a lean encoder (attrs values, mappings, tuples
and ``Decimal`` to plain data: dicts, lists, strings, ints, aware datetimes, which BSON and
JSON hold exactly) and a strict decoder (the value of that type back), both driven by the type
hints: a record's fields are read with one ``attrgetter`` and only the fields whose type needs
converting (a ``Decimal``, a nested record, a mapping, a tuple) go through a per-field
encoder, so the hot path does no per-value reflection and one more field on a stored type is
handled without a line here. Events are stored as ``{"type": <class name>, "data": {...}}``
against the closed table :data:`~compute_pricing.events.ACCOUNT_EVENTS`. :data:`PLAIN` is the
codec the module-level functions use; a storage adapter may build its own (the Mongo adapter's
escapes mapping keys in the same pass). :func:`to_document` is the generic, runtime-typed
encoder of values of any shape (an entry's ``outcome`` and ``request``, a plan); on a typed
value it gives exactly what the typed encoder gives.

Decoding is strict: every field the encoder writes must be there with exactly the type it was
written with (an ``int`` is not a ``bool`` nor a ``float`` nor a numeric string, a ``Decimal``
is the text ``str(Decimal)`` gave), an event type must be in the table, and a journal read must
be gapless (:func:`require_contiguous`). Anything else raises
:class:`~compute_pricing.errors.CorruptStateError` naming the org, the document kind and the
dotted path of the field; a value is never guessed (a field added to a stored type later may
be listed in :data:`ABSENT_AS_DEFAULT`). Fields a document holds that the type does not model
are ignored (another service may keep its own fields there).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from operator import attrgetter
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

import attrs

from compute_pricing.errors import CorruptStateError
from compute_pricing.events import ACCOUNT_EVENTS, AccountEvent, ExtrasCredited, SubscriptionExpired
from compute_pricing.journal import JournalEntry
from compute_pricing.state import Account, Lot, Subscription

__all__ = [
    "ABSENT_AS_DEFAULT",
    "PLAIN",
    "Codec",
    "Decoder",
    "Encoder",
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
"""Stored data -> value (raises on data the encoder could not have written)."""
Encoder = Callable[[Any], Any]
"""Value -> stored data."""

#: Leaf types stored as they are (``to_document`` returns them unchanged).
_AS_IS = frozenset({str, int, bool, float, type(None), datetime})


def to_document(value: Any) -> Any:
    """Plain, storable data for ``value`` of any shape (recursively, by runtime type)."""
    kind = type(value)
    if kind in _AS_IS:
        return value
    if attrs.has(kind):
        return {f.name: to_document(getattr(value, f.name)) for f in attrs.fields(kind)}
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


def _mapping(item: Decoder, key_in: Callable[[str], str] | None) -> Decoder:
    def decode(data: Any) -> dict[str, Any]:
        if not _is_mapping(data):
            raise _DecodeError(f"expected a mapping, found {_kind(data)}")
        out = {}
        for stored, value in data.items():
            if type(stored) is not str:
                raise _DecodeError(f"expected text keys, found {_kind(stored)}")
            key = stored if key_in is None else key_in(stored)
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


def _record_decoder(cls: type, fields: tuple[tuple[str, Decoder, bool], ...]) -> Decoder:
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


def _record_encoder(names: tuple[str, ...], converted: tuple[tuple[str, Encoder], ...]) -> Encoder:
    get = attrgetter(*names)
    single = len(names) == 1

    def encode(value: Any) -> dict[str, Any]:
        out = dict(zip(names, (get(value),) if single else get(value), strict=True))
        for name, convert in converted:
            out[name] = convert(out[name])
        return out

    return encode


def _optional_out(inner: Encoder) -> Encoder:
    def encode(value: Any) -> Any:
        return None if value is None else inner(value)

    return encode


def _sequence_out(item: Encoder | None) -> Encoder:
    if item is None:
        return list

    def encode(value: Any) -> list[Any]:
        return [item(v) for v in value]

    return encode


def _fixed_out(items: tuple[Encoder | None, ...]) -> Encoder:
    if all(item is None for item in items):
        return list

    def encode(value: Any) -> list[Any]:
        return [v if item is None else item(v) for item, v in zip(items, value, strict=True)]

    return encode


def _mapping_out(item: Encoder | None, key_out: Callable[[str], str] | None) -> Encoder:
    if key_out is None:
        if item is None:
            return dict

        def encode_values(value: Any) -> dict[str, Any]:
            return {k: item(v) for k, v in value.items()}

        return encode_values
    if item is None:

        def encode_keys(value: Any) -> dict[str, Any]:
            return {key_out(k): v for k, v in value.items()}

        return encode_keys

    def encode(value: Any) -> dict[str, Any]:
        return {key_out(k): item(v) for k, v in value.items()}

    return encode


class Codec:
    """Lean encoders and strict decoders of the stored types, built once per type.

    ``key_out`` / ``key_in`` transform every mapping key on the way out and back (identity by
    default; they must be inverse and injective). ``any_out`` / ``any_in`` encode and decode
    values typed ``Any`` (an entry's ``outcome`` and ``request`` values): :func:`to_document`
    and unchanged by default. Thread-safe: a type's codec built twice by two threads is the
    same function twice.
    """

    def __init__(
        self,
        *,
        key_out: Callable[[str], str] | None = None,
        key_in: Callable[[str], str] | None = None,
        any_out: Encoder = to_document,
        any_in: Decoder = _any,
    ) -> None:
        self._key_out = key_out
        self._key_in = key_in
        self._any_out = any_out
        self._encoders: dict[Any, Encoder | None] = {}
        self._events_out: dict[type, Encoder] = {}
        self._decoders: dict[Any, Decoder] = {}
        self._scalars: Mapping[Any, Decoder] = {
            Any: any_in,
            int: _int,
            str: _str,
            bool: _bool,
            datetime: _datetime,
            Decimal: _decimal,
            AccountEvent: self._event_in,
        }

    # -- encoding ------------------------------------------------------------------------

    def encoder(self, tp: Any) -> Encoder:
        """The encoder of values of type ``tp`` (built once)."""
        encoder = self._field_encoder(tp)
        return _any if encoder is None else encoder

    def field_encoders(self, cls: type) -> tuple[tuple[str, Encoder | None], ...]:
        """``(name, encoder)`` per field of the attrs class ``cls``; ``None``: stored as is."""
        hints = get_type_hints(cls)
        return tuple((f.name, self._field_encoder(hints[f.name])) for f in attrs.fields(cls))

    def _field_encoder(self, tp: Any) -> Encoder | None:
        try:
            return self._encoders[tp]
        except KeyError:
            encoder = self._encoders[tp] = self._build_encoder(tp)
            return encoder

    def _build_encoder(self, tp: Any) -> Encoder | None:
        if tp in _AS_IS:
            return None
        if tp is Any:
            return self._any_out
        if tp is Decimal:
            return str
        if tp is AccountEvent:
            return self.event_to_document
        origin = get_origin(tp)
        if origin in (typing.Union, types.UnionType):
            (inner,) = [arg for arg in get_args(tp) if arg is not type(None)]
            encoder = self._field_encoder(inner)
            return None if encoder is None else _optional_out(encoder)
        if origin is tuple:
            args = get_args(tp)
            if len(args) == 2 and args[1] is Ellipsis:
                return _sequence_out(self._field_encoder(args[0]))
            return _fixed_out(tuple(self._field_encoder(arg) for arg in args))
        if origin in (dict, Mapping):
            return _mapping_out(self._field_encoder(get_args(tp)[1]), self._key_out)
        if isinstance(tp, type) and attrs.has(tp):
            fields = self.field_encoders(tp)
            converted = tuple((name, enc) for name, enc in fields if enc is not None)
            return _record_encoder(tuple(name for name, _ in fields), converted)
        raise TypeError(f"cannot encode {tp!r}")  # pragma: no cover - closed set of field types

    def event_to_document(self, event: AccountEvent) -> dict[str, Any]:
        """``{"type": <class name>, "data": {...}}``."""
        kind = type(event)
        try:
            encode = self._events_out[kind]
        except KeyError:
            encode = self._events_out[kind] = self.encoder(kind)
        return {"type": kind.__name__, "data": encode(event)}

    # -- decoding ------------------------------------------------------------------------

    def decoder(self, tp: Any) -> Decoder:
        """The strict decoder of values of type ``tp`` (built once); raises ``_DecodeError``."""
        try:
            return self._decoders[tp]
        except KeyError:
            decoder = self._decoders[tp] = self._build_decoder(tp)
            return decoder

    def _build_decoder(self, tp: Any) -> Decoder:
        scalar = self._scalars.get(tp)
        if scalar is not None:
            return scalar
        origin = get_origin(tp)
        if origin in (typing.Union, types.UnionType):
            (inner,) = [arg for arg in get_args(tp) if arg is not type(None)]
            return _optional(self.decoder(inner))
        if origin is tuple:
            args = get_args(tp)
            if len(args) == 2 and args[1] is Ellipsis:
                return _sequence(self.decoder(args[0]))
            return _fixed(tuple(self.decoder(arg) for arg in args))
        if origin in (dict, Mapping):
            return _mapping(self.decoder(get_args(tp)[1]), self._key_in)
        if isinstance(tp, type) and attrs.has(tp):
            hints = get_type_hints(tp)
            optional = ABSENT_AS_DEFAULT.get(tp, frozenset())
            fields = tuple(
                (
                    f.name,
                    self.decoder(hints[f.name]),
                    f.name in optional and f.default is not attrs.NOTHING,
                )
                for f in attrs.fields(tp)
                if f.init
            )
            return _record_decoder(tp, fields)
        raise TypeError(f"cannot decode {tp!r}")  # pragma: no cover - closed set of field types

    def _event_in(self, data: Any) -> AccountEvent:
        if not _is_mapping(data):
            raise _DecodeError(f"expected an event, found {_kind(data)}")
        name = data.get("type")
        cls = ACCOUNT_EVENTS.get(name) if type(name) is str else None
        if cls is None:
            raise _DecodeError(f"unknown event type {name!r}", "type")
        if "data" not in data:
            raise _DecodeError("missing", "data")
        try:
            return typing.cast(AccountEvent, self.decoder(cls)(data["data"]))
        except _DecodeError as exc:
            raise exc.at("data") from None

    def from_document(
        self,
        tp: Any,
        data: Any,
        *,
        org: str | None = None,
        document: str = "document",
        field: str = "",
    ) -> Any:
        """A value of type ``tp`` rebuilt from this codec's output, checked strictly.

        Raises :class:`~compute_pricing.errors.CorruptStateError` for ``org``'s ``document``
        (``field`` prefixes the dotted path) when ``data`` is not what the encoder wrote.
        """
        try:
            return self.decoder(tp)(data)
        except _DecodeError as exc:
            path = ".".join([*([field] if field else []), *reversed(exc.path)])
            raise CorruptStateError(org, document, path or "(document)", exc.reason) from None

    def event_from_document(self, document: Mapping[str, Any]) -> AccountEvent:
        """The event an :meth:`event_to_document` document holds (strict)."""
        org = _org_of(document.get("data")) if _is_mapping(document) else None
        return typing.cast(
            AccountEvent, self.from_document(AccountEvent, document, org=org, document="event")
        )

    def account_from_document(
        self, document: Mapping[str, Any], *, org: str | None = None, field: str = ""
    ) -> Account:
        """The account state an encoded :class:`~compute_pricing.state.Account` holds (strict).

        ``org`` is the org the caller read (it names the org in errors and must match the
        state's); ``field`` prefixes error paths (``state`` when the state is nested).
        """
        org = org if org is not None else _org_of(document)
        account = typing.cast(
            Account,
            self.from_document(Account, document, org=org, document="snapshot", field=field),
        )
        if org is not None and account.org != org:
            where = f"{field}.org" if field else "org"
            raise CorruptStateError(org, "snapshot", where, f"holds org {account.org!r}")
        return account

    def entry_from_document(
        self, document: Mapping[str, Any], *, org: str | None = None
    ) -> JournalEntry:
        """The journal entry an encoded :class:`~compute_pricing.journal.JournalEntry` holds.

        Strict; ``org`` is the org the caller read (it names the org in errors and must match
        the entry's).
        """
        org = org if org is not None else _org_of(document)
        entry = typing.cast(
            JournalEntry,
            self.from_document(JournalEntry, document, org=org, document="journal"),
        )
        if org is not None and entry.org != org:
            raise CorruptStateError(org, "journal", "org", f"holds org {entry.org!r}")
        return entry


def _org_of(data: Any) -> str | None:
    org = data.get("org") if _is_mapping(data) else None
    return org if type(org) is str else None


PLAIN = Codec()
"""The codec of the module-level functions: keys and ``Any`` values stored as they are."""

_account_out = PLAIN.encoder(Account)
_entry_out = PLAIN.encoder(JournalEntry)


def from_document(
    tp: Any, data: Any, *, org: str | None = None, document: str = "document", field: str = ""
) -> Any:
    """A value of type ``tp`` rebuilt from :func:`to_document` output, checked strictly.

    Raises :class:`~compute_pricing.errors.CorruptStateError` for ``org``'s ``document``
    (``field`` prefixes the dotted path) when ``data`` is not what the encoder wrote.
    """
    return PLAIN.from_document(tp, data, org=org, document=document, field=field)


def event_to_document(event: AccountEvent) -> dict[str, Any]:
    """``{"type": <class name>, "data": {...}}``."""
    return PLAIN.event_to_document(event)


def event_from_document(document: Mapping[str, Any]) -> AccountEvent:
    """The event a :func:`event_to_document` document holds (strict, see the module doc)."""
    return PLAIN.event_from_document(document)


def account_to_document(account: Account) -> dict[str, Any]:
    """Plain data of an account state."""
    return typing.cast(dict[str, Any], _account_out(account))


def account_from_document(
    document: Mapping[str, Any], *, org: str | None = None, field: str = ""
) -> Account:
    """The account state a :func:`account_to_document` document holds (strict).

    ``org`` is the org the caller read (it names the org in errors and must match the
    state's); ``field`` prefixes error paths (``state`` when the state is nested).
    """
    return PLAIN.account_from_document(document, org=org, field=field)


def entry_to_document(entry: JournalEntry) -> dict[str, Any]:
    """Plain data of a journal entry (events tagged by type)."""
    return typing.cast(dict[str, Any], _entry_out(entry))


def entry_from_document(document: Mapping[str, Any], *, org: str | None = None) -> JournalEntry:
    """The journal entry an :func:`entry_to_document` document holds (strict).

    ``org`` is the org the caller read (it names the org in errors and must match the entry's).
    """
    return PLAIN.entry_from_document(document, org=org)


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
