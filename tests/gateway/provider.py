"""``ProviderSetup`` over the Stripe API: what the contract needs that the gateway only reads."""

from __future__ import annotations

import stripe

#: A test card payment method the server (like Stripe in test mode) always accepts.
TEST_CARD = "pm_card_visa"


class StripeProviderSetup:
    """Creates prices, paid payment intents and subscriptions through the SDK."""

    def __init__(self, client: stripe.StripeClient) -> None:
        self.client = client

    def one_time_price(self, amount_cents: int) -> str:
        """A one-time USD price."""
        price = self.client.v1.prices.create(
            params={
                "unit_amount": amount_cents,
                "currency": "usd",
                "product_data": {"name": "pack"},
            }
        )
        return price.id

    def recurring_price(self, amount_cents: int, plan_id: str) -> str:
        """A monthly USD price carrying ``metadata.plan_id``."""
        price = self.client.v1.prices.create(
            params={
                "unit_amount": amount_cents,
                "currency": "usd",
                "product_data": {"name": plan_id},
                "recurring": {"interval": "month"},
                "metadata": {"plan_id": plan_id},
            }
        )
        return price.id

    def paid_payment(self, amount_cents: int) -> tuple[str, str]:
        """A confirmed card payment: ``(payment_intent, charge_id)``."""
        intent = self.client.v1.payment_intents.create(
            params={"amount": amount_cents, "currency": "usd", "payment_method": TEST_CARD}
        )
        intent = self.client.v1.payment_intents.confirm(intent.id)
        charge = intent.latest_charge
        assert charge is not None
        return intent.id, charge if isinstance(charge, str) else charge.id

    def subscription(self, customer_id: str, price_id: str) -> str:
        """An active subscription: the customer gets a default card first."""
        card = self.client.v1.payment_methods.attach(TEST_CARD, params={"customer": customer_id})
        self.client.v1.customers.update(
            customer_id, params={"invoice_settings": {"default_payment_method": card.id}}
        )
        subscription = self.client.v1.subscriptions.create(
            params={"customer": customer_id, "items": [{"price": price_id}]}
        )
        return subscription.id
