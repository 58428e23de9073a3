"""compute_pricing.http: the billing HTTP surface without a web framework.

Handlers take an :class:`HttpRequest` and return an :class:`HttpResponse`; the FastAPI and
Flask adapters (``compute_pricing_fastapi``, ``compute_pricing_flask``) only translate their
framework's request and response into these values and mount :func:`billing_routes`. The
caller's org always comes from the :class:`Principal` the host application supplies.
Errors answer ``{"code", "message", "details"}`` with the status of their
:class:`~compute_pricing.errors.BillingError`.
"""

from compute_pricing.http.error_responses import (
    INTERNAL_ERROR_CODE,
    REMAINING_HEADER,
    error_body,
    error_response,
    internal_error_response,
)
from compute_pricing.http.gate import quota_gate, remaining_headers
from compute_pricing.http.principal import BILLING_ADMIN, Principal, PrincipalResolver, target_org
from compute_pricing.http.routes import (
    IDEMPOTENCY_HEADER,
    BillingHandlers,
    RouteSpec,
    guarded,
    idempotency_key,
    parse_body,
    parse_query,
)
from compute_pricing.http.schemas import ErrorBody
from compute_pricing.http.stripe_routes import SIGNATURE_HEADER, StripeHandlers
from compute_pricing.http.table import billing_routes
from compute_pricing.http.values import Headers, HttpRequest, HttpResponse

__all__ = [
    "BILLING_ADMIN",
    "IDEMPOTENCY_HEADER",
    "INTERNAL_ERROR_CODE",
    "REMAINING_HEADER",
    "SIGNATURE_HEADER",
    "BillingHandlers",
    "ErrorBody",
    "Headers",
    "HttpRequest",
    "HttpResponse",
    "Principal",
    "PrincipalResolver",
    "RouteSpec",
    "StripeHandlers",
    "billing_routes",
    "error_body",
    "error_response",
    "guarded",
    "idempotency_key",
    "internal_error_response",
    "parse_body",
    "parse_query",
    "quota_gate",
    "remaining_headers",
    "target_org",
]
