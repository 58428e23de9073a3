"""compute_pricing_flask: the billing routes and the quota gate for Flask apps.

Glue only: ``flask.request`` becomes an :class:`~compute_pricing.http.HttpRequest`, the
framework-neutral handlers answer, and their :class:`~compute_pricing.http.HttpResponse`
becomes a Flask response. No billing rule lives here::

    app.register_blueprint(billing_blueprint(billing, principal=current_principal))

    @app.post("/runs")
    @require_quota(billing, principal=current_principal)
    def run():
        admission = flask.g.compute_admission
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from flask import Blueprint, Response, g, make_response, request
from flask.typing import ResponseReturnValue

from compute_pricing import BillingError
from compute_pricing.http import (
    HttpRequest,
    HttpResponse,
    Principal,
    RouteSpec,
    billing_routes,
    error_response,
    quota_gate,
    remaining_headers,
)

__all__ = ["billing_blueprint", "require_quota"]

P = ParamSpec("P")
R = TypeVar("R", bound=ResponseReturnValue)


def _respond(response: HttpResponse) -> Response:
    return Response(
        response.json_bytes(),
        status=response.status,
        headers=dict(response.headers),
        mimetype=response.media_type,
    )


def _view(spec: RouteSpec, principal: Callable[[], Principal | None]) -> Callable[[], Response]:
    def view() -> Response:
        who = principal() if spec.needs_principal else None
        http_request = HttpRequest(
            method=request.method,
            path=request.path,
            principal=who,
            path_params=dict(request.view_args or {}),
            query=request.args.to_dict(flat=True),
            headers=dict(request.headers),
            body=request.get_data(cache=False),
        )
        return _respond(spec.handler(http_request))

    view.__name__ = spec.name
    return view


def billing_blueprint(billing: Any, *, principal: Callable[[], Principal | None]) -> Blueprint:
    """Every billing route of ``billing``; ``principal()`` names the caller of this request.

    The blueprint also answers any :class:`~compute_pricing.errors.BillingError` raised by
    the app's own views in the same error shape.
    """
    blueprint = Blueprint("compute_pricing", __name__)
    for spec in billing_routes(billing):
        blueprint.add_url_rule(spec.path, spec.name, _view(spec, principal), methods=[spec.method])

    @blueprint.app_errorhandler(BillingError)
    def _billing_error(exc: BillingError) -> Response:
        return _respond(error_response(exc))

    return blueprint


def require_quota(
    billing: Any,
    *,
    principal: Callable[[], Principal | None],
    resource: str | None = None,
    action: str | None = None,
) -> Callable[[Callable[P, R]], Callable[P, Response]]:
    """Decorate a view: refuse in the handlers' shape, or run it with ``g.compute_admission``.

    ``X-Compute-Remaining`` is set on the view's response when the gate metered the request.
    """

    def decorate(view: Callable[P, R]) -> Callable[P, Response]:
        @functools.wraps(view)
        def gated(*args: P.args, **kwargs: P.kwargs) -> Response:
            outcome = quota_gate(billing, principal(), resource=resource, action=action)
            if isinstance(outcome, HttpResponse):
                return _respond(outcome)
            g.compute_admission = outcome
            response = make_response(view(*args, **kwargs))
            response.headers.update(remaining_headers(outcome))
            return response

        return gated

    return decorate
