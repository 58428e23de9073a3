"""The Stripe gateway of the operator commands: the ``stripe`` entry point of
``compute_pricing.gateways``.

``compute-pricing cron reconcile`` (and the other operator commands) call :func:`open_gateway`
when a Stripe key is configured, so the core CLI never imports ``stripe`` itself.
"""

from __future__ import annotations

import stripe

from compute_pricing_stripe.gateway import StripePaymentGateway

__all__ = ["open_gateway"]


def open_gateway(*, api_key: str, api_base: str | None = None) -> StripePaymentGateway:
    """A :class:`StripePaymentGateway` for ``api_key``; ``api_base`` replaces Stripe's API host
    (a local Stripe test server)."""
    if api_base:
        client = stripe.StripeClient(api_key=api_key, base_addresses={"api": api_base})
    else:
        client = stripe.StripeClient(api_key=api_key)
    return StripePaymentGateway(client)
