"""The framework-neutral HTTP layer: values, the error mapping, the principal rules, parsing."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from compute_pricing import (
    Admission,
    Billing,
    BillingError,
    ComputeExhaustedError,
    CorruptStateError,
    FakeClock,
    ForbiddenError,
    IdempotencyConflictError,
    InvalidCostError,
    OrganizationRequiredError,
    PaymentPastDueError,
    PaymentProviderUnavailableError,
    PlanNotConfiguredError,
    QuotaExceededError,
    RequestValidationError,
    UnknownPackError,
    WebhookHandlerError,
)
from compute_pricing.http import (
    BILLING_ADMIN,
    Headers,
    HttpRequest,
    HttpResponse,
    Principal,
    billing_routes,
    error_response,
    guarded,
    quota_gate,
    remaining_headers,
    target_org,
)
from compute_pricing.http.routes import idempotency_key, parse_body, parse_query
from compute_pricing.http.schemas import ExtrasCheckoutBody, LedgerQuery
from tests.conftest import compute_config

MEMBER_A = Principal("org_a", frozenset({"member"}))
ADMIN = Principal("ops", frozenset({BILLING_ADMIN}))


def exhausted() -> ComputeExhaustedError:
    """A 402 with real numbers."""
    return ComputeExhaustedError(
        "org_a",
        compute_used=1_000,
        compute_quota=1_000,
        extras_remaining=0,
        packs_available=["small"],
        upgrade_url=None,
    )


def test_headers_ignore_case_and_hide_values_in_repr() -> None:
    """Lookups ignore case; the repr lists names only (values may be credentials)."""
    headers = Headers({"Stripe-Signature": "t=1,v1=secret"})
    assert "t=1,v1=secret" == headers["stripe-signature"]
    assert "t=1,v1=secret" == headers.get("STRIPE-SIGNATURE")
    assert ["Stripe-Signature"] == list(headers)
    assert 1 == len(headers)
    assert "secret" not in repr(headers)
    request = HttpRequest("GET", "/x", headers={"X-A": "1"})
    assert "1" == request.headers["x-a"]


def test_response_serialises_its_body_as_compact_json() -> None:
    """``json_bytes`` is the body as UTF-8 JSON."""
    response = HttpResponse(200, {"a": 1, "b": "é"})
    assert {"a": 1, "b": "é"} == json.loads(response.json_bytes())


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (InvalidCostError("llm", -1, "must be >= 0"), 400, "INVALID_COST"),
        (exhausted(), 402, "COMPUTE_EXHAUSTED"),
        (PaymentPastDueError("org_a", past_due_since=None, grace_days=7), 402, "PAYMENT_PAST_DUE"),
        (OrganizationRequiredError(), 403, "ORGANIZATION_REQUIRED"),
        (ForbiddenError("org_a", "no"), 403, "FORBIDDEN"),
        (UnknownPackError("huge"), 404, "UNKNOWN_PACK"),
        (IdempotencyConflictError("pack:x", "pack_id"), 409, "IDEMPOTENCY_CONFLICT"),
        (RequestValidationError("body.pack_id", "required"), 422, "VALIDATION_ERROR"),
        (
            QuotaExceededError(resource="r", action="a", limit=1, current=1, upgrade_url=None),
            429,
            "QUOTA_EXCEEDED",
        ),
        (PlanNotConfiguredError("gone"), 503, "PLAN_NOT_CONFIGURED"),
        (PaymentProviderUnavailableError("stripe down"), 503, "PAYMENT_PROVIDER_UNAVAILABLE"),
    ],
)
def test_every_billing_error_answers_its_status_code_and_details(
    exc: BillingError, status: int, code: str
) -> None:
    """Each error's own status and code, its details, in the one shape."""
    response = error_response(exc)
    assert (status, code) == (response.status, response.body["code"])
    assert {"code": code, "message": exc.message, "details": exc.details()} == response.body


def test_the_402_exhausted_body_carries_zero_remaining_units() -> None:
    """``COMPUTE_EXHAUSTED`` sets ``X-Compute-Remaining: 0``; other errors set no header."""
    assert {"X-Compute-Remaining": "0"} == dict(error_response(exhausted()).headers)
    assert {} == dict(error_response(OrganizationRequiredError()).headers)


@pytest.mark.parametrize(
    "exc",
    [
        CorruptStateError("org_a", "snapshot", "state.week", "secret internal detail"),
        WebhookHandlerError("evt_1", 2, "secret internal detail"),
        RuntimeError("secret internal detail"),
        KeyError("secret internal detail"),
    ],
)
def test_server_failures_answer_a_generic_body_and_are_logged(
    exc: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    """A 500 names no internal detail and no traceback; the log keeps the whole failure."""
    with caplog.at_level(logging.ERROR, logger="compute_pricing.http"):
        response = error_response(exc)
    assert 500 == response.status
    assert {} == response.body["details"]
    text = response.json_bytes().decode()
    assert "secret" not in text
    assert "Traceback" not in text
    assert 1 == len(caplog.records)
    assert caplog.records[0].exc_info is not None


def test_unexpected_errors_are_internal_error_500() -> None:
    """A non-billing exception is the ``INTERNAL_ERROR`` code."""
    assert "INTERNAL_ERROR" == error_response(ValueError("x")).body["code"]


def test_org_comes_from_the_principal_and_only_admins_may_name_another() -> None:
    """Own org always; another org: 403 for members, allowed for billing admins."""
    assert "org_a" == target_org(MEMBER_A)
    assert "org_a" == target_org(MEMBER_A, "org_a")
    with pytest.raises(ForbiddenError) as refused:
        target_org(MEMBER_A, "org_b")
    assert ("org_a", 403) == (refused.value.org, refused.value.status)
    assert "org_b" == target_org(ADMIN, "org_b")
    assert "ops" == target_org(ADMIN)
    with pytest.raises(OrganizationRequiredError):
        target_org(None)
    with pytest.raises(OrganizationRequiredError):
        target_org(None, "org_a")


def test_principal_is_a_frozen_value_with_roles_as_a_set() -> None:
    """Roles given as one string or a list become a frozenset; the value cannot change."""
    assert frozenset({"billing_admin"}) == Principal("o", BILLING_ADMIN).roles
    assert Principal("o", ["b", "a"]).roles == frozenset({"a", "b"})
    assert Principal("o").is_billing_admin is False
    with pytest.raises(AttributeError):
        MEMBER_A.org = "org_b"  # type: ignore[misc]


def test_query_integers_accept_digits_only() -> None:
    """``page=2`` is 2; ``2.0``, ``-1``, ``0`` and ``1e3`` are 422 naming the field."""
    assert 2 == parse_query(LedgerQuery, HttpRequest("GET", "/", query={"page": "2"})).page
    for bad in ("2.0", "-1", "0", "1e3", " 2", "99999999"):
        with pytest.raises(RequestValidationError) as refused:
            parse_query(LedgerQuery, HttpRequest("GET", "/", query={"page": bad}))
        assert "query.page" == refused.value.field, bad
    with pytest.raises(RequestValidationError) as unknown:
        parse_query(LedgerQuery, HttpRequest("GET", "/", query={"pages": "1"}))
    assert "query.pages" == unknown.value.field


def body(data: Any) -> HttpRequest:
    """A POST carrying ``data`` as JSON."""
    return HttpRequest("POST", "/", body=json.dumps(data).encode())


def test_bodies_are_strict_json_objects_naming_the_bad_field() -> None:
    """Not JSON, not an object, too big, a number for a string, an extra field: each 422."""
    good = {"pack_id": "small", "success_url": "https://a/s", "cancel_url": "https://a/c"}
    assert "small" == parse_body(ExtrasCheckoutBody, body(good)).pack_id
    cases = [
        (HttpRequest("POST", "/", body=b"{nope"), "body"),
        (HttpRequest("POST", "/", body=b"\xff\xfe"), "body"),
        (body([1, 2]), "body"),
        (HttpRequest("POST", "/", body=b" " * 70_000), "body"),
        (body({**good, "pack_id": 5}), "body.pack_id"),
        (body({**good, "org": "org_b"}), "body.org"),
        (body({"pack_id": "small", "success_url": "https://a/s"}), "body.cancel_url"),
        (body({**good, "pack_id": "../x"}), "body.pack_id"),
    ]
    for request, field in cases:
        with pytest.raises(RequestValidationError) as refused:
            parse_body(ExtrasCheckoutBody, request)
        assert field == refused.value.field
        assert 422 == refused.value.status


def test_idempotency_key_header_is_optional_and_validated() -> None:
    """Missing: ``None``; a safe token passes; anything else is 422 naming the header."""
    assert idempotency_key(HttpRequest("POST", "/")) is None
    ok = HttpRequest("POST", "/", headers={"idempotency-key": "click-42"})
    assert "click-42" == idempotency_key(ok)
    for bad in ("", "a b", "x" * 65, "é"):
        with pytest.raises(RequestValidationError) as refused:
            idempotency_key(HttpRequest("POST", "/", headers={"Idempotency-Key": bad}))
        assert "header.Idempotency-Key" == refused.value.field


def test_guarded_handlers_never_raise() -> None:
    """A handler's exception is its error response; the name and docstring stay."""

    def boom(request: HttpRequest) -> HttpResponse:
        """Fails."""
        raise UnknownPackError("p")

    handler = guarded(boom)
    assert ("boom", "Fails.") == (handler.__name__, handler.__doc__)
    assert 404 == handler(HttpRequest("GET", "/")).status


class Broken:
    """A billing whose every read fails unexpectedly."""

    def usage(self, org: str) -> Any:
        """Fails with an internal detail."""
        raise RuntimeError(f"db password for {org}")


def test_route_table_answers_500_without_detail_when_billing_breaks() -> None:
    """An unexpected failure inside a route is a generic 500."""
    usage = next(spec for spec in billing_routes(Broken()) if spec.path == "/billing/usage")
    response = usage.handler(HttpRequest("GET", "/billing/usage", principal=MEMBER_A))
    assert (500, "INTERNAL_ERROR") == (response.status, response.body["code"])
    assert "password" not in response.json_bytes().decode()


@pytest.fixture
def billing() -> Billing:
    """Compute mode, org_a on starter (1,000 units)."""
    billing = Billing.in_memory(compute_config(), clock=FakeClock(datetime(2026, 1, 5, tzinfo=UTC)))
    billing.subscribe("org_a", "starter")
    return billing


def test_read_routes_answer_the_billing_views(billing: Billing) -> None:
    """Usage, balance and ledger bodies are the facade's ``to_dict()``."""
    routes = {spec.path: spec for spec in billing_routes(billing)}
    assert {"/billing/usage", "/billing/extras/balance", "/billing/extras/ledger"} <= set(routes)
    request = HttpRequest("GET", "/", principal=MEMBER_A)
    assert billing.usage("org_a").to_dict() == routes["/billing/usage"].handler(request).body
    balance = routes["/billing/extras/balance"].handler(request)
    assert (200, billing.extras.balance("org_a").to_dict()) == (balance.status, balance.body)
    ledger = routes["/billing/extras/ledger"].handler(request)
    assert billing.extras.list_ledger("org_a").to_dict() == ledger.body


def test_gate_admits_refuses_and_never_raises(billing: Billing) -> None:
    """Admission with remaining units, 403 without principal, admins unmetered, 402 when out."""
    admitted = quota_gate(billing, MEMBER_A)
    assert Admission(remaining=1_000) == admitted
    assert {"X-Compute-Remaining": "1000"} == remaining_headers(Admission(remaining=1_000))
    assert {} == remaining_headers(Admission(remaining=None))
    anonymous = quota_gate(billing, None)
    assert isinstance(anonymous, HttpResponse)
    assert (403, "ORGANIZATION_REQUIRED") == (anonymous.status, anonymous.body["code"])
    billing.attribute("org_a", "run_1", {"llm": 1})
    refused = quota_gate(billing, MEMBER_A)
    assert isinstance(refused, HttpResponse)
    assert (402, "0") == (refused.status, refused.headers["X-Compute-Remaining"])
    assert Admission(remaining=None) == quota_gate(billing, Principal("org_a", BILLING_ADMIN))
    odd = quota_gate(billing, Principal("bad org"))
    assert isinstance(odd, HttpResponse)
    assert 400 == odd.status
