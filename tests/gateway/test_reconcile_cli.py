"""``compute-pricing cron reconcile`` with a Stripe key: the console script, the real Stripe
adapter loaded through its entry point, the local Stripe test server and the Mongo wire server."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path
from typing import Any

import tomli_w

from compute_pricing import Billing, FakeClock
from compute_pricing_mongo import MongoStores
from compute_pricing_stripe import StripePaymentGateway
from tests.conftest import START
from tests.gateway.conftest import API_KEY
from tests.gateway.provider import StripeProviderSetup
from tests.support.mongo_fixtures import DatabaseFactory
from tests.support.stripe_accounts import stripe_config, sub

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = str(REPO_ROOT / ".venv" / "bin" / "compute-pricing")
TIMEOUT = 120


def reconcile(uri: str, db: str, config: Path, **env: str) -> tuple[int, dict[str, Any]]:
    """Run ``cron reconcile``; its exit code and its one JSON summary line."""
    done = subprocess.run(
        [SCRIPT, "cron", "reconcile", "--config", str(config), "--uri", uri, "--db", db],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={**os.environ, **env},
        check=False,
    )
    lines = done.stdout.splitlines()
    assert 1 == len(lines), (done.stdout, done.stderr)
    return done.returncode, json.loads(lines[0])


def test_reconcile_with_a_stripe_key_finds_the_status_stripe_disagrees_with(
    stripe_api_base: str,
    stripe_provider: StripeProviderSetup,
    mongo_wire_uri: str,
    mongo_wire_databases: DatabaseFactory,
    tmp_path: Path,
) -> None:
    """Two orgs linked to active Stripe subscriptions, one locally past due: only that one
    diverges, with both statuses; an unreachable Stripe makes each linked org an error."""
    price = stripe_provider.recurring_price(1_000, "starter")
    gateway = StripePaymentGateway(stripe_provider.client)
    linked = {}
    for org in ("org_a", "org_b"):
        customer = gateway.create_customer(org=org, idempotency_key=f"cus_{org}_{tmp_path.name}")
        linked[org] = (customer, stripe_provider.subscription(customer, price))
    db = mongo_wire_databases()
    clock = FakeClock(START)
    billing = Billing(stripe_config(), stores=MongoStores(db, clock=clock), clock=clock)
    for i, (org, status) in enumerate([("org_a", "past_due"), ("org_b", "active")]):
        customer, subscription_id = linked[org]
        info = sub(status, subscription_id=subscription_id, customer_id=customer)
        billing.subscription_changed(org, info, event_id=f"evt_{i}", event_created=clock.now())
    config = tmp_path / "billing.toml"
    config.write_text(tomli_w.dumps(stripe_config().to_toml_dict()))
    env = {"STRIPE_API_KEY": API_KEY, "COMPUTE_PRICING_STRIPE_API_BASE": stripe_api_base}

    code, summary = reconcile(mongo_wire_uri, db.name, config, **env)
    assert (1, "checked", {}) == (code, summary["stripe"], summary["failed"])
    assert [
        {
            "org": "org_a",
            "fields": ["stripe_status"],
            "stripe": {
                "subscription_id": linked["org_a"][1],
                "local": "past_due",
                "stripe": "active",
            },
        }
    ] == summary["divergences"]

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    code, summary = reconcile(
        mongo_wire_uri, db.name, config, **{**env, "COMPUTE_PRICING_STRIPE_API_BASE": closed}
    )
    assert (1, ["org_a", "org_b"], []) == (code, sorted(summary["failed"]), summary["divergences"])
    assert all(
        error.startswith("stripe: PAYMENT_PROVIDER_UNAVAILABLE")
        for error in summary["failed"].values()
    )
