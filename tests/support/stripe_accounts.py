"""Config and helpers for the Stripe account-side tests: priced plans and packs, a fake gateway."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from compute_pricing import Billing, BillingConfig, PackSettings, PlanSettings
from compute_pricing.errors import UnknownPlanError
from compute_pricing.fake_gateway import FakePaymentGateway
from compute_pricing.payments import SubscriptionInfo
from compute_pricing.plans import Plan
from compute_pricing.ports import PlanCatalog
from tests.conftest import BillingFactory, compute_config


def stripe_config(**overrides: object) -> BillingConfig:
    """Compute config whose plans and packs carry Stripe prices, redirects to one host."""
    values: dict[str, object] = {
        "plans": (
            PlanSettings(plan_id="free", compute_quota=0),
            PlanSettings(
                plan_id="starter",
                compute_quota=1_000,
                stripe_price_monthly="price_starter_m",
                stripe_price_annual="price_starter_y",
            ),
            PlanSettings(plan_id="pro", compute_quota=5_000, stripe_price_monthly="price_pro_m"),
        ),
        "packs": (
            PackSettings(pack_id="small", units=500, price_cents=900, stripe_price="price_small"),
            PackSettings(
                pack_id="big",
                units=500_000,
                price_cents=4_900,
                expiry_days=365,
                stripe_price="price_big",
            ),
            PackSettings(pack_id="unpriced", units=100, price_cents=100),
        ),
        "allowed_redirect_hosts": ("app.example.test",),
    }
    values.update(overrides)
    return compute_config(**values)


def stripe_billing(make_billing: BillingFactory, **overrides: object) -> Billing:
    """Billing on the current store kind with :func:`stripe_config` and a fake gateway."""
    billing = make_billing(stripe_config(**overrides))
    billing.gateway = FakePaymentGateway()
    return billing


def fake(billing: Billing) -> FakePaymentGateway:
    """The fake gateway of a :func:`stripe_billing` instance."""
    assert isinstance(billing.gateway, FakePaymentGateway)
    return billing.gateway


def sub(
    status: str | None = "active",
    *,
    prices: tuple[str, ...] = ("price_starter_m",),
    subscription_id: str = "sub_1",
    customer_id: str | None = "cus_1",
    period_start: datetime | None = None,
    cancel_at: datetime | None = None,
    cancel_at_period_end: bool = False,
    price_plan_ids: Mapping[str, str] | None = None,
    metadata: Mapping[str, str] | None = None,
) -> SubscriptionInfo:
    """A subscription as Stripe reports it."""
    return SubscriptionInfo(
        subscription_id=subscription_id,
        customer_id=customer_id,
        status=status,
        price_ids=prices,
        price_plan_ids=price_plan_ids or {},
        current_period_start=period_start,
        cancel_at=cancel_at,
        cancel_at_period_end=cancel_at_period_end,
        metadata=metadata or {},
    )


class CatalogWithout:
    """A plan catalog that has lost one plan (an operator removed it from the catalog)."""

    def __init__(self, plan_id: str, inner: PlanCatalog) -> None:
        self.plan_id = plan_id
        self.inner = inner

    def get_active_plan(self, plan_id: str, at: datetime | None = None) -> Plan:
        """The inner plan, or UnknownPlanError for the lost one."""
        if plan_id == self.plan_id:
            raise UnknownPlanError(plan_id)
        return self.inner.get_active_plan(plan_id, at)

    def get_plan_by_version(self, plan_id: str, version: int) -> Plan:
        """The inner version, or UnknownPlanError for the lost plan."""
        if plan_id == self.plan_id:
            raise UnknownPlanError(plan_id, version)
        return self.inner.get_plan_by_version(plan_id, version)

    def bump_version(self, plan_id: str, changes: Mapping[str, Any]) -> Plan:
        """The inner bump."""
        return self.inner.bump_version(plan_id, changes)

    def invalidate_cache(self, plan_id: str | None = None) -> None:
        """The inner invalidation."""
        self.inner.invalidate_cache(plan_id)
