"""The Stripe routes through both example apps on real servers: extras checkout (one session
per Idempotency-Key), a signed webhook crediting the pack, refusals, cross-org isolation."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import httpx
from pydantic import SecretStr

from compute_pricing import Billing, FakeClock, PackSettings, StripeSettings
from tests.conftest import compute_config
from tests.http.conftest import Serve, billing_on

SECRET = "whsec_test_secret"  # noqa: S105 - the test endpoint's signing secret
A = {"X-Org-Id": "org_a"}
B = {"X-Org-Id": "org_b"}
URLS = {"success_url": "https://app.example.test/ok", "cancel_url": "https://app.example.test/no"}


def stripe_billing(clock: FakeClock) -> Billing:
    """Compute mode with a priced pack, a webhook secret and one allowed redirect host."""
    config = compute_config(
        packs=(PackSettings(pack_id="small", units=500, price_cents=900, stripe_price="price_s"),),
        stripe=StripeSettings(webhook_secret=SecretStr(SECRET)),
        allowed_redirect_hosts=("app.example.test",),
    )
    billing = billing_on(config, clock)
    billing.subscribe("org_a", "starter")
    billing.subscribe("org_b", "starter")
    return billing


def signed(payload: bytes, at: int, secret: str = SECRET) -> str:
    """A ``Stripe-Signature`` header for ``payload`` signed at Unix time ``at``."""
    mac = hmac.new(secret.encode(), f"{at}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"


def paid_pack_event(event_id: str, session_id: str, org: str, at: int) -> bytes:
    """A ``checkout.session.completed`` event for a paid extras pack."""
    event: dict[str, Any] = {
        "id": event_id,
        "object": "event",
        "type": "checkout.session.completed",
        "created": at,
        "livemode": False,
        "api_version": "2025-03-31.basil",
        "data": {
            "object": {
                "id": session_id,
                "object": "checkout.session",
                "mode": "payment",
                "payment_status": "paid",
                "client_reference_id": org,
                "metadata": {"organization_id": org, "pack_id": "small", "kind": "extras"},
            }
        },
    }
    return json.dumps(event).encode()


def checkout(client: httpx.Client, headers: dict[str, str], **body: Any) -> httpx.Response:
    """``POST /billing/extras/checkout`` for the small pack."""
    return client.post(
        "/billing/extras/checkout", headers=headers, json={"pack_id": "small", **URLS, **body}
    )


def test_extras_checkout_then_signed_webhook_credits_the_pack(
    serve: Serve, clock: FakeClock
) -> None:
    """A double click is one session; the signed webhook credits 500 units once."""
    billing = stripe_billing(clock)
    client = serve(billing)
    click = {**A, "Idempotency-Key": "click-1"}
    first, again = checkout(client, click), checkout(client, click)
    assert (200, 200) == (first.status_code, again.status_code)
    assert first.json()["session_id"] == again.json()["session_id"]
    other = checkout(client, {**A, "Idempotency-Key": "click-2"})
    assert first.json()["session_id"] != other.json()["session_id"]

    now = int(clock.now().timestamp())
    payload = paid_pack_event("evt_1", first.json()["session_id"], "org_a", now)
    delivered = client.post(
        "/billing/webhook",
        content=payload,
        headers={"Stripe-Signature": signed(payload, now), "Content-Type": "application/json"},
    )
    assert 200 == delivered.status_code
    balance = client.get("/billing/extras/balance", headers=A).json()
    assert 500 == balance["balance"]
    replay = client.post(
        "/billing/webhook", content=payload, headers={"Stripe-Signature": signed(payload, now)}
    )
    assert 200 == replay.status_code
    assert 500 == client.get("/billing/extras/balance", headers=A).json()["balance"]


def test_webhook_with_a_bad_signature_is_400_and_writes_nothing(
    serve: Serve, clock: FakeClock
) -> None:
    """A wrong secret or a missing header: 400, the org's journal unchanged."""
    billing = stripe_billing(clock)
    client = serve(billing)
    before = len(billing.stores.accounts.read_journal("org_a"))
    now = int(clock.now().timestamp())
    payload = paid_pack_event("evt_2", "cs_x", "org_a", now)
    for headers in ({"Stripe-Signature": signed(payload, now, "whsec_wrong")}, {}):
        refused = client.post("/billing/webhook", content=payload, headers=headers)
        assert (400, "WEBHOOK_SIGNATURE_INVALID") == (
            refused.status_code,
            refused.json()["code"],
        )
    assert before == len(billing.stores.accounts.read_journal("org_a"))


def test_checkout_refusals_name_the_field_and_keep_orgs_apart(
    serve: Serve, clock: FakeClock
) -> None:
    """422 naming the field, 404 unknown pack, 400 bad redirect, 403 other org or nobody."""
    billing = stripe_billing(clock)
    client = serve(billing)
    before = len(billing.stores.accounts.read_journal("org_a"))
    missing = client.post("/billing/extras/checkout", headers=A, json=URLS)
    assert (422, "body.pack_id") == (missing.status_code, missing.json()["details"]["field"])
    bad_key = checkout(client, {**A, "Idempotency-Key": "a b"})
    assert "header.Idempotency-Key" == bad_key.json()["details"]["field"]
    assert 404 == checkout(client, A, pack_id="huge").status_code
    evil = checkout(client, A, success_url="https://evil.example/ok")
    assert (400, "REDIRECT_NOT_ALLOWED") == (evil.status_code, evil.json()["code"])
    for path, body in (
        ("/billing/extras/checkout", {"pack_id": "small", **URLS}),
        ("/billing/checkout", {"price_id": "price_starter", **URLS}),
    ):
        other = client.post(path, headers=B, params={"org": "org_a"}, json=body)
        assert (403, "FORBIDDEN") == (other.status_code, other.json()["code"]), path
        nobody = client.post(path, json=body)
        assert (403, "ORGANIZATION_REQUIRED") == (nobody.status_code, nobody.json()["code"])
        smuggled = client.post(path, headers=B, json={**body, "org": "org_a"})
        assert (422, "body.org") == (smuggled.status_code, smuggled.json()["details"]["field"])
    assert before == len(billing.stores.accounts.read_journal("org_a"))
