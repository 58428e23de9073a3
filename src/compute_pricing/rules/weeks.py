"""Week anchoring (docs/rules.md "Week reset"): when the current week ends, where the next begins.

Weeks are anchored at the org's last reset (``reset_at = anchor + 7 days``), not at the
calendar Monday. A reset more than a whole week late is clamped to now, so the new week always
contains now. An explicit period start (a Stripe renewal) re-anchors only when it falls in a
later ISO week than the current one and not in the future; anything else is clamped to the
current week, i.e. changes nothing. So week keys of one account are strictly increasing and
``reset:<week_key>`` names each reset exactly once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from compute_pricing.state import Week
from compute_pricing.timekeeping import to_utc_ms, week_key

__all__ = ["WEEK", "next_anchor"]

WEEK = timedelta(days=7)


def next_anchor(
    week: Week | None, now: datetime, period_start: datetime | None = None
) -> datetime | None:
    """Anchor of the week to open at ``now``, or ``None`` when the current week stands."""
    if week is None:
        return to_utc_ms(period_start if period_start is not None and period_start <= now else now)
    if period_start is not None:
        start = to_utc_ms(period_start)
        if start <= now and week_key(start) > week.key and start > week.started_at:
            return start if start + WEEK > now else now
    if now < week.reset_at:
        return None
    anchor = week.reset_at
    return anchor if anchor + WEEK > now else now
