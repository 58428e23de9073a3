"""The webhook pipeline: verify -> parse -> claim -> dispatch -> mark done, and dead letters."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import stripe
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from compute_pricing import Billing, BillingConfig, StripeSettings
from compute_pricing.errors import (
    WebhookHandlerError,
    WebhookPayloadError,
    WebhookSignatureError,
)
from compute_pricing.memory import InMemoryProcessedEventStore
from compute_pricing.stripe.payloads import StripeEvent, Subscription
from compute_pricing.stripe.pipeline import WebhookOutcome, WebhookProcessor
from compute_pricing.stripe.records import ProcessedEvent
from compute_pricing.timekeeping import FakeClock

T0 = datetime(2026, 3, 2, 9, 30, 15, 123000, tzinfo=UTC)
SECRET = "whsec_pipeline"  # noqa: S105 - a test signing secret
TYPE = "customer.subscription.updated"


class CountingStore(InMemoryProcessedEventStore):
    """An in-memory claim store that records every call made to it."""

    def __init__(self) -> None:
        super().__init__(ttl_days=30)
        self.calls: list[str] = []

    def claim(self, event_id: str, event_type: str, now: datetime) -> str:
        """Record, then claim."""
        self.calls.append("claim")
        return super().claim(event_id, event_type, now)

    def mark_done(self, event_id: str, now: datetime) -> None:
        """Record, then mark done."""
        self.calls.append("mark_done")
        super().mark_done(event_id, now)

    def mark_failed(
        self, event_id: str, now: datetime, max_attempts: int, *, error: str = ""
    ) -> bool:
        """Record, then mark failed."""
        self.calls.append("mark_failed")
        return super().mark_failed(event_id, now, max_attempts, error=error)

    def release_for_replay(self, event_id: str, now: datetime) -> bool:
        """Record, then release."""
        self.calls.append("release_for_replay")
        return super().release_for_replay(event_id, now)


class FlakyHandler:
    """A test handler failing its first ``failures`` runs, then answering ``result``."""

    def __init__(self, failures: int = 0, result: str = "applied") -> None:
        self.failures = failures
        self.result = result
        self.runs = 0
        self.applied: list[StripeEvent] = []

    def __call__(self, event: StripeEvent) -> str:
        """Fail or apply."""
        self.runs += 1
        if self.runs <= self.failures:
            raise RuntimeError(f"account store down (run {self.runs})")
        self.applied.append(event)
        return self.result


def body(event_id: str = "evt_1", event_type: str = TYPE, **obj: Any) -> bytes:
    """A subscription event body."""
    data = {"id": "sub_1", "customer": "cus_1", "status": "active", **obj}
    return json.dumps(
        {"id": event_id, "type": event_type, "created": 1_772_443_815, "data": {"object": data}}
    ).encode()


def signed(payload: bytes, clock: FakeClock, secret: str = SECRET) -> str:
    """A header signed by the stripe SDK at the clock's time."""
    stamp = int(clock.now().timestamp())
    return str(stripe.WebhookSignature.generate_signature_header(payload.decode(), secret, stamp))


def config(secrets: tuple[str, ...] = (SECRET,)) -> BillingConfig:
    """Signing secrets configured; the default five attempts."""
    return BillingConfig(
        stripe=StripeSettings(webhook_secret=tuple(SecretStr(item) for item in secrets))
    )


Setup = tuple[WebhookProcessor, CountingStore, FakeClock]


@pytest.fixture
def setup() -> Callable[..., Setup]:
    """Build a processor with a counting store and a fake clock, handlers as given."""

    def build(**handlers: Callable[[StripeEvent], str]) -> Setup:
        store = CountingStore()
        clock = FakeClock(T0)
        table = {key.replace("__", "."): value for key, value in handlers.items()}
        return WebhookProcessor(store, clock, config(), table), store, clock

    return build


def deliver(processor: WebhookProcessor, clock: FakeClock, payload: bytes) -> WebhookOutcome:
    """Sign at the current time and deliver."""
    return processor.handle(payload, signed(payload, clock))


def outcome(result: str, event_id: str = "evt_1", event_type: str = TYPE) -> WebhookOutcome:
    """The expected 200 outcome."""
    return WebhookOutcome(status=200, event_id=event_id, event_type=event_type, result=result)


def test_a_signed_event_runs_its_handler_once(setup: Callable[..., Setup]) -> None:
    """Applied on first delivery with the parsed object; a redelivery is a duplicate."""
    handler = FlakyHandler()
    processor, store, clock = setup(customer__subscription__updated=handler)
    assert outcome("applied") == deliver(processor, clock, body())
    assert outcome("duplicate") == deliver(processor, clock, body())
    assert 1 == handler.runs
    assert isinstance(handler.applied[0].object, Subscription)
    assert ["claim", "mark_done", "claim"] == store.calls


def test_the_handler_result_stale_is_the_outcome(setup: Callable[..., Setup]) -> None:
    """A handler finding the event older than the account says ``stale``; it is done."""
    processor, _store, clock = setup(customer__subscription__updated=FlakyHandler(result="stale"))
    assert outcome("stale") == deliver(processor, clock, body())
    assert outcome("duplicate") == deliver(processor, clock, body())


def test_a_handler_returning_nonsense_counts_as_a_failure(setup: Callable[..., Setup]) -> None:
    """A result other than applied / stale is a bug: the attempt fails and is retried."""
    processor, store, clock = setup(customer__subscription__updated=FlakyHandler(result="ok"))
    with pytest.raises(WebhookHandlerError) as caught:
        deliver(processor, clock, body())
    assert (1, "evt_1") == (caught.value.attempts, caught.value.event_id)
    record = store.get("evt_1")
    assert record is not None
    assert "ValueError: handler returned 'ok', not applied, ignored or stale" == record.last_error


def test_four_failures_then_success_applies_once(setup: Callable[..., Setup]) -> None:
    """Each failure is a 500 with its attempt number; the fifth delivery applies, once."""
    handler = FlakyHandler(failures=4)
    processor, store, clock = setup(customer__subscription__updated=handler)
    attempts = []
    for _ in range(4):
        with pytest.raises(WebhookHandlerError) as caught:
            deliver(processor, clock, body())
        attempts.append(caught.value.attempts)
        assert 500 == caught.value.status
        clock.advance(minutes=1)
    assert [1, 2, 3, 4] == attempts
    assert outcome("applied") == deliver(processor, clock, body())
    assert outcome("duplicate") == deliver(processor, clock, body())
    assert (5, 1) == (handler.runs, len(handler.applied))
    record = store.get("evt_1")
    assert record is not None
    assert (4, "RuntimeError: account store down (run 4)", True, False) == (
        record.attempts,
        record.last_error,
        record.done,
        record.dead_letter,
    )


def test_five_failures_dead_letter_and_a_redelivery_does_not_run(
    setup: Callable[..., Setup],
) -> None:
    """The fifth failure answers 200 dead_lettered; later deliveries answer it without running."""
    handler = FlakyHandler(failures=10)
    processor, _store, clock = setup(customer__subscription__updated=handler)
    for _ in range(4):
        with pytest.raises(WebhookHandlerError):
            deliver(processor, clock, body())
    assert outcome("dead_lettered") == deliver(processor, clock, body())
    assert outcome("dead_lettered") == deliver(processor, clock, body())
    assert 5 == handler.runs
    [dead] = processor.dead_letters()
    assert (
        ProcessedEvent(
            event_id="evt_1",
            type=TYPE,
            processed_at=T0,
            attempts=5,
            last_error="RuntimeError: account store down (run 5)",
            dead_letter=True,
            done=False,
        )
        == dead
    )


def test_replay_runs_a_dead_letter_once(setup: Callable[..., Setup]) -> None:
    """After the cause is fixed, replay applies the dead letter once; again is a duplicate."""
    handler = FlakyHandler(failures=5)
    processor, _store, clock = setup(customer__subscription__updated=handler)
    for _ in range(4):
        with pytest.raises(WebhookHandlerError):
            deliver(processor, clock, body())
    assert outcome("dead_lettered") == deliver(processor, clock, body())
    clock.advance(days=3)  # the stored event's signature would be long stale by now
    assert outcome("applied") == processor.replay("evt_1", body())
    assert outcome("duplicate") == processor.replay("evt_1", body())
    assert outcome("duplicate") == deliver(processor, clock, body())
    assert (6, 1) == (handler.runs, len(handler.applied))
    assert [] == processor.dead_letters()


def test_a_replay_that_fails_again_is_dead_again(setup: Callable[..., Setup]) -> None:
    """Replay runs the handler exactly once; failing again returns it to the dead letters."""
    handler = FlakyHandler(failures=100)
    processor, _store, clock = setup(customer__subscription__updated=handler)
    for _ in range(4):
        with pytest.raises(WebhookHandlerError):
            deliver(processor, clock, body())
    deliver(processor, clock, body())
    assert outcome("dead_lettered") == processor.replay("evt_1", body())
    assert 6 == handler.runs
    assert [6] == [record.attempts for record in processor.dead_letters()]


def test_replay_refuses_another_events_payload(setup: Callable[..., Setup]) -> None:
    """The payload must be the event being replayed; nothing is released otherwise."""
    processor, store, _clock = setup(customer__subscription__updated=FlakyHandler())
    with pytest.raises(WebhookPayloadError) as caught:
        processor.replay("evt_1", body(event_id="evt_2"))
    assert "id" == caught.value.field
    with pytest.raises(WebhookPayloadError):
        processor.replay("evt_1", body(status=None))
    assert [] == store.calls


def test_replay_of_an_unhandled_type_is_ignored(setup: Callable[..., Setup]) -> None:
    """Replaying an event no handler takes answers ``ignored`` and releases nothing."""
    processor, store, _clock = setup(customer__subscription__updated=FlakyHandler())
    payload = body(event_type="payout.paid")
    assert outcome("ignored", event_type="payout.paid") == processor.replay("evt_1", payload)
    assert [] == store.calls


def test_a_dead_letter_record_has_a_json_view(setup: Callable[..., Setup]) -> None:
    """``ProcessedEvent.to_dict`` gives the record with its time in ISO 8601."""
    processor, _store, clock = setup(customer__subscription__updated=FlakyHandler(failures=9))
    for _ in range(4):
        with pytest.raises(WebhookHandlerError):
            deliver(processor, clock, body())
    deliver(processor, clock, body())
    assert [
        {
            "event_id": "evt_1",
            "type": TYPE,
            "processed_at": "2026-03-02T09:30:15.123000+00:00",
            "attempts": 5,
            "last_error": "RuntimeError: account store down (run 5)",
            "dead_letter": True,
            "done": False,
        }
    ] == [record.to_dict() for record in processor.dead_letters()]


def test_purge_forgets_a_dead_letter(setup: Callable[..., Setup]) -> None:
    """A purged dead letter is gone; a new delivery of it runs as a new event."""
    handler = FlakyHandler(failures=5)
    processor, _store, clock = setup(customer__subscription__updated=handler)
    for _ in range(4):
        with pytest.raises(WebhookHandlerError):
            deliver(processor, clock, body())
    deliver(processor, clock, body())
    assert (True, False) == (processor.purge("evt_1"), processor.purge("evt_1"))
    assert outcome("applied") == deliver(processor, clock, body())


def test_unknown_types_are_ignored_without_a_write(setup: Callable[..., Setup]) -> None:
    """No handler for the type: 200 ignored, nothing claimed, even with an odd object."""
    processor, store, clock = setup(customer__subscription__updated=FlakyHandler())
    payload = body(event_type="payout.paid", status=None)
    assert outcome("ignored", event_type="payout.paid") == deliver(processor, clock, payload)
    assert [] == store.calls


@pytest.mark.parametrize(
    "header_for",
    [
        lambda payload, clock: signed(payload.replace(b"active", b"activf"), clock),
        lambda payload, clock: signed(payload, clock, "whsec_wrong"),
        lambda payload, clock: signed(payload, clock).replace("v1=", "v0="),
        lambda payload, clock: signed(payload, clock).replace("t=", "t=1"),
        lambda payload, clock: "",
    ],
    ids=["tampered", "wrong-secret", "no-v1", "bad-timestamp", "empty"],
)
def test_a_bad_signature_writes_nothing(
    setup: Callable[..., Setup], header_for: Callable[[bytes, FakeClock], str]
) -> None:
    """Every signature failure is a 400 before any claim, and the handler never runs."""
    handler = FlakyHandler()
    processor, store, clock = setup(customer__subscription__updated=handler)
    with pytest.raises(WebhookSignatureError) as caught:
        processor.handle(body(), header_for(body(), clock))
    assert (400, [], 0) == (caught.value.status, store.calls, handler.runs)


@given(st.text(max_size=200))
def test_any_unsigned_header_writes_nothing(header: str) -> None:
    """Whatever the header, an unsigned delivery raises WebhookSignatureError and writes nothing."""
    store = CountingStore()
    clock = FakeClock(T0)
    processor = WebhookProcessor(store, clock, config(), {TYPE: FlakyHandler()})
    with pytest.raises(WebhookSignatureError):
        processor.handle(body(), header)
    assert [] == store.calls


@pytest.mark.parametrize("seconds", [-301, 301])
def test_stale_and_future_signatures_write_nothing(
    setup: Callable[..., Setup], seconds: int
) -> None:
    """A correct signature outside the tolerance of the library's clock writes nothing."""
    processor, store, clock = setup(customer__subscription__updated=FlakyHandler())
    stamp = int(clock.now().timestamp()) + seconds
    header = str(stripe.WebhookSignature.generate_signature_header(body().decode(), SECRET, stamp))
    with pytest.raises(WebhookSignatureError):
        processor.handle(body(), header)
    assert [] == store.calls


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (b"{not json", "payload"),
        (json.dumps({"type": TYPE, "created": 1, "data": {"object": {}}}).encode(), "id"),
        (body(status=7), "data.object.status"),
    ],
)
def test_a_malformed_signed_payload_writes_nothing(
    setup: Callable[..., Setup], payload: bytes, field: str
) -> None:
    """A signed but malformed payload is a 400 naming the field, before any claim."""
    processor, store, clock = setup(customer__subscription__updated=FlakyHandler())
    with pytest.raises(WebhookPayloadError) as caught:
        deliver(processor, clock, payload)
    assert (400, field, []) == (caught.value.status, caught.value.field, store.calls)


def test_a_rotated_secret_still_verifies(setup: Callable[..., Setup]) -> None:
    """With two secrets configured, a delivery signed with either is accepted."""
    store = CountingStore()
    clock = FakeClock(T0)
    processor = WebhookProcessor(
        store, clock, config(("whsec_new", SECRET)), {TYPE: FlakyHandler()}
    )
    assert outcome("applied") == processor.handle(body(), signed(body(), clock))
    second = body(event_id="evt_2")
    assert outcome("applied", "evt_2") == processor.handle(
        second, signed(second, clock, "whsec_new")
    )


def test_register_fills_the_dispatch_table() -> None:
    """Handlers registered after construction are dispatched to."""
    clock = FakeClock(T0)
    processor = WebhookProcessor(CountingStore(), clock, config())
    assert {} == processor.handlers
    handler = FlakyHandler()
    processor.register(TYPE, handler)
    assert {TYPE: handler} == processor.handlers
    assert outcome("applied") == deliver(processor, clock, body())


def test_the_outcome_is_its_http_body() -> None:
    """``to_dict`` gives status, event id and type, and the result."""
    assert {
        "status": 200,
        "event_id": "evt_1",
        "event_type": TYPE,
        "result": "applied",
    } == outcome("applied").to_dict()


def test_billing_handles_signed_webhooks_and_exposes_the_admin() -> None:
    """The facade verifies and dispatches through ``billing.webhooks``; dead letters replay."""
    clock = FakeClock(T0)
    billing = Billing.in_memory(config(), clock=clock)
    unhandled = body("evt_0", "payout.paid")
    assert outcome("ignored", "evt_0", event_type="payout.paid") == billing.handle_stripe_webhook(
        unhandled, signed(unhandled, clock)
    )
    handler = FlakyHandler(failures=5)
    billing.webhooks.register(TYPE, handler)
    for _ in range(4):
        with pytest.raises(WebhookHandlerError):
            billing.handle_stripe_webhook(body(), signed(body(), clock))
        clock.advance(timedelta(minutes=5))
    assert outcome("dead_lettered") == billing.handle_stripe_webhook(body(), signed(body(), clock))
    assert ["evt_1"] == [record.event_id for record in billing.webhooks.dead_letters()]
    assert outcome("applied") == billing.webhooks.replay("evt_1", body())
    assert [] == billing.webhooks.dead_letters()
    with pytest.raises(WebhookSignatureError):
        billing.handle_stripe_webhook(body(event_id="evt_9"), "t=1,v1=00")
    assert billing.stores.processed_events.get("evt_9") is None
