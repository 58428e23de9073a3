"""What the ``ProcessedEventStore`` keeps for one Stripe event: :class:`ProcessedEvent`."""

from __future__ import annotations

from datetime import datetime

import attrs

__all__ = ["MAX_ERROR_LENGTH", "ProcessedEvent"]

#: Longest ``last_error`` a store keeps (longer messages are cut).
MAX_ERROR_LENGTH = 500


@attrs.frozen
class ProcessedEvent:
    """The claim record of one event id.

    ``processed_at`` is the caller's clock at the last write; ``attempts`` counts failed
    handler runs; ``last_error`` is the latest failure's message (``""`` when none);
    ``dead_letter`` marks an event that failed too often and now waits for an operator (the
    30-day TTL never removes it).
    """

    event_id: str
    type: str
    processed_at: datetime
    attempts: int
    last_error: str
    dead_letter: bool
    done: bool

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready view (times in ISO 8601)."""
        return {
            "event_id": self.event_id,
            "type": self.type,
            "processed_at": self.processed_at.isoformat(),
            "attempts": self.attempts,
            "last_error": self.last_error,
            "dead_letter": self.dead_letter,
            "done": self.done,
        }
