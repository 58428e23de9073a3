"""Journal entries and snapshots: how an account is stored (docs/rules.md "Accounts").

Every change is one immutable :class:`JournalEntry` ``{org, seq, key, type, events, outcome,
at}``. ``(org, seq)`` and ``(org, key)`` are unique: inserting the entry at
``seq = version + 1`` is the commit point, and ``key`` makes the command idempotent. The
:class:`Snapshot` ``{org, version, state}`` is only a cache of folding the journal; a reader
that finds entries past the snapshot's version applies them (catch-up).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from compute_pricing.events import AccountEvent
from compute_pricing.state import Account

__all__ = ["JournalEntry", "Snapshot"]


@attrs.frozen
class JournalEntry:
    """One committed decision: its events, and the outcome a replay of ``key`` returns.

    ``ledger`` counts the visible ledger lines the events write, so ledger reads can skip
    entries that have none.
    """

    org: str
    seq: int
    key: str
    type: str
    events: tuple[AccountEvent, ...]
    outcome: Mapping[str, Any]
    at: datetime
    ledger: int = 0


@attrs.frozen
class Snapshot:
    """The account state folded up to and including journal entry ``version``."""

    org: str
    version: int
    state: Account
