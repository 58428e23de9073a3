"""compute_pricing_fastapi: the billing routes and the quota gate for FastAPI apps.

Glue only: requests become :class:`~compute_pricing.http.HttpRequest` values, the
framework-neutral handlers answer, and their :class:`~compute_pricing.http.HttpResponse`
becomes a FastAPI response. No billing rule lives here::

    app.include_router(billing_router(billing, principal=current_principal))
    add_error_handlers(app)  # gate refusals and BillingErrors in the app's own routes

    @app.post("/runs")
    def run(admission: Annotated[Admission, Depends(require_quota(billing, principal=...))]):
        ...
"""

import inspect
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError

from compute_pricing import Admission, BillingError
from compute_pricing import RequestValidationError as BillingRequestValidationError
from compute_pricing.http import (
    ErrorBody,
    HttpRequest,
    HttpResponse,
    Principal,
    RouteSpec,
    billing_routes,
    error_response,
    quota_gate,
    remaining_headers,
)

__all__ = [
    "BillingHTTPException",
    "add_error_handlers",
    "billing_router",
    "error_responses",
    "require_quota",
]

_REASONS = {
    400: "Invalid input",
    402: "Compute exhausted or payment past due",
    403: "No organization, or another organization's data",
    404: "Unknown pack, plan or purchase",
    409: "Conflict (idempotency key reused, checkout already live)",
    422: "Request body, query or header failed validation",
    429: "Legacy monthly limit reached",
    500: "Internal error (logged; no detail in the body)",
    503: "Plan not configured or payment provider unavailable",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries in the error shape, for a host route's decorator."""
    return {status: {"model": ErrorBody, "description": _REASONS[status]} for status in statuses}


def _respond(response: HttpResponse) -> Response:
    return Response(
        content=response.json_bytes(),
        status_code=response.status,
        headers=dict(response.headers),
        media_type=response.media_type,
    )


class BillingHTTPException(HTTPException):
    """A gate refusal carrying the handlers' response; :func:`add_error_handlers` sends it."""

    def __init__(self, response: HttpResponse) -> None:
        super().__init__(response.status, dict(response.body), dict(response.headers))
        self.response = response


def add_error_handlers(app: FastAPI) -> None:
    """Answer gate refusals and any :class:`BillingError` of the app's routes in our shape."""

    async def refused(_: Request, exc: Exception) -> Response:
        if isinstance(exc, BillingHTTPException):
            return _respond(exc.response)
        if isinstance(exc, RequestValidationError):
            return _respond(error_response(_validation(exc)))
        return _respond(error_response(exc))

    app.add_exception_handler(BillingHTTPException, refused)
    app.add_exception_handler(BillingError, refused)
    app.add_exception_handler(RequestValidationError, refused)


def _validation(exc: RequestValidationError) -> BillingRequestValidationError:
    """FastAPI's own body validation (the app's routes) as the 422 naming the field."""
    errors = [
        {"field": ".".join(str(part) for part in error["loc"]), "reason": str(error["msg"])}
        for error in exc.errors()
    ]
    first = errors[0] if errors else {"field": "body", "reason": "invalid"}
    return BillingRequestValidationError(first["field"], first["reason"], errors)


def _openapi(spec: RouteSpec) -> dict[str, Any]:
    parameters = [
        {"name": name, "in": "query", "required": False, "schema": dict(schema)}
        for name, schema in spec.query.items()
    ] + [
        {"name": name, "in": "header", "required": False, "schema": dict(schema)}
        for name, schema in spec.headers.items()
    ]
    extra: dict[str, Any] = {"parameters": parameters} if parameters else {}
    if spec.body is not None:
        schema = spec.body.model_json_schema()
        extra["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schema}},
        }
    elif spec.raw_body:
        raw = {"schema": {"type": "string", "format": "binary"}}
        extra["requestBody"] = {"required": True, "content": {"application/json": raw}}
    return extra


def _endpoint(spec: RouteSpec, principal: Callable[..., Principal | None]) -> Callable[..., Any]:
    async def read(request: Request, who: Principal | None) -> Response:
        http_request = HttpRequest(
            method=request.method,
            path=request.url.path,
            principal=who,
            path_params=dict(request.path_params),
            query=dict(request.query_params),
            headers=dict(request.headers),
            body=await request.body(),
        )
        return _respond(await run_in_threadpool(spec.handler, http_request))

    if not spec.needs_principal:

        async def anonymous(request: Request) -> Response:
            return await read(request, None)

        return anonymous

    async def endpoint(
        request: Request, who: Annotated[Principal | None, Depends(principal)]
    ) -> Response:
        return await read(request, who)

    return endpoint


def billing_router(billing: Any, *, principal: Callable[..., Principal | None]) -> APIRouter:
    """Every billing route of ``billing``; ``principal`` is a dependency naming the caller."""
    router = APIRouter(tags=["billing"])
    for spec in billing_routes(billing):
        router.add_api_route(
            spec.path,
            _endpoint(spec, principal),
            methods=[spec.method],
            name=spec.name,
            summary=spec.summary,
            response_model=None,
            responses={
                200: {"model": spec.response, "description": "Success"},
                **error_responses(*spec.errors),
            },
            openapi_extra=_openapi(spec),
        )
    return router


class require_quota:  # noqa: N801 - a dependency class, named like the call it reads as
    """A dependency gating a host route: ``Depends(require_quota(billing, principal=...))``.

    It returns the :class:`Admission` to the route and sets ``X-Compute-Remaining`` on the
    route's response when the gate metered the request. Refusals (402, 429, 503, 403) are
    raised as :class:`BillingHTTPException`, which :func:`add_error_handlers` sends in the
    handlers' shape.
    """

    def __init__(
        self,
        billing: Any,
        *,
        principal: Callable[..., Principal | None],
        resource: str | None = None,
        action: str | None = None,
    ) -> None:
        self.billing = billing
        self.resource = resource
        self.action = action
        # FastAPI reads the parameters from the signature: the principal is a sub-dependency
        # chosen by the host, so the signature is built here rather than written in the class.
        keyword = inspect.Parameter.KEYWORD_ONLY
        self.__signature__ = inspect.Signature(
            [
                inspect.Parameter("response", keyword, annotation=Response),
                inspect.Parameter(
                    "who", keyword, annotation=Annotated[Principal | None, Depends(principal)]
                ),
            ],
            return_annotation=Admission,
        )

    def __call__(self, *, response: Response, who: Principal | None) -> Admission:
        """Gate ``who``'s org; set the remaining-units header on ``response``."""
        outcome = quota_gate(self.billing, who, resource=self.resource, action=self.action)
        if isinstance(outcome, HttpResponse):
            raise BillingHTTPException(outcome)
        response.headers.update(remaining_headers(outcome))
        return outcome
