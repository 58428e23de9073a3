"""The route table the web adapters mount."""

from __future__ import annotations

from typing import Any

from compute_pricing.http.routes import BillingHandlers, RouteSpec

__all__ = ["billing_routes"]


def billing_routes(billing: Any) -> list[RouteSpec]:
    """Every billing route for ``billing``, in the order adapters mount them."""
    return BillingHandlers(billing).routes()
