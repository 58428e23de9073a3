"""The OpenTelemetry adapter, read back through the SDK's in-memory metric reader and exporter."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    HistogramDataPoint,
    InMemoryMetricReader,
    NumberDataPoint,
)
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from compute_pricing import Billing, ComputeExhaustedError, FakeClock, QuotaExceededError
from compute_pricing.errors import WebhookSignatureError
from compute_pricing.jobs import run_job
from compute_pricing_otel import BillingInstrumentation, instrument
from tests.conftest import START, compute_config, legacy_config

Points = dict[tuple[str, frozenset[tuple[str, Any]]], Any]


@pytest.fixture
def reader() -> InMemoryMetricReader:
    """An in-memory metric reader."""
    return InMemoryMetricReader()


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    """An in-memory span exporter."""
    return InMemorySpanExporter()


@pytest.fixture
def providers(
    reader: InMemoryMetricReader, exporter: InMemorySpanExporter
) -> Iterator[tuple[MeterProvider, TracerProvider]]:
    """SDK meter and tracer providers feeding the in-memory reader and exporter."""
    meters = MeterProvider(metric_readers=[reader])
    tracers = TracerProvider()
    tracers.add_span_processor(SimpleSpanProcessor(exporter))
    yield meters, tracers
    meters.shutdown()
    tracers.shutdown()


def points(reader: InMemoryMetricReader) -> Points:
    """``(metric, attributes) -> value`` (sums) or ``(count, sum)`` (histograms)."""
    found: Points = {}
    data = reader.get_metrics_data()
    assert data is not None
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    key = (metric.name, frozenset(dict(point.attributes or {}).items()))
                    if isinstance(point, HistogramDataPoint):
                        found[key] = (point.count, point.sum)
                    elif isinstance(point, NumberDataPoint):
                        found[key] = point.value
    return found


def instrumented(
    billing: Billing, providers: tuple[MeterProvider, TracerProvider]
) -> BillingInstrumentation:
    """``billing`` instrumented on the test providers."""
    meters, tracers = providers
    return instrument(billing, meter_provider=meters, tracer_provider=tracers)


def test_a_scripted_scenario_yields_the_expected_metrics_and_spans(
    providers: tuple[MeterProvider, TracerProvider],
    reader: InMemoryMetricReader,
    exporter: InMemorySpanExporter,
) -> None:
    """Gate allowed/402/429, 1,050 units (1,000 quota + 50 extras), a cron run, a webhook."""
    clock = FakeClock(START)
    billing = Billing.in_memory(compute_config(), clock=clock)
    handle = instrumented(billing, providers)
    legacy = Billing.in_memory(legacy_config(), clock=clock)
    instrumented(legacy, providers)
    billing.subscribe("org_1", "starter")
    billing.check_quota("org_1")
    billing.attribute("org_1", "run_1", {"default": Decimal("0.950")})
    billing.attribute("org_1", "run_2", {"default": Decimal("0.100")})
    with pytest.raises(ComputeExhaustedError):
        billing.check_quota("org_1")
    legacy.record_usage("org_2", "documents", "create", amount=3)
    with pytest.raises(QuotaExceededError):
        legacy.check_quota("org_2", "documents", "create")
    clock.advance(timedelta(days=7))
    run_job(billing, "weekly-reset")
    handle.record_webhook("processed", "invoice.paid")

    found = points(reader)
    p = "compute_pricing."
    expected = {
        (f"{p}gate.checks", frozenset({("outcome", "allowed")})): 1,
        (f"{p}gate.checks", frozenset({("outcome", "402")})): 1,
        (f"{p}gate.checks", frozenset({("outcome", "429")})): 1,
        (f"{p}attribution.units", frozenset({("source", "total")})): 1_050,
        (f"{p}attribution.units", frozenset({("source", "quota")})): 1_000,
        (f"{p}attribution.units", frozenset({("source", "extras")})): 50,
        (f"{p}attribution.size", frozenset()): (2, 1_050),
        (f"{p}cron.runs", frozenset({("job", "weekly-reset"), ("result", "ok")})): 1,
        (f"{p}cron.orgs", frozenset({("job", "weekly-reset"), ("outcome", "processed")})): 1,
        (
            f"{p}webhook.outcomes",
            frozenset({("outcome", "processed"), ("event_type", "invoice.paid")}),
        ): 1,
    }
    assert expected == {key: found.get(key) for key in expected}
    assert 1 == found[(f"{p}cron.duration", frozenset({("job", "weekly-reset")}))][0]

    spans = exporter.get_finished_spans()
    names = [span.name for span in spans]
    assert 2 == names.count(f"{p}attribute")
    assert 1 == names.count(f"{p}reset_all_due")
    refused = [s for s in spans if s.name == f"{p}check_quota" and not s.status.is_ok]
    assert [(StatusCode.ERROR, "COMPUTE_EXHAUSTED"), (StatusCode.ERROR, "QUOTA_EXCEEDED")] == [
        (s.status.status_code, (s.attributes or {})["error.code"]) for s in refused
    ]
    assert "org_1" == (spans[0].attributes or {})["org"]


class _Publisher:
    """A publisher without ``subscribe``: the adapter must tee through it."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def publish(self, events: Any) -> None:
        self.seen.extend(event.name for event in events)


def test_a_publisher_without_subscribe_is_teed_and_still_delivers(
    providers: tuple[MeterProvider, TracerProvider], reader: InMemoryMetricReader
) -> None:
    """Events still reach the host's publisher, and attributions are counted."""
    publisher = _Publisher()
    billing = Billing.in_memory(compute_config(), clock=FakeClock(START), publisher=publisher)
    instrumented(billing, providers)
    billing.subscribe("org_1", "starter")
    billing.attribute("org_1", "run_1", {"default": Decimal("0.010")})
    assert "compute.attributed" in publisher.seen
    key = ("compute_pricing.attribution.units", frozenset({("source", "total")}))
    assert 10 == points(reader)[key]


def test_webhook_deliveries_are_counted_by_outcome(
    providers: tuple[MeterProvider, TracerProvider], reader: InMemoryMetricReader
) -> None:
    """A delivery with a bad signature counts as ``error_400``; the error still propagates."""
    billing = Billing.in_memory(
        compute_config(stripe={"webhook_secret": "whsec_test"}), clock=FakeClock(START)
    )
    instrumented(billing, providers)
    with pytest.raises(WebhookSignatureError):
        billing.handle_stripe_webhook(b"{}", "t=1,v1=00")
    key = (
        "compute_pricing.webhook.outcomes",
        frozenset({("outcome", "error_400"), ("event_type", "")}),
    )
    assert 1 == points(reader)[key]
