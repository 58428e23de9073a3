"""Journal entries and snapshots: how an account is stored (docs/rules.md "Accounts").

Every change is one immutable :class:`JournalEntry` ``{org, seq, key, type, request, events,
outcome, at, ledger, clock_skew_ms}``. ``(org, seq)`` and ``(org, key)`` are unique: inserting
the entry at ``seq = version + 1`` is the commit point, and ``key`` makes the command
idempotent. The :class:`Snapshot` ``{org, version, state, at}`` is only a cache of folding
the journal; a reader that finds entries past the snapshot's version applies them (catch-up).
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

    ``request`` is the command's canonical parameters (``Command.request()``): a replay under
    ``key`` that asks for something else is refused. Entries written before it was stored hold
    ``None`` and match any replay of their key. ``ledger`` counts the visible ledger lines the
    events write, so ledger reads can skip entries that have none. ``clock_skew_ms`` is how far
    the clock had stepped back behind the account's previous entry when this one was written
    (``at`` was clamped to that entry's ``at``, so ``at`` never goes backwards); 0 normally.
    """

    org: str
    seq: int
    key: str
    type: str
    events: tuple[AccountEvent, ...]
    outcome: Mapping[str, Any]
    at: datetime
    ledger: int = 0
    request: Mapping[str, Any] | None = None
    clock_skew_ms: int = 0


@attrs.frozen
class Snapshot:
    """The account state folded up to and including journal entry ``version``.

    ``at`` is that entry's ``at`` (``None`` for snapshots written before it was kept), so the
    next commit can keep the journal's clock monotonic without reading the entry.
    """

    org: str
    version: int
    state: Account
    at: datetime | None = None
