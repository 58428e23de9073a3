"""Ordering of Stripe events (webhooks arrive late, twice and out of order).

Two families keep their own watermark on the subscription: ``subscription``
(``customer.subscription.*``, ``customer.deleted``, subscription-mode checkout) and ``invoice``
(``invoice.*``). A watermark is the ``(created, event_id)`` of the newest event applied; an event
strictly older (ties broken by event id) changes nothing and is reported ``stale``. Every applied
event moves its family's watermark, even when it changes nothing else, so an older event
delivered after it stays stale. Direct writers (the dunning sweep, an admin plan change) move the
``subscription`` watermark to their own instant with an empty event id: a Stripe subscription
event created before them no longer overrides what they decided. The invoice watermark is left to
invoices, so a payment made before the sweep but delivered after it still restores the plan.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from compute_pricing import events as ev
from compute_pricing.state import Account, Subscription, Watermark

__all__ = ["FAMILIES", "Family", "direct_watermark", "is_stale", "mark_of", "moved"]

Family = Literal["subscription", "invoice"]
#: The two ordering families.
FAMILIES: tuple[Family, ...] = ("subscription", "invoice")


def mark_of(subscription: Subscription, family: Family) -> Watermark | None:
    """The watermark ``subscription`` keeps for ``family``."""
    return subscription.invoice_mark if family == "invoice" else subscription.subscription_mark


def is_stale(subscription: Subscription, family: Family, created: datetime, event_id: str) -> bool:
    """Whether an event ``(created, event_id)`` is older than the family's watermark."""
    mark = mark_of(subscription, family)
    return mark is not None and Watermark(created=created, event_id=event_id) < mark


def moved(
    state: Account, now: datetime, family: Family, created: datetime, event_id: str
) -> ev.WatermarkMoved:
    """The event that moves ``family``'s watermark to ``(created, event_id)``."""
    return ev.WatermarkMoved(
        org=state.org, at=now, family=family, created=created, event_id=event_id
    )


def direct_watermark(state: Account, now: datetime) -> ev.WatermarkMoved:
    """A direct writer's move of the subscription watermark to ``now``."""
    return moved(state, now, "subscription", now, "")
