"""Errors to responses: every failure becomes one JSON shape, ``{code, message, details}``.

Each :class:`~compute_pricing.errors.BillingError` answers with its own ``status`` and
``code``. A server-side failure (status 500, or any exception that is not a ``BillingError``)
answers with a fixed message and no details, and is logged with its traceback: no stack, no
stored document, no internal name ever reaches a body. The two retryable 503s (an
unconfigured plan, an unavailable payment provider) keep their details, which name only what
the caller asked for.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError

from compute_pricing.errors import (
    BillingError,
    ComputeExhaustedError,
    PaymentProviderUnavailableError,
    PlanNotConfiguredError,
    RequestValidationError,
)
from compute_pricing.http.values import HttpResponse

__all__ = [
    "INTERNAL_ERROR_CODE",
    "REMAINING_HEADER",
    "error_body",
    "error_response",
    "internal_error_response",
    "validation_error",
]

log = logging.getLogger("compute_pricing.http")

#: The code of the generic 500 body.
INTERNAL_ERROR_CODE = "INTERNAL_ERROR"
#: The header carrying the units the gate saw left (``0`` on a 402 ``COMPUTE_EXHAUSTED``).
REMAINING_HEADER = "X-Compute-Remaining"

_PUBLIC_5XX = (PlanNotConfiguredError, PaymentProviderUnavailableError)
_GENERIC = "internal error; the failure was logged"


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """The one error shape: ``{"code": ..., "message": ..., "details": {...}}``."""
    return {"code": code, "message": message, "details": details or {}}


def internal_error_response() -> HttpResponse:
    """The generic 500: nothing about the failure but that it happened."""
    return HttpResponse(500, error_body(INTERNAL_ERROR_CODE, _GENERIC))


def error_response(exc: BaseException) -> HttpResponse:
    """The response for ``exc``; server-side failures are logged and answered generically."""
    if not isinstance(exc, BillingError):
        log.error("unexpected error in a billing handler", exc_info=exc)
        return internal_error_response()
    if exc.status >= 500 and not isinstance(exc, _PUBLIC_5XX):
        log.error("billing handler failed: %s", exc.code, exc_info=exc)
        return HttpResponse(exc.status, error_body(exc.code, _GENERIC))
    headers = {REMAINING_HEADER: "0"} if isinstance(exc, ComputeExhaustedError) else {}
    return HttpResponse(exc.status, error_body(exc.code, exc.message, exc.details()), headers)


def validation_error(exc: ValidationError, where: str) -> RequestValidationError:
    """A pydantic failure as a 422 naming the first bad field (``body.pack_id``)."""
    errors = [
        {
            "field": ".".join([where, *(str(part) for part in error["loc"])]),
            "reason": error["msg"],
        }
        for error in exc.errors(include_url=False, include_input=False)
    ]
    first = errors[0] if errors else {"field": where, "reason": "invalid"}
    return RequestValidationError(first["field"], first["reason"], errors)
