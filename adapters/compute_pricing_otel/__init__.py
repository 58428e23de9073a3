"""compute_pricing_otel: OpenTelemetry metrics and spans for a :class:`~compute_pricing.Billing`.

Optional (``pip install "compute-pricing[otel]"``, which brings ``opentelemetry-api``; the host
application configures the SDK and its exporters). The core never imports OpenTelemetry: this
adapter wraps one ``Billing`` instance's use cases and listens to its events::

    from compute_pricing_otel import instrument

    instrument(billing)  # global providers; or meter_provider=..., tracer_provider=...

Metrics (all prefixed ``compute_pricing.``):

========================================  =========  ============================================
name                                      kind       attributes
========================================  =========  ============================================
``gate.checks``                           counter    ``outcome``: ``allowed`` or the HTTP status
``attribution.units``                     counter    ``source``: ``total``, ``quota``, ``extras``
``attribution.size``                      histogram  units of one attribution
``webhook.outcomes``                      counter    ``outcome``, ``event_type``
``cron.runs``                             counter    ``job``, ``result`` (``ok``, ``errors``)
``cron.orgs``                             counter    ``job``, ``outcome`` (processed, skipped...)
``cron.duration``                         histogram  ``job``; seconds
``use_case.duration``                     histogram  ``use_case``, ``outcome``; seconds
========================================  =========  ============================================

A webhook's ``outcome`` is its answer's ``result`` (``applied``, ``duplicate``, ``ignored``,
``dead_lettered``...) or ``error_<status>`` when the delivery was refused or failed.

Spans: one ``compute_pricing.<use case>`` span around each wrapped call (``org`` attribute when
the first argument is the org), marked as an error with the library error's code when it raises.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import Status, StatusCode, TracerProvider

from compute_pricing import Billing
from compute_pricing.errors import BillingError
from compute_pricing.events import ComputeCharged, CronRunFinished, Event

__all__ = ["USE_CASES", "BillingInstrumentation", "instrument"]

_SCOPE = "compute_pricing"

#: The use cases wrapped in spans: ``Billing`` methods, then ``billing.extras`` ones.
USE_CASES: tuple[str, ...] = (
    "attribute",
    "check_quota",
    "commit",
    "dunning_sweep",
    "handle_stripe_webhook",
    "payment_failed",
    "payment_succeeded",
    "record_usage",
    "release",
    "reserve",
    "reset_all_due",
    "reset_week",
    "subscribe",
    "usage",
    "extras.adjust",
    "extras.credit_pack",
    "extras.debit",
    "extras.expire_old_entries",
    "extras.refund_partial",
)


class _Tee:
    """A publisher that delivers to ``inner`` and then hands the events to ``listener``."""

    def __init__(self, inner: Any, listener: Callable[[Event], None]) -> None:
        self._inner = inner
        self._listener = listener

    def publish(self, events: Sequence[Event]) -> None:
        self._inner.publish(events)
        for event in events:
            self._listener(event)


class BillingInstrumentation:
    """The instruments of one ``Billing``; built and installed by :func:`instrument`."""

    def __init__(
        self,
        billing: Billing,
        *,
        meter_provider: MeterProvider | None = None,
        tracer_provider: TracerProvider | None = None,
    ) -> None:
        self.billing = billing
        meter = metrics.get_meter(_SCOPE, meter_provider=meter_provider)
        self.tracer = trace.get_tracer(_SCOPE, tracer_provider=tracer_provider)
        self.gate_checks = meter.create_counter(
            f"{_SCOPE}.gate.checks", unit="{check}", description="Quota gate decisions"
        )
        self.attributed_units = meter.create_counter(
            f"{_SCOPE}.attribution.units", unit="{unit}", description="Compute units charged"
        )
        self.attribution_size = meter.create_histogram(
            f"{_SCOPE}.attribution.size", unit="{unit}", description="Units of one attribution"
        )
        self.webhook_outcomes = meter.create_counter(
            f"{_SCOPE}.webhook.outcomes", unit="{event}", description="Stripe webhook outcomes"
        )
        self.cron_runs = meter.create_counter(
            f"{_SCOPE}.cron.runs", unit="{run}", description="Cron job runs"
        )
        self.cron_orgs = meter.create_counter(
            f"{_SCOPE}.cron.orgs", unit="{org}", description="Orgs handled by cron runs"
        )
        self.cron_duration = meter.create_histogram(
            f"{_SCOPE}.cron.duration", unit="s", description="Cron run duration"
        )
        self.use_case_duration = meter.create_histogram(
            f"{_SCOPE}.use_case.duration", unit="s", description="Use case duration"
        )

    # -- installation -----------------------------------------------------------------------

    def install(self) -> BillingInstrumentation:
        """Wrap the use cases of :data:`USE_CASES` and listen to the billing's events."""
        billing = self.billing
        for use_case in USE_CASES:
            owner: Any = billing.extras if use_case.startswith("extras.") else billing
            name = use_case.removeprefix("extras.")
            setattr(owner, name, self._wrap(use_case, getattr(owner, name)))
        subscribe = getattr(billing.events, "subscribe", None)
        if callable(subscribe):
            subscribe(self.on_event)
        else:  # any other publisher: tee every publication through the listener
            billing.events = _Tee(billing.events, self.on_event)
            billing.accounts.publisher = billing.events
        return self

    def _wrap(self, use_case: str, method: Callable[..., Any]) -> Callable[..., Any]:
        span_name = f"{_SCOPE}.{use_case}"

        @functools.wraps(method)
        def traced(*args: Any, **kwargs: Any) -> Any:
            with self.tracer.start_as_current_span(span_name, record_exception=False) as span:
                if args and isinstance(args[0], str):
                    span.set_attribute("org", args[0])
                started = time.perf_counter()
                outcome = "ok"
                try:
                    result = method(*args, **kwargs)
                except BillingError as exc:
                    outcome = exc.code
                    span.set_status(Status(StatusCode.ERROR, exc.code))
                    span.set_attribute("error.code", exc.code)
                    if use_case == "check_quota":
                        self.gate_checks.add(1, {"outcome": str(exc.status)})
                    elif use_case == "handle_stripe_webhook":
                        self.record_webhook(f"error_{exc.status}")
                    raise
                finally:
                    self.use_case_duration.record(
                        time.perf_counter() - started, {"use_case": use_case, "outcome": outcome}
                    )
                if use_case == "check_quota":
                    self.gate_checks.add(1, {"outcome": "allowed"})
                elif use_case == "handle_stripe_webhook":
                    self.record_webhook(str(result.result), str(result.event_type))
                return result

        return traced

    # -- events -----------------------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        """Count what ``event`` reports (attributions, cron runs, webhook outcomes)."""
        if isinstance(event, ComputeCharged):
            self.attributed_units.add(event.units, {"source": "total"})
            self.attributed_units.add(event.from_quota, {"source": "quota"})
            self.attributed_units.add(event.from_extras, {"source": "extras"})
            self.attribution_size.record(event.units)
        elif isinstance(event, CronRunFinished):
            result = "errors" if event.errors else "ok"
            self.cron_runs.add(1, {"job": event.job, "result": result})
            for outcome, count in (
                ("processed", event.processed),
                ("skipped", event.skipped),
                ("error", event.errors),
            ):
                self.cron_orgs.add(count, {"job": event.job, "outcome": outcome})
            self.cron_duration.record(event.duration_s, {"job": event.job})
        elif event.name.startswith("webhook.") and hasattr(event, "outcome"):
            self.record_webhook(str(event.outcome), str(getattr(event, "event_type", "")))

    def record_webhook(self, outcome: str, event_type: str = "") -> None:
        """Count one webhook outcome (``processed``, ``duplicate``, ``failed``, ``dead``...)."""
        self.webhook_outcomes.add(1, {"outcome": outcome, "event_type": event_type})


def instrument(
    billing: Billing,
    *,
    meter_provider: MeterProvider | None = None,
    tracer_provider: TracerProvider | None = None,
) -> BillingInstrumentation:
    """Instrument ``billing`` (global OpenTelemetry providers unless given); return the handle."""
    return BillingInstrumentation(
        billing, meter_provider=meter_provider, tracer_provider=tracer_provider
    ).install()
