"""The webhook use case: :class:`WebhookProcessor` runs each verified Stripe event once.

``handle(payload, signature)`` goes verify -> parse -> claim -> dispatch -> mark done:

1. The signature is checked on the raw bytes, then the envelope is parsed. Either failing
   raises a :class:`~compute_pricing.errors.WebhookError` (400) before anything is written.
2. An event type with no handler is answered ``ignored`` (200) and writes nothing.
3. The object is parsed with its model (400 if malformed, still before any write), then the
   event id is claimed. An event already done answers ``duplicate``; a dead letter answers
   ``dead_lettered`` without running (both 200: Stripe must stop retrying).
4. The handler runs. Its result string (``applied``, ``stale`` or ``ignored``: it ran and found
   nothing to change, e.g. an unpaid session or a refund of no known pack) becomes the outcome
   and the claim is marked done. If it raises, the failure is counted with its message: below
   ``webhook_max_attempts`` a :class:`~compute_pricing.errors.WebhookHandlerError` (500) is
   raised so Stripe retries; at the limit the event becomes a dead letter, answered 200.

Handlers must be idempotent by event id (account changes are keyed ``stripe:<event_id>``), as
a crash between the handler and ``mark_done`` makes Stripe deliver the event again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import attrs

from compute_pricing.errors import WebhookHandlerError, WebhookPayloadError
from compute_pricing.stripe.payloads import Envelope, StripeEvent, parse_envelope, parse_event
from compute_pricing.stripe.signature import verify_signature

if TYPE_CHECKING:
    from compute_pricing.config import BillingConfig
    from compute_pricing.ports import Clock, ProcessedEventStore
    from compute_pricing.stripe.records import ProcessedEvent

__all__ = ["RESULTS", "Handler", "WebhookOutcome", "WebhookProcessor"]

log = logging.getLogger(__name__)

Handler = Callable[[StripeEvent], str]
"""Applies one parsed event; answers ``applied``, ``stale`` or ``ignored``; raises to retry."""

#: Every ``WebhookOutcome.result``.
RESULTS = frozenset({"applied", "duplicate", "ignored", "stale", "dead_lettered"})
_HANDLER_RESULTS = frozenset({"applied", "ignored", "stale"})


@attrs.frozen
class WebhookOutcome:
    """What a delivery did: the HTTP ``status`` to answer and the ``result``.

    ``result`` is one of ``applied`` (the handler ran), ``stale`` (it ran and found the event
    older than what the account already reflects), ``duplicate`` (done before), ``ignored``
    (no handler for the type, or the handler found nothing to change) or ``dead_lettered``
    (failed too often; an operator replays it).
    """

    status: int
    event_id: str
    event_type: str
    result: str

    def to_dict(self) -> dict[str, object]:
        """The HTTP body."""
        return {
            "status": self.status,
            "event_id": self.event_id,
            "event_type": self.event_type,
            "result": self.result,
        }


def _checked(result: str) -> str:
    if result not in _HANDLER_RESULTS:
        raise ValueError(f"handler returned {result!r}, not applied, ignored or stale")
    return result


def _reason(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class WebhookProcessor:
    """Verifies, parses, claims and dispatches Stripe events; also the dead-letter admin.

    ``handlers`` maps an event type to its :data:`Handler`; :meth:`register` adds one later
    (the composition root fills the table).
    """

    def __init__(
        self,
        store: ProcessedEventStore,
        clock: Clock,
        config: BillingConfig,
        handlers: Mapping[str, Handler] | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._config = config
        self._handlers: dict[str, Handler] = dict(handlers or {})

    @property
    def handlers(self) -> Mapping[str, Handler]:
        """The dispatch table (read-only view)."""
        return dict(self._handlers)

    def register(self, event_type: str, handler: Handler) -> None:
        """Dispatch ``event_type`` to ``handler`` (replacing any earlier one)."""
        self._handlers[event_type] = handler

    def handle(self, payload: bytes, signature: str) -> WebhookOutcome:
        """Process one delivery: raw body bytes and the ``Stripe-Signature`` header."""
        stripe = self._config.stripe
        verify_signature(
            payload,
            signature,
            secrets=stripe.webhook_secrets(),
            tolerance_seconds=stripe.webhook_tolerance_seconds,
            now=self._clock.now(),
        )
        return self._process(parse_envelope(payload))

    def replay(self, event_id: str, payload: bytes) -> WebhookOutcome:
        """Run a dead letter again, once, from its event JSON (an operator's call).

        The payload is trusted (no signature: a stored event's would be stale) but must be the
        event ``event_id``. Replaying an event that is not a dead letter is an ordinary
        delivery: done ones answer ``duplicate``.
        """
        envelope = parse_envelope(payload)
        if envelope.id != event_id:
            raise WebhookPayloadError("id", f"is {envelope.id!r}, not the event {event_id!r}")
        if envelope.type in self._handlers:
            parse_event(envelope)  # refuse a malformed object before releasing anything
            self._store.release_for_replay(event_id, self._clock.now())
        return self._process(envelope)

    def dead_letters(self, *, limit: int = 100) -> list[ProcessedEvent]:
        """Events that failed ``webhook_max_attempts`` times, oldest first."""
        return self._store.dead_letters(limit=limit)

    def purge(self, event_id: str) -> bool:
        """Forget ``event_id`` (typically a dead letter resolved by hand)."""
        return self._store.purge(event_id)

    def _process(self, envelope: Envelope) -> WebhookOutcome:
        handler = self._handlers.get(envelope.type)
        if handler is None:
            return self._outcome(envelope, "ignored")
        event = parse_event(envelope)
        claim = self._store.claim(event.id, event.type, self._clock.now())
        if claim == "done":
            return self._outcome(envelope, "duplicate")
        if claim == "dead":
            return self._outcome(envelope, "dead_lettered")
        try:
            result = _checked(handler(event))
        except Exception as exc:  # any failure counts an attempt; Stripe retries
            return self._failed(envelope, exc)
        self._store.mark_done(event.id, self._clock.now())
        return self._outcome(envelope, result)

    def _failed(self, envelope: Envelope, exc: Exception) -> WebhookOutcome:
        reason = _reason(exc)
        limit = self._config.webhook_max_attempts
        dead = self._store.mark_failed(envelope.id, self._clock.now(), limit, error=reason)
        if dead:
            log.error("webhook %s (%s) dead-lettered: %s", envelope.id, envelope.type, reason)
            return self._outcome(envelope, "dead_lettered")
        record = self._store.get(envelope.id)
        attempts = record.attempts if record is not None else 1
        raise WebhookHandlerError(envelope.id, attempts, reason) from exc

    @staticmethod
    def _outcome(envelope: Envelope, result: str) -> WebhookOutcome:
        return WebhookOutcome(
            status=200, event_id=envelope.id, event_type=envelope.type, result=result
        )
