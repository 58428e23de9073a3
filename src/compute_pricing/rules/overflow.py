"""Weekly usage and overflow (docs/rules.md, same name): how a charge splits quota/extras.

Charging ``u`` units against the live quota: ``from_quota = min(u, max(0, quota - used))`` and
``from_extras = u - from_quota``; ``used`` always grows by ``u``. Extras may go negative
(overflow debt) rather than lose a charge. Thresholds fire once a week each, the first time
``used * 100 >= pct * quota``; one charge can cross several.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

__all__ = ["crossed_thresholds", "split_charge"]


def split_charge(units: int, quota: int, used: int) -> tuple[int, int]:
    """``(from_quota, from_extras)`` of charging ``units`` when ``used`` of ``quota`` is spent."""
    from_quota = min(units, max(0, quota - used))
    return from_quota, units - from_quota


def crossed_thresholds(
    percents: Iterable[int], fired: Collection[int], used: int, quota: int
) -> list[int]:
    """Thresholds reached at ``used`` that have not fired this week (none when quota is 0)."""
    if quota <= 0:
        return []
    reached = used * 100
    return [pct for pct in percents if reached >= pct * quota and pct not in fired]
