"""Stripe failures translated into the library's error tree: one closed table.

Every call the adapter makes runs inside :func:`translated`; whatever the ``stripe`` SDK raises
leaves it as a :class:`~compute_pricing.errors.PaymentProviderError` (chained with ``from``)::

    stripe error                                   library error (HTTP status)
    APIConnectionError, RateLimitError             PaymentProviderUnavailableError (503)
    APIError with a 5xx status (or none)           PaymentProviderUnavailableError (503)
    InvalidRequestError, CardError                 PaymentRequestError (400), ``param`` kept
    IdempotencyError                               PaymentRequestError (400), ``param`` =
                                                   ``"idempotency_key"``
    AuthenticationError, PermissionError           PaymentConfigurationError (500)
    any other StripeError                          PaymentProviderError (502)

The table is matched in order, first row wins, and nothing outside it is caught: a bug in the
adapter stays a bug instead of turning into a provider error.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import stripe

from compute_pricing.errors import (
    PaymentConfigurationError,
    PaymentProviderError,
    PaymentProviderUnavailableError,
    PaymentRequestError,
)

__all__ = ["ERROR_TABLE", "translate", "translated"]

#: ``(stripe error class, library error class)`` rows, first match wins. ``APIError`` is
#: handled before the table (its class depends on the HTTP status).
ERROR_TABLE: tuple[tuple[type[stripe.StripeError], type[PaymentProviderError]], ...] = (
    (stripe.APIConnectionError, PaymentProviderUnavailableError),
    (stripe.RateLimitError, PaymentProviderUnavailableError),
    (stripe.IdempotencyError, PaymentRequestError),
    (stripe.InvalidRequestError, PaymentRequestError),
    (stripe.CardError, PaymentRequestError),
    (stripe.AuthenticationError, PaymentConfigurationError),
    (stripe.PermissionError, PaymentConfigurationError),
)

_SERVER_ERROR = 500


def _message(exc: stripe.StripeError, operation: str) -> str:
    detail = exc.user_message or str(exc) or type(exc).__name__
    return f"Stripe {operation} failed: {detail}"


def translate(exc: stripe.StripeError, operation: str) -> PaymentProviderError:
    """The library error for ``exc``, raised by the Stripe call ``operation``."""
    message = _message(exc, operation)
    if isinstance(exc, stripe.APIError):
        status = exc.http_status
        if status is None or status >= _SERVER_ERROR:
            return PaymentProviderUnavailableError(message)
        return PaymentProviderError(message)
    for stripe_class, library_class in ERROR_TABLE:
        if isinstance(exc, stripe_class):
            if library_class is PaymentRequestError:
                param = getattr(exc, "param", None)
                if isinstance(exc, stripe.IdempotencyError):
                    param = param or "idempotency_key"
                return PaymentRequestError(message, param=param)
            return library_class(message)
    return PaymentProviderError(message)


@contextmanager
def translated(operation: str) -> Iterator[None]:
    """Run a block of Stripe calls, re-raising any ``StripeError`` through :func:`translate`."""
    try:
        yield
    except stripe.StripeError as exc:
        raise translate(exc, operation) from exc
