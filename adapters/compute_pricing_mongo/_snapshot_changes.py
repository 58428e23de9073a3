"""Changed-fields snapshot updates: ``$set`` only the paths whose stored value differs.

A :class:`StoredSnapshot` is what one process knows an account document holds at one version:
either it wrote that version (the value of every path it set, and the state they encode) or it
read it (the raw document, and the state decoded from it). What an account document holds at a
version is unique: a snapshot at version ``v`` is the fold of journal entries ``1..v``, the
compare-and-set never writes a version twice, and only this library writes the state's paths.
So an update guarded by ``version == known.version`` that sets the paths whose new value
differs from the known one (and the derived query fields likewise) leaves exactly the document
the full update (:func:`~compute_pricing_mongo._documents.snapshot_update`) would have left.
When the guard matches nothing (the document moved on, or is gone) the caller falls back to the
full compare-and-set.

On a state this process wrote, a field that is the very object it wrote (states are immutable
values and a fold shares what it does not change) is not encoded again; any other field is
encoded and compared with the stored value. A read document is compared path by path; a path
it lacks, or holds with another type (a naive datetime from a client without ``tz_aware``), is
simply set again.
"""

from __future__ import annotations

from collections.abc import Mapping
from operator import attrgetter
from typing import Any

from compute_pricing.journal import Snapshot
from compute_pricing.state import Account
from compute_pricing_mongo._documents import (
    STATE_PATHS,
    derived_fields,
    snapshot_update,
)
from compute_pricing_mongo._names import Document

__all__ = ["StoredSnapshot", "changed_fields_update", "full_update"]

_UNKNOWN: Any = object()
"""A stored value this process does not know: any value differs from it, so it is set."""

_ACCOUNT_PATHS, _SUBSCRIPTION_PATHS = STATE_PATHS
_account_values = attrgetter(*(name for name, _, _ in _ACCOUNT_PATHS))
_subscription_values = attrgetter(*(name for name, _, _ in _SUBSCRIPTION_PATHS))


class StoredSnapshot:
    """An account document as this process last wrote or read it, at ``version``.

    ``values`` holds every path's stored value when this process wrote it (the state paths,
    ``status``, ``at`` and the derived query fields, ``None`` for an absent one); ``document``
    is the raw document when it was read (its paths are compared as they are stored).
    """

    __slots__ = ("document", "state", "values", "version")

    def __init__(
        self,
        version: int,
        state: Account,
        *,
        values: Mapping[str, Any] | None = None,
        document: Mapping[str, Any] | None = None,
    ) -> None:
        self.version = version
        self.state = state
        self.values = values
        self.document = document


def full_update(snapshot: Snapshot) -> tuple[Document, StoredSnapshot]:
    """The full upsert update of ``snapshot`` and what the document holds once it is applied."""
    update = snapshot_update(snapshot)
    values = dict(update["$set"])
    del values["version"]
    values.update(dict.fromkeys(update.get("$unset", ())))
    values.setdefault("at", _UNKNOWN)  # a snapshot without ``at`` leaves the stored one
    return update, StoredSnapshot(snapshot.version, snapshot.state, values=values)


def _read_values(document: Mapping[str, Any]) -> dict[str, Any]:
    """The stored value of each state path of a read document (``_UNKNOWN`` where absent)."""
    state = document.get("state")
    state = state if isinstance(state, Mapping) else {}
    subscription = state.get("subscription")
    subscription = subscription if isinstance(subscription, Mapping) else {}
    values = {path: state.get(name, _UNKNOWN) for name, path, _ in _ACCOUNT_PATHS}
    values.update({path: subscription.get(name, _UNKNOWN) for name, path, _ in _SUBSCRIPTION_PATHS})
    values["at"] = document.get("at", _UNKNOWN)
    return values  # status and the derived fields are not read back: unknown


def _changed_state(
    state: Account, previous: Account | None, stored: Mapping[str, Any], sets: Document
) -> None:
    """Add to ``sets`` each state path whose encoded value differs from the ``stored`` one.

    A field that is the very object of ``previous`` (the state this process wrote) is skipped.
    """
    old = None if previous is None else _account_values(previous)
    for index, (value, (_, path, encoder)) in enumerate(
        zip(_account_values(state), _ACCOUNT_PATHS, strict=True)
    ):
        if old is not None and value is old[index]:
            continue
        encoded = value if encoder is None else encoder(value)
        if encoded != stored.get(path, _UNKNOWN):
            sets[path] = encoded
    subscription = state.subscription
    if previous is not None and subscription is previous.subscription:
        return
    for value, (_, path, encoder) in zip(
        _subscription_values(subscription), _SUBSCRIPTION_PATHS, strict=True
    ):
        encoded = value if encoder is None else encoder(value)
        if encoded != stored.get(path, _UNKNOWN):
            sets[path] = encoded


def changed_fields_update(
    snapshot: Snapshot, known: StoredSnapshot
) -> tuple[Document, StoredSnapshot]:
    """The update taking the document ``known`` describes to ``snapshot``, and the result.

    Apply it guarded by ``{"org": org, "version": known.version}`` (no upsert); it sets
    ``version`` and the paths whose value changed, and unsets derived fields that went away.
    """
    state = snapshot.state
    if known.values is not None:
        stored = known.values
        previous: Account | None = known.state
    else:
        stored = _read_values(known.document or {})
        previous = None
    sets: Document = {}
    status = state.subscription.status
    if stored.get("status", _UNKNOWN) != status:
        sets["status"] = status
    if snapshot.at is not None and stored["at"] != snapshot.at:
        sets["at"] = snapshot.at
    _changed_state(state, previous, stored, sets)
    unsets: Document = {}
    for name, value in derived_fields(state):
        held = stored.get(name, _UNKNOWN)
        if value is None:
            if held is not None:
                unsets[name] = ""
        elif value != held:
            sets[name] = value
    values = {**stored, **sets, **dict.fromkeys(unsets)}
    update: Document = {"$set": {"version": snapshot.version, **sets}}
    if unsets:
        update["$unset"] = unsets
    return update, StoredSnapshot(snapshot.version, state, values=values)
