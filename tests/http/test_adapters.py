"""The FastAPI and Flask glue on its own: the gate called directly, host-route errors mapped,
and each adapter importing nothing but its framework and the core."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from typing import Any

import flask
import httpx
import pytest
from fastapi import FastAPI, Response

import compute_pricing_fastapi
import compute_pricing_flask
from compute_pricing import Admission, Billing, FakeClock, UnknownPackError
from compute_pricing.http import Principal
from compute_pricing_fastapi import BillingHTTPException, add_error_handlers, require_quota
from tests.conftest import compute_config
from tests.examples.test_examples import load_example
from tests.support.http_servers import serve_asgi, serve_wsgi

ADAPTERS = Path(compute_pricing_fastapi.__file__).parents[1]


def billing_for(clock: FakeClock) -> Billing:
    """Compute mode, org_a on starter."""
    billing = Billing.in_memory(compute_config(), clock=clock)
    billing.subscribe("org_a", "starter")
    return billing


def test_fastapi_gate_is_a_callable_class_tests_can_call(clock: FakeClock) -> None:
    """``require_quota(...)(response=..., who=...)``: the admission and the header, or raise."""
    billing = billing_for(clock)
    gate = require_quota(billing, principal=lambda: None)
    response = Response()
    admission = gate(response=response, who=Principal("org_a"))
    assert (Admission(remaining=1_000), "1000") == (
        admission,
        response.headers["X-Compute-Remaining"],
    )
    with pytest.raises(BillingHTTPException) as refused:
        gate(response=Response(), who=None)
    assert (403, "ORGANIZATION_REQUIRED") == (
        refused.value.response.status,
        refused.value.response.body["code"],
    )


def test_fastapi_host_route_billing_errors_answer_in_the_error_shape() -> None:
    """A ``BillingError`` raised by the app's own route is answered by ``add_error_handlers``."""
    app = FastAPI()
    add_error_handlers(app)

    @app.get("/buy")
    def buy() -> dict[str, str]:
        raise UnknownPackError("huge")

    with serve_asgi(app) as url:
        response = httpx.get(f"{url}/buy")
    assert (404, {"code": "UNKNOWN_PACK", "details": {"pack_id": "huge"}}) == (
        response.status_code,
        {key: response.json()[key] for key in ("code", "details")},
    )


def test_flask_host_route_billing_errors_answer_in_the_error_shape(clock: FakeClock) -> None:
    """The blueprint answers a ``BillingError`` of any view of the app in the error shape."""
    app = flask.Flask(__name__)
    app.register_blueprint(
        compute_pricing_flask.billing_blueprint(billing_for(clock), principal=lambda: None)
    )

    @app.get("/buy")
    def buy() -> str:
        raise UnknownPackError("huge")

    with serve_wsgi(app) as url:
        response = httpx.get(f"{url}/buy")
        anonymous = httpx.get(f"{url}/billing/usage")
    assert (404, "UNKNOWN_PACK") == (response.status_code, response.json()["code"])
    assert (403, "ORGANIZATION_REQUIRED") == (anonymous.status_code, anonymous.json()["code"])


def imported_roots(package: str) -> set[str]:
    """Top-level modules imported by the adapter package, the standard library left out."""
    roots: set[str] = set()
    for path in (ADAPTERS / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                roots |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                roots.add(node.module.split(".")[0])
    return roots - set(sys.stdlib_module_names)


@pytest.mark.parametrize(
    ("package", "framework"),
    [("compute_pricing_fastapi", "fastapi"), ("compute_pricing_flask", "flask")],
)
def test_each_adapter_imports_only_its_framework_and_the_core(package: str, framework: str) -> None:
    """The FastAPI glue imports fastapi and the core; the Flask glue flask and the core."""
    assert {framework, "compute_pricing"} == imported_roots(package)


def test_importing_the_http_core_loads_no_web_framework() -> None:
    """``import compute_pricing.http`` in a fresh interpreter loads no fastapi/flask/starlette."""
    code = (
        "import sys, compute_pricing, compute_pricing.http\n"
        "bad = {'fastapi', 'flask', 'starlette', 'werkzeug', 'uvicorn'} & "
        "{m.split('.')[0] for m in sys.modules}\n"
        "print(','.join(sorted(bad)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert "" == result.stdout.strip()


@pytest.mark.parametrize(
    ("name", "serve"), [("fastapi_app.py", serve_asgi), ("flask_app.py", serve_wsgi)]
)
def test_example_apps_default_to_in_memory_billing_and_say_how_production_wires(
    name: str, serve: Any
) -> None:
    """``create_app()`` runs on its own billing; the docstrings name the production wiring."""
    module = load_example(name)
    assert "COMPUTE_PRICING_MONGODB_URI" in str(module.__doc__)
    assert "DEMO-ONLY" in str(module.__doc__)
    assert "DEMO-ONLY" in str(module.principal.__doc__)
    with serve(module.create_app()) as url:
        usage = httpx.get(f"{url}/billing/usage", headers={"X-Org-Id": "org_demo"})
    assert (200, 1_000) == (usage.status_code, usage.json()["compute_quota"])
