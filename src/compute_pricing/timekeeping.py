"""Time: the :class:`Clock` implementations, ISO week keys and month keys.

Only a clock reads the time. Every instant the library stores is aware UTC truncated to
milliseconds (BSON's precision), so a value read back from MongoDB equals the one written.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from compute_pricing.errors import ClockError, InvalidInputError

__all__ = ["FakeClock", "SystemClock", "month_key", "to_utc_ms", "week_key"]


def to_utc_ms(instant: datetime) -> datetime:
    """``instant`` in UTC, truncated to the millisecond; naive values are refused."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise InvalidInputError("instant", instant, "must be timezone-aware")
    try:
        utc = instant.astimezone(UTC)
    except OverflowError as exc:  # e.g. 0001-01-01 at +05:00 is before year 1 in UTC
        raise InvalidInputError("instant", instant, "is out of range in UTC") from exc
    return utc.replace(microsecond=utc.microsecond // 1000 * 1000)


def week_key(instant: datetime) -> str:
    """ISO-8601 week ``YYYY-Www`` of an aware instant, read in UTC (53-week years included)."""
    year, week, _ = to_utc_ms(instant).isocalendar()
    return f"{year:04d}-W{week:02d}"


def month_key(instant: datetime) -> str:
    """Calendar month ``YYYY-MM`` of an aware instant, read in UTC (legacy counters)."""
    utc = to_utc_ms(instant)
    return f"{utc.year:04d}-{utc.month:02d}"


class SystemClock:
    """The wall clock, in aware UTC at millisecond precision. Implements ``Clock``."""

    def now(self) -> datetime:
        """The current instant."""
        return to_utc_ms(datetime.now(UTC))


class FakeClock:
    """A clock for tests and simulations that moves only when told, and never backwards.

    Thread-safe. Implements ``Clock``.
    """

    def __init__(self, start: datetime) -> None:
        self._now = to_utc_ms(start)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The current fake instant."""
        return self._now

    def advance(self, delta: timedelta | None = None, **parts: float) -> datetime:
        """Move forward by ``delta`` or by ``timedelta(**parts)``; return the new instant."""
        step = delta if delta is not None else timedelta(**parts)
        if step < timedelta(0):
            raise ClockError(f"FakeClock cannot go backwards (advance by {step})")
        with self._lock:
            self._now = to_utc_ms(self._now + step)
            return self._now

    def set(self, instant: datetime) -> datetime:
        """Jump to ``instant``, which must not be before the current instant."""
        target = to_utc_ms(instant)
        with self._lock:
            if target < self._now:
                raise ClockError(f"FakeClock cannot go backwards ({self._now} -> {target})")
            self._now = target
            return self._now
