"""Fixtures for the Stripe adapter tests: the local Stripe test server and SDK clients.

The server (localstripe in its own ``.venv-localstripe``, wrapped by
``tests/support/stripe_server/server.py``) starts once per test session on 127.0.0.1 and stops
at its end; nothing leaves the machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import stripe

from compute_pricing_stripe import StripePaymentGateway
from tests.gateway.provider import StripeProviderSetup
from tests.support.stripe_server import ensure_localstripe_venv, stripe_server

REPO_ROOT = Path(__file__).resolve().parents[2]
API_KEY = "sk_test_compute_pricing"


def make_client(base: str, *, api_key: str = API_KEY, retries: int = 0) -> stripe.StripeClient:
    """An SDK client for the test server (no automatic retries unless asked)."""
    return stripe.StripeClient(
        api_key=api_key, base_addresses={"api": base}, max_network_retries=retries
    )


@pytest.fixture(scope="session")
def stripe_api_base() -> Iterator[str]:
    """``http://127.0.0.1:<port>`` of the session's Stripe test server."""
    python = ensure_localstripe_venv(REPO_ROOT)
    with stripe_server(python) as base:
        yield base


@pytest.fixture
def stripe_client(stripe_api_base: str) -> stripe.StripeClient:
    """A client of the test server."""
    return make_client(stripe_api_base)


@pytest.fixture
def stripe_gateway(stripe_client: stripe.StripeClient) -> StripePaymentGateway:
    """The adapter under test, over the test server."""
    return StripePaymentGateway(stripe_client)


@pytest.fixture
def stripe_provider(stripe_client: stripe.StripeClient) -> StripeProviderSetup:
    """Creates prices, payments and subscriptions on the test server."""
    return StripeProviderSetup(stripe_client)
