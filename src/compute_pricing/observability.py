"""Structured log records for operators: what each refused request carries.

The library logs through the standard :mod:`logging` module with machine-readable fields in
``extra`` (a JSON formatter turns them into keys). Refusals go to the
``compute_pricing.gate`` logger at INFO: ``org``, ``status`` (402, 429, 503...), ``error``
(the error code) and the error's own details. Cron runs log on ``compute_pricing.jobs``.
"""

from __future__ import annotations

import logging

from compute_pricing.errors import BillingError

__all__ = ["GATE_LOGGER", "log_refusal"]

#: The logger of the quota gate's refusals.
GATE_LOGGER = logging.getLogger("compute_pricing.gate")


def log_refusal(org: str, exc: BillingError) -> None:
    """Log that the gate refused ``org`` with ``exc`` (one INFO record, structured fields)."""
    GATE_LOGGER.info(
        "gate refused %s: %s %s",
        org,
        exc.status,
        exc.code,
        extra={"org": org, "status": exc.status, "error": exc.code, "details": exc.details()},
    )
