"""A Flask host app with billing: the billing routes, and one gated route of its own.

Start it with ``flask --app 'examples.flask_app:create_app()' run`` and call it with curl (see
the README). ``create_app()`` without an argument runs on an in-memory
:class:`~compute_pricing.Billing` in compute mode with one extras pack. Production wiring
passes a Billing built on MongoDB (``COMPUTE_PRICING_MONGODB_URI``) and Stripe (the secret key
and the webhook signing secret) instead: ``create_app(Billing(config, stores=MongoStores(db),
clock=SystemClock()))``.

``principal`` below is DEMO-ONLY authentication: it believes the ``X-Org-Id`` and ``X-Roles``
headers. A real app derives the principal from its own session or token.
"""

import re
from decimal import Decimal
from typing import Annotated, Any

from flask import Flask, g, request
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from compute_pricing import (
    Billing,
    BillingConfig,
    PackSettings,
    PlanSettings,
    RequestValidationError,
    StripeSettings,
)
from compute_pricing.http import HttpRequest, Principal, parse_body
from compute_pricing_flask import billing_blueprint, require_quota

DOLLARS = r"^[0-9]{1,9}(\.[0-9]{1,9})?$"
ORG = r"^[A-Za-z0-9_.:-]{1,128}$"
ROLES = r"^[A-Za-z0-9_, -]{0,256}$"


def demo_billing() -> Billing:
    """Compute mode in memory: starter 1,000 units a week, a 500-unit pack, demo Stripe keys."""
    config = BillingConfig(
        compute_mode=True,
        plans=(PlanSettings(plan_id="free"), PlanSettings(plan_id="starter", compute_quota=1_000)),
        packs=(
            PackSettings(
                pack_id="small",
                units=500,
                price_cents=900,
                expiry_days=365,
                stripe_price="price_demo_small",
            ),
        ),
        default_plan="starter",
        upgrade_url="https://example.com/upgrade",
        stripe=StripeSettings(webhook_secret=SecretStr("whsec_demo")),
        allowed_redirect_hosts=("localhost",),
    )
    return Billing.in_memory(config)


def principal() -> Principal | None:
    """DEMO-ONLY: the caller named by ``X-Org-Id`` / ``X-Roles`` (comma-separated), unchecked."""
    org = request.headers.get("X-Org-Id")
    roles = request.headers.get("X-Roles", "")
    if org is not None and not re.fullmatch(ORG, org):
        raise RequestValidationError("header.x-org-id", f"must match {ORG}")
    if not re.fullmatch(ROLES, roles):
        raise RequestValidationError("header.x-roles", f"must match {ROLES}")
    if not org:
        return None
    return Principal(org=org, roles=frozenset(r.strip() for r in roles.split(",") if r.strip()))


Category = Annotated[str, Field(max_length=64)]
Dollars = Annotated[str, Field(pattern=DOLLARS)]


class RunBody(BaseModel):
    """``POST /runs``: the run's id and its costs in decimal dollars per category."""

    model_config = ConfigDict(strict=True, extra="forbid")

    run_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,128}$")]
    costs: Annotated[dict[Category, Dollars], Field(max_length=32)]


def create_app(billing: Billing | None = None) -> Flask:
    """The app: billing routes under ``/billing`` and the gated ``POST /runs``."""
    billing = billing if billing is not None else demo_billing()
    app = Flask(__name__)
    app.extensions["billing"] = billing
    app.register_blueprint(billing_blueprint(billing, principal=principal))

    @app.post("/runs")
    @require_quota(billing, principal=principal, resource="runs", action="create")
    def create_run() -> dict[str, Any]:
        """Run the work (not shown) and charge its costs to the caller's org."""
        # The same strict parser as the billing routes: a 422 naming the field, in one shape.
        body = parse_body(RunBody, HttpRequest("POST", "/runs", body=request.get_data()))
        who = principal()
        assert who is not None  # noqa: S101 - the gate refused anonymous callers already
        costs = {category: Decimal(value) for category, value in body.costs.items()}
        result = billing.attribute(who.org, body.run_id, costs)
        if not billing.config.compute_mode:  # legacy mode counts runs instead
            billing.record_usage(who.org, "runs", "create", key=f"run:{body.run_id}")
        return {
            "run_id": body.run_id,
            "units": result.units,
            "compute_used": result.compute_used,
            "replayed": result.replayed,
            "remaining_before": g.compute_admission.remaining,
        }

    return app
