"""Every result value has to_dict(): JSON-ready data with every field."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import attrs
import pytest

from compute_pricing import Billing, BillingConfig, results
from compute_pricing.errors import InvalidInputError
from compute_pricing.results import (
    Admission,
    AttributionResult,
    CreditResult,
    ReservationHandle,
    SweepSummary,
)

_AT = datetime(2026, 1, 5, 9, tzinfo=UTC)


def test_attribution_and_credit_results_give_every_field() -> None:
    """AttributionResult and CreditResult dump every field by name."""
    attribution = AttributionResult(True, 12, 10, 2, 112, "charged", capped=True, replayed=True)
    credit = CreditResult(applied=True, units=500, balance=900)

    assert {
        "applied": True,
        "units": 12,
        "from_quota": 10,
        "from_extras": 2,
        "compute_used": 112,
        "reason": "charged",
        "capped": True,
        "replayed": True,
    } == attribution.to_dict()
    assert {"applied": True, "units": 500, "balance": 900, "replayed": False} == credit.to_dict()


def test_admission_reservation_and_sweep_results_give_every_field() -> None:
    """Admission, ReservationHandle (ISO instant) and SweepSummary dump plain data."""
    assert {"remaining": None, "degraded": True, "payment_failing": False} == Admission(
        None, degraded=True
    ).to_dict()
    assert {
        "org": "acme",
        "reservation_id": "res_1",
        "units": 5,
        "expires_at": "2026-01-05T09:00:00+00:00",
    } == ReservationHandle("acme", "res_1", 5, _AT).to_dict()
    assert {"processed": 2, "skipped": 1, "errors": {"x": "boom"}} == SweepSummary(
        2, 1, {"x": "boom"}
    ).to_dict()


@pytest.mark.parametrize("name", sorted(results.__all__))
def test_every_result_class_has_a_json_ready_to_dict(name: str) -> None:
    """Each class results.py exports defines to_dict."""
    cls = getattr(results, name)

    assert attrs.has(cls)
    assert callable(getattr(cls, "to_dict", None))


def test_to_dict_output_is_json_serialisable() -> None:
    """The dumps of the time-bearing results serialise with the standard json module."""
    dumped = [ReservationHandle("a", "r", 1, _AT).to_dict(), SweepSummary().to_dict()]

    assert dumped == json.loads(json.dumps(dumped))


def test_reset_week_with_a_naive_period_start_names_that_field() -> None:
    """A naive period_start is refused as period_start (not as an internal 'instant')."""
    billing = Billing.in_memory(BillingConfig(compute_mode=True))

    with pytest.raises(InvalidInputError) as caught:
        billing.reset_week("acme", datetime(2026, 1, 5))  # noqa: DTZ001 - naive on purpose

    assert "period_start" == caught.value.field
