"""The inbound Stripe webhook pipeline: verify -> parse -> claim -> dispatch -> mark done.

- :mod:`~compute_pricing.stripe.signature` checks the ``Stripe-Signature`` header on the raw
  body bytes (``t=`` and ``v1=``, HMAC-SHA256, constant-time compare, tolerance read from the
  library's :class:`~compute_pricing.ports.Clock`).
- :mod:`~compute_pricing.stripe.payloads` reads the event envelope and the objects of the
  events the library handles, with models of only the fields it uses.
- :mod:`~compute_pricing.stripe.pipeline` runs a verified event once through a dispatch table,
  counting failures in the ``ProcessedEventStore`` until the event becomes a dead letter.
- :mod:`~compute_pricing.stripe.handlers` is that table: each event type's translator, one
  module per family (``on_checkout``, ``on_subscription``, ``on_invoice``, ``on_refund``,
  ``on_dispute``, ``on_customer``), reads plain values from the payload and calls one account
  use case; :mod:`~compute_pricing.stripe.services` maps its answer to the handler result.

None of it imports the ``stripe`` SDK. This package module imports nothing, so the store port
can use the record value without an import cycle; import the submodules.
"""
