"""The recommended client settings: what pymongo makes of them, and timeouts as 503."""

from __future__ import annotations

from typing import Any

import pytest
from pymongo import MongoClient, ReadPreference
from pymongo.errors import OperationFailure

from compute_pricing_mongo import DEFAULT_TIMEOUT_MS, MongoUnavailableError, client_options
from compute_pricing_mongo.errors import translate


def test_the_recommended_options_configure_deadline_durability_and_primary_reads() -> None:
    """pymongo reads the options as a 5 s deadline, majority + journal, primary, retries."""
    client: MongoClient[dict[str, Any]] = MongoClient(
        "mongodb://127.0.0.1:9/?directConnection=true", connect=False, **client_options()
    )
    try:
        options = client.options
        assert (
            DEFAULT_TIMEOUT_MS / 1_000,
            "majority",
            True,
            ReadPreference.PRIMARY,
            True,
            True,
            True,
        ) == (
            options.timeout,
            client.write_concern.document["w"],
            client.write_concern.document["j"],
            client.read_preference,
            options.retry_writes,
            options.retry_reads,
            options.codec_options.tz_aware,
        )
    finally:
        client.close()


def test_the_deadline_is_configurable() -> None:
    """``timeout_ms`` sets the deadline; zero, negatives, bools and floats are refused."""
    assert 250 == client_options(timeout_ms=250)["timeoutMS"]
    for bad in (0, -1, True, 1.5):
        with pytest.raises(ValueError, match="timeout_ms"):
            client_options(timeout_ms=bad)  # type: ignore[arg-type]


def test_an_error_pymongo_marks_as_a_timeout_is_unavailable() -> None:
    """A server time-limit failure (code 50) raised as a plain OperationFailure is a 503."""
    error = translate(OperationFailure("operation exceeded time limit", code=50), "append")
    assert (MongoUnavailableError, 503) == (type(error), error.status)
