"""The route table the web adapters mount: the read routes, then the Stripe routes."""

from __future__ import annotations

from typing import Any

from compute_pricing.http.routes import BillingHandlers, RouteSpec
from compute_pricing.http.stripe_routes import StripeHandlers

__all__ = ["billing_routes"]


def billing_routes(billing: Any) -> list[RouteSpec]:
    """Every billing route for ``billing``, in the order adapters mount them."""
    return BillingHandlers(billing).routes() + StripeHandlers(billing).routes()
