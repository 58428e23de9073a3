"""Legacy mode rules: monthly ``resource.action`` counters against per-plan limits.

A counter at or above its limit refuses (HTTP 429); a counter with no limit (or an infinite
one) is always allowed. Counters restart each calendar month (UTC).
"""

from __future__ import annotations

import re

from compute_pricing.errors import InvalidNameError
from compute_pricing.state import LegacyUsage

__all__ = ["counter_name", "current_count"]

_NAME = re.compile(r"[a-z][a-z0-9_-]{0,63}")


def counter_name(resource: object, action: object) -> str:
    """``"resource.action"``, or :class:`InvalidNameError` naming the malformed part."""
    for field, value in (("resource", resource), ("action", action)):
        if not isinstance(value, str) or not _NAME.fullmatch(value):
            raise InvalidNameError(field, value, "must match ^[a-z][a-z0-9_-]{0,63}$")
    return f"{resource}.{action}"


def current_count(legacy: LegacyUsage, counter: str, period: str) -> int:
    """The counter's value in ``period`` (0 in a new month)."""
    return legacy.counts.get(counter, 0) if legacy.period == period else 0
