"""The shipped PaymentGateway contract, run against ``FakePaymentGateway``."""

from __future__ import annotations

import pytest

from compute_pricing.fake_gateway import FakePaymentGateway
from compute_pricing.ports import PaymentGateway
from compute_pricing.testing.contracts import T0
from compute_pricing.testing.gateway import (
    FakeProviderSetup,
    PaymentGatewayContract,
    ProviderSetup,
)


class TestFakePaymentGateway(PaymentGatewayContract):
    """``FakePaymentGateway`` keeps the PaymentGateway contract."""

    @pytest.fixture
    def fake(self) -> FakePaymentGateway:
        """One fake per test."""
        return FakePaymentGateway()

    @pytest.fixture
    def gateway(self, fake: FakePaymentGateway) -> PaymentGateway:
        """The fake itself."""
        return fake

    @pytest.fixture
    def provider(self, fake: FakePaymentGateway) -> ProviderSetup:
        """Registers payments and subscriptions on the same fake."""
        return FakeProviderSetup(fake, T0)
