"""One scenario, written once, run through FastAPI (uvicorn) and Flask (werkzeug) for real."""

from __future__ import annotations

from typing import Any

import httpx

from compute_pricing import Billing, FakeClock, PlanSettings
from tests.conftest import compute_config, legacy_config
from tests.http.conftest import Serve, billing_on

A = {"X-Org-Id": "org_a"}
B = {"X-Org-Id": "org_b"}
ADMIN = {"X-Org-Id": "ops", "X-Roles": "support, billing_admin"}
READS = ("/billing/usage", "/billing/extras/balance", "/billing/extras/ledger")


def run(client: httpx.Client, headers: dict[str, str], run_id: str, dollars: str) -> httpx.Response:
    """``POST /runs`` charging ``dollars`` of llm cost."""
    return client.post("/runs", headers=headers, json={"run_id": run_id, "costs": {"llm": dollars}})


def journal(billing: Billing, org: str) -> int:
    """How many journal entries ``org`` has (every write adds one)."""
    return len(billing.stores.accounts.read_journal(org))


def error(response: httpx.Response) -> tuple[int, str, dict[str, Any]]:
    """``(status, code, details)`` of an error response, after checking its shape."""
    body = response.json()
    assert ["code", "details", "message"] == sorted(body)
    return response.status_code, body["code"], body["details"]


def compute_billing(clock: FakeClock) -> Billing:
    """Compute mode; org_a and org_b on starter (1,000 units a week)."""
    billing = billing_on(compute_config(), clock)
    billing.subscribe("org_a", "starter")
    billing.subscribe("org_b", "starter")
    return billing


def test_usage_gate_until_402_then_balance_and_ledger_pages(serve: Serve, clock: FakeClock) -> None:
    """Usage, runs until 402 with the documented body and header, then extras pages."""
    billing = compute_billing(clock)
    client = serve(billing)

    usage = client.get("/billing/usage", headers=A)
    assert 200 == usage.status_code
    assert (0, 1_000, "starter") == (
        usage.json()["compute_used"],
        usage.json()["compute_quota"],
        usage.json()["plan"],
    )

    first = run(client, A, "run_1", "0.6")
    assert (200, "1000", 600) == (
        first.status_code,
        first.headers["X-Compute-Remaining"],
        first.json()["units"],
    )
    second = run(client, A, "run_2", "0.6")
    assert (200, "400", 1_200) == (
        second.status_code,
        second.headers["X-Compute-Remaining"],
        second.json()["compute_used"],
    )
    before = journal(billing, "org_a")
    refused = run(client, A, "run_3", "0.6")
    assert (402, "COMPUTE_EXHAUSTED") == error(refused)[:2]
    assert {
        "compute_used": 1_200,
        "compute_quota": 1_000,
        "extras_remaining": 0,
        "packs_available": ["small", "big", "forever"],
        "upgrade_url": "https://example.test/upgrade",
    } == refused.json()["details"]
    assert "0" == refused.headers["X-Compute-Remaining"]
    assert before == journal(billing, "org_a")

    billing.extras.credit_pack("org_a", "small", "cs_1")
    billing.extras.credit_pack("org_a", "forever", "cs_2")
    balance = client.get("/billing/extras/balance", headers=A)
    assert (200, {"balance": 400, "spendable": 400, "debt": 0}) == (
        balance.status_code,
        balance.json(),
    )
    page_1 = client.get("/billing/extras/ledger", headers=A, params={"page": 1, "limit": 2})
    page_2 = client.get("/billing/extras/ledger", headers=A, params={"page": 2, "limit": 2})
    assert (200, 200) == (page_1.status_code, page_2.status_code)
    lines = page_1.json()["entries"] + page_2.json()["entries"]
    total = page_1.json()["total"]
    assert total == len(lines)
    assert 400 == sum(line["units"] for line in lines)
    assert billing.extras.list_ledger("org_a", 1, 2).to_dict() == page_1.json()
    assert run(client, A, "run_3", "0.1").status_code == 200


def test_bad_query_and_body_answer_422_naming_the_field(serve: Serve, clock: FakeClock) -> None:
    """A ledger limit over 100 and a numeric cost are refused with 422 naming the field."""
    billing = compute_billing(clock)
    client = serve(billing)
    limit = client.get("/billing/extras/ledger", headers=A, params={"limit": 101})
    assert (422, "VALIDATION_ERROR") == error(limit)[:2]
    assert "query.limit" == limit.json()["details"]["field"]
    page = client.get("/billing/extras/ledger", headers=A, params={"page": "two"})
    assert "query.page" == error(page)[2]["field"]
    body = client.post("/runs", headers=A, json={"run_id": "r", "costs": {"llm": 1}})
    assert (422, "VALIDATION_ERROR", "body.costs.llm") == (
        body.status_code,
        body.json()["code"],
        body.json()["details"]["field"],
    )
    assert 0 == journal(billing, "org_a") - 1  # only the subscription


def test_legacy_mode_gate_answers_429_with_its_body(serve: Serve, clock: FakeClock) -> None:
    """Legacy mode: the plan allows 2 runs a month; the third gets 429 QUOTA_EXCEEDED."""
    config = legacy_config(plans=(PlanSettings(plan_id="free", limits={"runs.create": 2}),))
    client = serve(billing_on(config, clock))
    assert [200, 200] == [run(client, A, f"run_{i}", "0.1").status_code for i in range(2)]
    refused = run(client, A, "run_9", "0.1")
    assert (429, "QUOTA_EXCEEDED") == error(refused)[:2]
    assert {
        "resource": "runs",
        "action": "create",
        "limit": 2,
        "current": 2,
        "upgrade_url": "https://example.test/upgrade",
    } == refused.json()["details"]
    usage = client.get("/billing/usage", headers=A).json()
    assert {"runs.create": 2} == usage["usage"]


def test_no_route_and_no_gate_reads_or_writes_another_org(serve: Serve, clock: FakeClock) -> None:
    """org_b can neither read org_a (403 FORBIDDEN) nor spend it; admins may read it."""
    billing = compute_billing(clock)
    client = serve(billing)
    assert 200 == run(client, A, "run_a", "0.25").status_code
    before = journal(billing, "org_a")

    for path in READS:
        refused = client.get(path, headers=B, params={"org": "org_a"})
        assert (403, "FORBIDDEN") == error(refused)[:2], path
        anonymous = client.get(path)
        assert (403, "ORGANIZATION_REQUIRED") == error(anonymous)[:2], path
        own = client.get(path, headers=B, params={"org": "org_b"})
        assert 200 == own.status_code, path
        admin = client.get(path, headers=ADMIN, params={"org": "org_a"})
        assert 200 == admin.status_code, path
    assert 0 == client.get("/billing/usage", headers=B).json()["compute_used"]
    assert (
        250
        == client.get("/billing/usage", headers=ADMIN, params={"org": "org_a"}).json()[
            "compute_used"
        ]
    )

    # The gate and the run always use the caller's own org, whatever the body says.
    smuggled = client.post(
        "/runs", headers=B, json={"run_id": "run_a", "costs": {"llm": "0.5"}, "org": "org_a"}
    )
    assert 422 == smuggled.status_code
    assert 200 == run(client, B, "run_a", "0.5").status_code
    assert (403, "ORGANIZATION_REQUIRED") == error(run(client, {}, "run_x", "0.5"))[:2]
    assert before == journal(billing, "org_a")
    assert 250 == billing.usage("org_a")["compute_used"]
    assert 500 == billing.usage("org_b")["compute_used"]

    # Exhausting org_a leaves org_b's gate open.
    assert 200 == run(client, A, "run_big", "0.9").status_code
    assert 402 == run(client, A, "run_more", "0.1").status_code
    assert 200 == run(client, B, "run_b2", "0.1").status_code


def test_a_replayed_run_with_other_costs_is_a_409_and_writes_nothing(
    serve: Serve, clock: FakeClock
) -> None:
    """The same run id again: a replay (200, charged once); with other costs: 409, no write."""
    billing = compute_billing(clock)
    client = serve(billing)
    first = run(client, A, "run_1", "0.1")
    again = run(client, A, "run_1", "0.1")
    assert (200, 200, 100) == (first.status_code, again.status_code, again.json()["units"])
    before = journal(billing, "org_a")
    conflict = run(client, A, "run_1", "0.2")
    status, code, details = error(conflict)
    assert (409, "IDEMPOTENCY_CONFLICT", "attr:run_1:initial") == (status, code, details["key"])
    assert before == journal(billing, "org_a")
    assert 100 == client.get("/billing/usage", headers=A).json()["compute_used"]
