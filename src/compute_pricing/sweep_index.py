"""The in-memory store's sweep index: each org's due instant for one sweep, by day.

A sweep asks, batch after batch, for the orgs whose instant (a week's ``reset_at``, the
earliest lot expiry, ``past_due_since`` while past due) is at or before ``at``, in org order
past a cursor. Scanning every snapshot for that costs a pass over all orgs per batch, and
touching each snapshot's state on the way costs memory traffic that grows with the store.

:class:`DueIndex` keeps, per org, the instant itself (``None``: never due) in a dict, and the
orgs in one set per UTC day of their instant. The first query at an instant collects the orgs
of the days before it whole and filters those of its own day, sorts them once (the *view*), and
every later query at the same instant bisects the view to its cursor: a sweep reads only the
orgs that are due, not every snapshot. An org whose instant moves stays in the view until the
next instant is asked and is skipped when it is no longer due; one that becomes due at the
viewed instant is inserted, so the answer is always exactly what a scan would give.

The index holds strings, ints and datetimes in a few containers: it adds no object per org the
cyclic garbage collector has to visit, and an update that does not move an instant is one dict
lookup.
"""

from __future__ import annotations

import bisect
from datetime import UTC, datetime, timedelta

__all__ = ["DueIndex"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY = timedelta(days=1)


def _day(instant: datetime) -> int:
    """Whole UTC days from the epoch to ``instant`` (monotonic in the instant)."""
    return (instant - _EPOCH) // _DAY


class DueIndex:
    """Orgs by the instant one sweep looks at; not thread-safe (its store's lock guards it)."""

    def __init__(self) -> None:
        self._due: dict[str, datetime] = {}
        self._days: dict[int, set[str]] = {}
        self._at: datetime | None = None  # the instant the view was built for
        self._view: list[str] = []  # orgs due at ``_at`` (and some no longer), sorted

    def __len__(self) -> int:
        """How many orgs have an instant."""
        return len(self._due)

    def set(self, org: str, instant: datetime | None) -> None:
        """Record ``org``'s instant (``None``: it has none, so it is never due)."""
        old = self._due.get(org)
        if old == instant:
            return
        if old is not None:
            day = _day(old)
            bucket = self._days[day]
            bucket.discard(org)
            if not bucket:
                del self._days[day]
            del self._due[org]
        if instant is None:
            return
        self._due[org] = instant
        day = _day(instant)
        known = self._days.get(day)
        if known is None:  # not ``setdefault``: no new empty set per call
            known = self._days[day] = set()
        known.add(org)
        at = self._at
        if at is not None and instant <= at and (old is None or old > at):
            view = self._view  # newly due at the viewed instant: add it unless still there
            place = bisect.bisect_left(view, org)
            if place == len(view) or view[place] != org:
                view.insert(place, org)

    def due(self, at: datetime, *, after: str | None, limit: int) -> list[str]:
        """Orgs due at ``at`` (instant at or before it) past ``after``, in org order, ``limit``."""
        if at != self._at:
            self._build(at)
        view, instants = self._view, self._due
        found: list[str] = []
        place = 0 if after is None else bisect.bisect_right(view, after)
        while place < len(view) and len(found) < limit:
            org = view[place]
            instant = instants.get(org)
            if instant is not None and instant <= at:
                found.append(org)
            place += 1
        return found

    def _build(self, at: datetime) -> None:
        """The view at ``at``: the orgs of every earlier day, those of ``at``'s day filtered."""
        orgs: list[str] = []
        last = _day(at) if self._days else 0
        for day, bucket in self._days.items():
            if day < last:
                orgs.extend(bucket)
            elif day == last:
                orgs.extend(org for org in bucket if self._due[org] <= at)
        orgs.sort()
        self._at, self._view = at, orgs
