"""Fixtures for the web adapter tests: each example app behind a real server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack

import httpx
import pytest

from compute_pricing import Billing, BillingConfig, FakeClock
from compute_pricing.memory import SequentialIds
from tests.examples.test_examples import load_example
from tests.support.http_servers import serve_asgi, serve_wsgi

#: Start ``billing`` behind the current framework's example app; returns a client on it.
Serve = Callable[[Billing], httpx.Client]

FRAMEWORKS = {
    "fastapi": ("fastapi_app.py", serve_asgi),
    "flask": ("flask_app.py", serve_wsgi),
}


def billing_on(config: BillingConfig, clock: FakeClock) -> Billing:
    """An in-memory Billing on ``clock`` with sequential ids."""
    return Billing.in_memory(config, clock=clock, ids=SequentialIds())


@pytest.fixture(params=sorted(FRAMEWORKS))
def serve(request: pytest.FixtureRequest) -> Iterator[Serve]:
    """The example app of each framework in turn, served for real; clients closed after."""
    module_name, server = FRAMEWORKS[str(request.param)]
    module = load_example(module_name)
    with ExitStack() as stack:

        def start(billing: Billing) -> httpx.Client:
            url = stack.enter_context(server(module.create_app(billing)))
            return stack.enter_context(httpx.Client(base_url=url, timeout=10.0))

        yield start
