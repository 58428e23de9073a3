"""Document mapping shared by the Mongo adapters: domain values <-> BSON-safe documents.

Values go through :mod:`compute_pricing.codec` (attrs values -> plain data), then every
mapping key is escaped so caller-chosen keys (cost categories, ``resource.action`` counters)
may hold ``.``, ``$`` and ``%``, which MongoDB field names cannot carry safely: ``%`` becomes
``%25``, ``.`` becomes ``%2E`` and ``$`` becomes ``%24``. The escape is injective, so decoding
gives back exactly the key that was stored.

On the way back every datetime is made aware UTC, whether or not the client was created with
``tz_aware=True``; values are stored at millisecond precision already (the core's clocks
truncate), so what is read equals what was written.

An account snapshot document is ``{_id: org, org, version, state, status, reset_at,
next_expiry, past_due_since}``: ``state`` is the encoded :class:`~compute_pricing.state.Account`,
and the other top-level fields are derived from it so the cron queries can use indexes
(absent when the state has no such value, which keeps the partial indexes small).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from compute_pricing.codec import (
    account_from_document,
    entry_from_document,
    entry_to_document,
    to_document,
)
from compute_pricing.journal import JournalEntry, Snapshot
from compute_pricing_mongo._names import Document

__all__ = [
    "QUERYABLE_FIELDS",
    "decode",
    "encode",
    "entry_document",
    "entry_from",
    "snapshot_from_document",
    "snapshot_update",
]

#: Top-level snapshot fields derived from the state for the cron queries.
QUERYABLE_FIELDS = ("reset_at", "next_expiry", "past_due_since")

_NEEDS_ESCAPE = re.compile(r"[.$%]")
_ESCAPED = re.compile(r"%(25|2E|24)")
_ESCAPES = {"%": "%25", ".": "%2E", "$": "%24"}
_UNESCAPES = {"25": "%", "2E": ".", "24": "$"}


def _escape(key: str) -> str:
    if _NEEDS_ESCAPE.search(key) is None:
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
    """BSON-safe data for ``value``: :func:`~compute_pricing.codec.to_document`, keys escaped."""
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


def entry_document(entry: JournalEntry) -> Document:
    """The journal document of ``entry``: ``{org, seq, key, type, events, outcome, at, ...}``."""
    document: Document = _escape_keys(entry_to_document(entry))
    return document


def entry_from(document: Mapping[str, Any]) -> JournalEntry:
    """The journal entry a document written by :func:`entry_document` holds."""
    return entry_from_document(decode(document))


def snapshot_update(snapshot: Snapshot) -> Document:
    """The upsert update that stores ``snapshot`` (see the module docstring for the layout).

    The state is written field by field (and the subscription too), so fields the core does
    not model, such as a ``stripe_customer_id`` another service keeps there, survive a save.
    """
    state = snapshot.state
    encoded: Document = encode(state)
    subscription: Document = encoded.pop("subscription")
    values: Document = {"version": snapshot.version, "status": state.subscription.status}
    if snapshot.at is not None:
        values["at"] = snapshot.at
    values.update({f"state.{name}": value for name, value in encoded.items()})
    values.update({f"state.subscription.{name}": value for name, value in subscription.items()})
    derived = {
        "reset_at": state.week.reset_at if state.week is not None else None,
        "next_expiry": state.next_expiry,
        "past_due_since": state.subscription.past_due_since,
    }
    values.update({name: value for name, value in derived.items() if value is not None})
    update: Document = {"$set": values, "$setOnInsert": {"_id": snapshot.org}}
    absent = {name: "" for name, value in derived.items() if value is None}
    if absent:
        update["$unset"] = absent
    return update


def snapshot_from_document(document: Mapping[str, Any]) -> Snapshot:
    """The snapshot an account document holds (``version`` 0 when a legacy one lacks it)."""
    return Snapshot(
        org=document["org"],
        version=int(document.get("version", 0)),
        state=account_from_document(decode(document["state"])),
        at=decode(document.get("at")),
    )
