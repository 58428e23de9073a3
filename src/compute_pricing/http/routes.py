"""The billing routes as framework-neutral handlers, and the table the web adapters mount.

Each handler takes an :class:`~compute_pricing.http.values.HttpRequest` and returns an
:class:`~compute_pricing.http.values.HttpResponse`; it never raises (see :func:`guarded`).
Input is checked before anything is read or written: query and body with the pydantic
models of :mod:`compute_pricing.http.schemas` (422 naming the field), the org with
:func:`~compute_pricing.http.principal.target_org` (403). A :class:`RouteSpec` says all an
adapter needs to mount a route and describe it in OpenAPI, so adapters hold no route logic.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import attrs
from pydantic import BaseModel, ValidationError

from compute_pricing.errors import RequestValidationError
from compute_pricing.http.error_responses import error_response, validation_error
from compute_pricing.http.principal import target_org
from compute_pricing.http.schemas import (
    BalanceBody,
    ComputeUsageBody,
    LedgerPageBody,
    LedgerQuery,
    LegacyUsageBody,
    OrgQuery,
)
from compute_pricing.http.values import HttpRequest, HttpResponse

__all__ = [
    "IDEMPOTENCY_HEADER",
    "BillingHandlers",
    "Handler",
    "RouteSpec",
    "guarded",
    "idempotency_key",
    "parse_body",
    "parse_query",
]

Handler = Callable[[HttpRequest], HttpResponse]
M = TypeVar("M", bound=BaseModel)

#: The header a POST may carry so a retried request (a double click) does one thing.
IDEMPOTENCY_HEADER = "Idempotency-Key"
_IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_MAX_BODY = 64 * 1024


def guarded(handler: Handler) -> Handler:
    """``handler`` made total: any exception becomes its error response (500s logged)."""

    def run(request: HttpRequest) -> HttpResponse:
        try:
            return handler(request)
        except Exception as exc:  # every failure is answered in the one error shape
            return error_response(exc)

    run.__name__ = getattr(handler, "__name__", "handler")
    run.__doc__ = handler.__doc__
    return run


def parse_query(model: type[M], request: HttpRequest) -> M:
    """``request.query`` validated by ``model``; 422 naming ``query.<field>``."""
    try:
        return model.model_validate(dict(request.query))
    except ValidationError as exc:
        raise validation_error(exc, "query") from None


def parse_body(model: type[M], request: HttpRequest) -> M:
    """The JSON body validated by ``model`` (strict); 422 naming ``body.<field>``."""
    if len(request.body) > _MAX_BODY:
        raise RequestValidationError("body", f"must be at most {_MAX_BODY} bytes")
    try:
        data = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        raise RequestValidationError("body", "must be a JSON object") from None
    if not isinstance(data, dict):
        raise RequestValidationError("body", "must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, "body") from None


def idempotency_key(request: HttpRequest) -> str | None:
    """The ``Idempotency-Key`` header if sent: 1-64 of ``A-Z a-z 0-9 _ . : -`` (else 422)."""
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not _IDEMPOTENCY_KEY.fullmatch(key):
        raise RequestValidationError(
            f"header.{IDEMPOTENCY_HEADER}", "must match ^[A-Za-z0-9_.:-]{1,64}$"
        )
    return key


@attrs.frozen
class RouteSpec:
    """One route: what to mount (method, path, handler) and what OpenAPI should say of it.

    ``query`` and ``headers`` map a parameter name to its JSON schema; ``body`` is the request
    model (``raw_body``: the raw bytes are the input, as for the webhook); ``response`` is
    the success model (or a union of them) and ``errors`` the error statuses it can answer.
    """

    method: str
    path: str
    name: str
    summary: str
    handler: Handler
    response: Any
    errors: tuple[int, ...]
    needs_principal: bool = True
    query: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)
    headers: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)
    body: type[BaseModel] | None = None
    raw_body: bool = False


#: Error statuses every route with a principal can answer.
_COMMON = (400, 403, 422, 500, 503)
_ORG_PARAM = {"org": {"type": "string", "pattern": "^[A-Za-z0-9_.:-]{1,128}$"}}


class BillingHandlers:
    """The read routes of one :class:`~compute_pricing.billing.Billing`: usage and extras."""

    def __init__(self, billing: Any) -> None:
        self._billing = billing

    def usage(self, request: HttpRequest) -> HttpResponse:
        """``GET /billing/usage``: the org's week (compute mode) or month (legacy mode)."""
        query = parse_query(OrgQuery, request)
        org = target_org(request.principal, query.org)
        return HttpResponse(200, self._billing.usage(org).to_dict())

    def extras_balance(self, request: HttpRequest) -> HttpResponse:
        """``GET /billing/extras/balance``: ledger balance, spendable units and debt."""
        query = parse_query(OrgQuery, request)
        org = target_org(request.principal, query.org)
        return HttpResponse(200, self._billing.extras.balance(org).to_dict())

    def extras_ledger(self, request: HttpRequest) -> HttpResponse:
        """``GET /billing/extras/ledger?page&limit``: ledger lines, newest first."""
        query = parse_query(LedgerQuery, request)
        org = target_org(request.principal, query.org)
        page = self._billing.extras.list_ledger(org, page=query.page, limit=query.limit)
        return HttpResponse(200, page.to_dict())

    def routes(self) -> list[RouteSpec]:
        """The read routes, each handler :func:`guarded`."""
        return [
            RouteSpec(
                method="GET",
                path="/billing/usage",
                name="billing_usage",
                summary="This week's compute usage (or this month's legacy counters)",
                handler=guarded(self.usage),
                response=ComputeUsageBody | LegacyUsageBody,
                errors=_COMMON,
                query=_ORG_PARAM,
            ),
            RouteSpec(
                method="GET",
                path="/billing/extras/balance",
                name="billing_extras_balance",
                summary="Extras balance, spendable units and debt",
                handler=guarded(self.extras_balance),
                response=BalanceBody,
                errors=_COMMON,
                query=_ORG_PARAM,
            ),
            RouteSpec(
                method="GET",
                path="/billing/extras/ledger",
                name="billing_extras_ledger",
                summary="One page of the extras ledger, newest first",
                handler=guarded(self.extras_ledger),
                response=LedgerPageBody,
                errors=_COMMON,
                query={
                    **_ORG_PARAM,
                    "page": {"type": "integer", "minimum": 1, "maximum": 1_000_000},
                    "limit": {"type": "integer", "minimum": 1, "maximum": 100},
                },
            ),
        ]
