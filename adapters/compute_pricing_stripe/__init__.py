"""compute_pricing_stripe: the Stripe adapter of compute_pricing's ``PaymentGateway`` port.

It takes a ready :class:`stripe.StripeClient`, never an API key of its own::

    import stripe
    from compute_pricing_stripe import StripePaymentGateway

    gateway = StripePaymentGateway(stripe.StripeClient(api_key))
    billing = Billing(config, stores=stores, gateway=gateway)

Every write carries the library's idempotency key; Stripe errors become the library's
``PaymentProviderError`` tree through one closed table (:mod:`compute_pricing_stripe.errors`).
"""

from compute_pricing_stripe.errors import ERROR_TABLE, translate, translated
from compute_pricing_stripe.gateway import StripePaymentGateway, checkout_params

__all__ = ["ERROR_TABLE", "StripePaymentGateway", "checkout_params", "translate", "translated"]
