"""``decide(state, command, context) -> Decision``: the functional core of every account change.

Pure: no I/O, no clock reads (``context.now`` is the instant), no globals. A decision is the
list of events to journal (folded with :func:`~compute_pricing.evolve.evolve`) and the outcome a
replay of the same key returns. A refused command raises a
:class:`~compute_pricing.errors.BillingError` and writes nothing.

This module is the registry: each command type maps to exactly one decider, and the deciders
live by topic (the invariant each keeps is in its module docstring):

- :mod:`~compute_pricing.decide_usage`: attribution and overflow charging, reservations, the
  legacy monthly counters;
- :mod:`~compute_pricing.decide_weeks`: opening and rolling the week, ``reset_week``;
- :mod:`~compute_pricing.decide_extras`: pack credits, adjustments, debits, refunds, lot expiry;
- :mod:`~compute_pricing.decide_plans`: direct plan changes and dunning;
- :mod:`~compute_pricing.decide_subscription`: Stripe subscriptions and customers;
- :mod:`~compute_pricing.decide_payments`: Stripe invoices, paid packs and disputes.

:class:`Context`, :class:`Decision` and the steps several topics share come from
:mod:`~compute_pricing.decide_common` and are re-exported here with the shared rules
:func:`roll_week` and :func:`take_back`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from compute_pricing import commands as cmd
from compute_pricing import (
    decide_extras,
    decide_payments,
    decide_plans,
    decide_subscription,
    decide_usage,
    decide_weeks,
)
from compute_pricing.decide_common import Context, Decision, current_headroom, exhausted_error
from compute_pricing.decide_extras import take_back
from compute_pricing.decide_weeks import roll_week
from compute_pricing.state import Account

__all__ = [
    "Context",
    "Decision",
    "current_headroom",
    "decide",
    "exhausted_error",
    "roll_week",
    "take_back",
]

_TOPICS = (
    decide_usage.DECIDERS,
    decide_weeks.DECIDERS,
    decide_extras.DECIDERS,
    decide_plans.DECIDERS,
    decide_subscription.DECIDERS,
    decide_payments.DECIDERS,
)

_DECIDERS: dict[type[cmd.Command], Callable[[Account, Any, Context], Decision]] = {
    kind: decider for topic in _TOPICS for kind, decider in topic.items()
}


def decide(state: Account, command: cmd.Command, ctx: Context) -> Decision:
    """The events ``command`` produces on ``state`` at ``ctx.now``, or a ``BillingError``."""
    return _DECIDERS[type(command)](state, command, ctx)
