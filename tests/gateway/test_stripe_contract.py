"""The shipped PaymentGateway contract, run against ``StripePaymentGateway`` over HTTP."""

from __future__ import annotations

import pytest

from compute_pricing.ports import PaymentGateway
from compute_pricing.testing.gateway import PaymentGatewayContract, ProviderSetup
from compute_pricing_stripe import StripePaymentGateway
from tests.gateway.provider import StripeProviderSetup


class TestStripePaymentGateway(PaymentGatewayContract):
    """``StripePaymentGateway`` over the local Stripe test server keeps the contract."""

    @pytest.fixture
    def gateway(self, stripe_gateway: StripePaymentGateway) -> PaymentGateway:
        """The real adapter with the real SDK."""
        return stripe_gateway

    @pytest.fixture
    def provider(self, stripe_provider: StripeProviderSetup) -> ProviderSetup:
        """Objects created through the same SDK client."""
        return stripe_provider
