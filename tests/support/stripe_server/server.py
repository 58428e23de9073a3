"""A local Stripe test server: localstripe plus what it lacks, on 127.0.0.1.

Run by the test session in its own virtualenv (``.venv-localstripe``); never imported by the
library or by the test process. localstripe (GPL) keeps customers, payment intents, charges,
refunds, plans and subscriptions; this script adds, in front of it:

- ``/v1/checkout/sessions`` (create, retrieve): hosted-session values (``id``, ``url``,
  ``mode``, ``metadata``, ``payment_intent``...), unknown parameters refused by name; a payment
  session creates its payment intent with ``payment_intent_data.metadata``;
- ``/v1/prices`` (create, retrieve): a recurring price is also a localstripe plan of the same
  id, so subscriptions can use it; subscription items answer an embedded ``price`` object and
  their ``current_period_start``, as current API versions do;
- refund rules localstripe skips: ``reason`` accepted and checked, no refund beyond what is left
  of the charge;
- Idempotency-Key replay, per API key: the same key with the same method, path and body answers
  the stored response (``Idempotent-Replayed: true``); with another request it answers 400
  ``idempotency_error``, as Stripe does;
- ``POST /_test/fail`` (``status``, ``count``, ``type``): the next ``count`` API requests answer
  that error, to exercise retries and the error table through the real SDK.

Prints ``READY <port>`` on stdout once listening.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import socket
import string
import sys
import time
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from localstripe import resources
from localstripe.errors import UserError
from localstripe.server import app, get_api_key, get_post_data, json_response, unflatten_data

# localstripe pickles its store to a fixed /tmp path on every write; tests run in parallel
# sessions, so this server keeps its state in memory only.
resources.Store.dump_to_disk = lambda self: None

CHECKOUT_PARAMS = frozenset(
    {
        "mode",
        "customer",
        "line_items",
        "success_url",
        "cancel_url",
        "client_reference_id",
        "metadata",
        "payment_intent_data",
        "subscription_data",
        "automatic_tax",
        "expand",
    }
)
REFUND_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer"})

PRICES: dict[str, dict[str, Any]] = {}
SESSIONS: dict[str, dict[str, Any]] = {}
IDEMPOTENCY: dict[tuple[str, str], tuple[tuple[Any, ...], int, bytes]] = {}
FAILURES: list[dict[str, Any]] = []
LOCK = asyncio.Lock()


def _id(prefix: str) -> str:
    return prefix + "".join(random.choices(string.ascii_letters + string.digits, k=14))


def invalid(message: str, param: str | None = None, status: int = 400) -> UserError:
    """A Stripe ``invalid_request_error`` naming ``param``."""
    contents: dict[str, Any] = {"param": param} if param else {}
    return UserError(status, message, contents=contents)


def missing(kind: str, value: Any, param: str) -> UserError:
    """Stripe's 404 for an unknown id."""
    return invalid(f"No such {kind}: '{value}'", param=param, status=404)


def as_bool(value: Any) -> bool:
    """Form-encoded booleans arrive as strings."""
    return value is True or str(value).lower() == "true"


# -- prices -------------------------------------------------------------------------------------


async def create_price(request: web.Request) -> web.Response:
    """POST /v1/prices: one-time or recurring; a recurring one is also a localstripe plan."""
    data = await get_post_data(request) or {}
    try:
        amount = int(data.get("unit_amount", ""))
    except ValueError:
        raise invalid("Missing required param: unit_amount.", "unit_amount") from None
    currency = data.get("currency") or ""
    if not currency:
        raise invalid("Missing required param: currency.", "currency")
    product = data.get("product")
    if product is None:
        name = (data.get("product_data") or {}).get("name") or "product"
        product = resources.Product(name=name).id
    else:
        resources.Product._api_retrieve(product)
    recurring = data.get("recurring")
    price_id = data.get("id") or _id("price_")
    metadata = data.get("metadata") or {}
    price = {
        "id": price_id,
        "object": "price",
        "active": True,
        "currency": currency,
        "unit_amount": amount,
        "product": product,
        "metadata": metadata,
        "type": "recurring" if recurring else "one_time",
        "recurring": None,
        "livemode": False,
        "created": int(time.time()),
    }
    if recurring:
        interval = recurring.get("interval") or "month"
        price["recurring"] = {"interval": interval, "interval_count": 1}
        resources.Plan(
            id=price_id,
            amount=amount,
            currency=currency,
            interval=interval,
            product=product,
            metadata=metadata,
        )
    PRICES[price_id] = price
    return json_response(price)


def retrieve_price(request: web.Request) -> web.Response:
    """GET /v1/prices/{id}."""
    price_id = request.match_info["id"]
    if price_id not in PRICES:
        raise missing("price", price_id, "id")
    return json_response(PRICES[price_id])


# -- checkout sessions ----------------------------------------------------------------------------


async def create_session(request: web.Request) -> web.Response:
    """POST /v1/checkout/sessions: checks what Stripe checks, then answers an open session."""
    data = await get_post_data(request) or {}
    unknown = sorted(set(data) - CHECKOUT_PARAMS)
    if unknown:
        raise invalid(f"Received unknown parameter: {unknown[0]}", unknown[0])
    mode = data.get("mode")
    if mode not in ("payment", "subscription"):
        raise invalid(f"Invalid mode: {mode!r}", "mode")
    for url in ("success_url", "cancel_url"):
        if not str(data.get(url, "")).startswith(("http://", "https://")):
            raise invalid(f"Not a valid URL: {url}", url)
    customer = data.get("customer")
    if customer is not None:
        try:
            resources.Customer._api_retrieve(customer)
        except UserError:
            raise missing("customer", customer, "customer") from None
    line_items = data.get("line_items") or []
    if not line_items:
        raise invalid("Missing required param: line_items.", "line_items")
    total = 0
    for index, item in enumerate(line_items):
        price = PRICES.get(item.get("price", ""))
        if price is None:
            raise missing("price", item.get("price"), f"line_items[{index}][price]")
        is_recurring = price["recurring"] is not None
        if is_recurring != (mode == "subscription"):
            raise invalid(
                f"The price {price['id']} does not fit a {mode} mode session",
                f"line_items[{index}][price]",
            )
        total += price["unit_amount"] * int(item.get("quantity", 1))
    session_id = _id("cs_test_")
    payment_intent = None
    if mode == "payment":
        intent_metadata = (data.get("payment_intent_data") or {}).get("metadata") or {}
        payment_intent = resources.PaymentIntent(
            amount=total,
            currency=PRICES[line_items[0]["price"]]["currency"],
            customer=customer,
            metadata=intent_metadata,
        ).id
    automatic_tax = as_bool((data.get("automatic_tax") or {}).get("enabled", False))
    session = {
        "id": session_id,
        "object": "checkout.session",
        "mode": mode,
        "url": f"https://checkout.stripe.com/c/pay/{session_id}",
        "customer": customer,
        "client_reference_id": data.get("client_reference_id"),
        "metadata": data.get("metadata") or {},
        "payment_intent": payment_intent,
        "subscription": None,
        "status": "open",
        "payment_status": "unpaid",
        "amount_total": total,
        "automatic_tax": {"enabled": automatic_tax, "status": None},
        "success_url": data["success_url"],
        "cancel_url": data["cancel_url"],
        "livemode": False,
        "created": int(time.time()),
    }
    SESSIONS[session_id] = session
    return json_response(session)


def retrieve_session(request: web.Request) -> web.Response:
    """GET /v1/checkout/sessions/{id}."""
    session_id = request.match_info["id"]
    if session_id not in SESSIONS:
        raise missing("checkout.session", session_id, "session")
    return json_response(SESSIONS[session_id])


# -- overrides of localstripe routes ----------------------------------------------------------


async def create_refund(request: web.Request) -> web.Response:
    """POST /v1/refunds with Stripe's ``reason`` and never more than what is left."""
    data = await get_post_data(request) or {}
    expand = data.pop("expand", None)
    reason = data.pop("reason", None)
    if reason is not None and reason not in REFUND_REASONS:
        raise invalid(f"Invalid reason: {reason}", "reason")
    intent_id = data.get("payment_intent")
    if intent_id is not None:
        try:
            intent = resources.PaymentIntent._api_retrieve(intent_id)
        except UserError:
            raise missing("payment_intent", intent_id, "payment_intent") from None
        charge = intent.latest_charge
        if charge is None:
            raise invalid("This PaymentIntent has no successful charge.", "payment_intent")
        left = charge.amount - charge.amount_refunded
        if left <= 0:
            raise invalid(f"Charge {charge.id} has already been refunded.", "charge")
        amount = data.get("amount")
        if amount is not None and int(amount) > left:
            raise invalid(
                f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})",
                "amount",
            )
        if amount is None:
            data["amount"] = left
    refund = resources.Refund._api_create(**data)
    refund.reason = reason
    return json_response(refund._export(expand=expand))


def _decorate_subscription(body: dict[str, Any]) -> dict[str, Any]:
    """Give each item its ``price`` object and ``current_period_start`` (current API shape)."""
    for item in (body.get("items") or {}).get("data") or []:
        plan = item.get("plan") or {}
        plan_id = plan.get("id") if isinstance(plan, dict) else plan
        item["price"] = PRICES.get(plan_id) or {"id": plan_id, "object": "price", "metadata": {}}
        item["current_period_start"] = body.get("current_period_start")
        item["current_period_end"] = body.get("current_period_end")
    return body


async def create_subscription(request: web.Request) -> web.Response:
    """POST /v1/subscriptions accepting ``items[n][price]`` (a recurring price's plan)."""
    data = await get_post_data(request) or {}
    expand = data.pop("expand", None)
    for index, item in enumerate(data.get("items") or []):
        if "price" in item:
            price_id = item.pop("price")
            if price_id not in PRICES:
                raise missing("price", price_id, f"items[{index}][price]")
            item["plan"] = price_id
    subscription = resources.Subscription._api_create(**data)
    return json_response(_decorate_subscription(subscription._export(expand=expand)))


def retrieve_subscription(request: web.Request) -> web.Response:
    """GET /v1/subscriptions/{id} in the current API shape."""
    subscription_id = request.match_info["id"]
    data = unflatten_data(request.query)
    try:
        subscription = resources.Subscription._api_retrieve(subscription_id)
    except UserError:
        raise missing("subscription", subscription_id, "id") from None
    return json_response(_decorate_subscription(subscription._export(expand=data.get("expand"))))


OVERRIDES: list[tuple[str, re.Pattern[str], Any]] = [
    ("POST", re.compile(r"^/v1/refunds$"), create_refund),
    ("POST", re.compile(r"^/v1/subscriptions$"), create_subscription),
    ("GET", re.compile(r"^/v1/subscriptions/(?P<id>sub_\w+)$"), retrieve_subscription),
]


@web.middleware
async def overrides(request: web.Request, handler: Any) -> web.StreamResponse:
    """Answer the routes this server redefines before localstripe's own handlers."""
    for method, pattern, override in OVERRIDES:
        match = pattern.match(request.path)
        if request.method == method and match:
            if get_api_key(request) is None:
                return UserError(401, "Unauthorized").to_response()
            request.match_info.update(match.groupdict())
            try:
                result = override(request)
                return await result if asyncio.iscoroutine(result) else result
            except UserError as exc:
                return exc.to_response()
    return await handler(request)


# -- failures and idempotency (outermost) ------------------------------------------------------


async def schedule_failure(request: web.Request) -> web.Response:
    """POST /_test/fail: the next ``count`` API requests answer ``status`` with ``type``."""
    data = await get_post_data(request) or {}
    failure = {"status": int(data["status"]), "type": data.get("type", "api_error")}
    FAILURES.extend([failure] * int(data.get("count", 1)))
    return json_response({"scheduled": len(FAILURES)})


def _fingerprint(request: web.Request, body: bytes) -> tuple[Any, ...]:
    pairs = sorted(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    return (request.method, request.path, tuple(pairs))


@web.middleware
async def idempotency(request: web.Request, handler: Any) -> web.StreamResponse:
    """Scheduled failures first, then Stripe's Idempotency-Key replay rules for POSTs."""
    if request.path.startswith("/v1/") and FAILURES:
        failure = FAILURES.pop(0)
        error = {"type": failure["type"], "message": "scheduled test failure"}
        return json_response({"error": error}, status=failure["status"])
    key = request.headers.get("Idempotency-Key")
    if request.method != "POST" or not key or not request.path.startswith("/v1/"):
        return await handler(request)
    scope = (get_api_key(request) or "", key)
    body = await request.read()
    async with LOCK:
        stored = IDEMPOTENCY.get(scope)
        if stored is not None:
            fingerprint, status, payload = stored
            if fingerprint != _fingerprint(request, body):
                message = (
                    "Keys for idempotent requests can only be used with the same parameters "
                    f"they were first used with. Try using a key other than '{key}' if you "
                    "meant to execute a different request."
                )
                error = {"type": "idempotency_error", "message": message}
                return json_response({"error": error}, status=400)
            return web.Response(
                status=status,
                body=payload,
                content_type="application/json",
                headers={"Idempotent-Replayed": "true", "Idempotency-Key": key},
            )
        response = await handler(request)
        status = response.status
        if (status < 400 or status >= 500) and isinstance(response, web.Response):
            IDEMPOTENCY[scope] = (_fingerprint(request, body), status, bytes(response.body or b""))
        response.headers["Idempotency-Key"] = key
        return response


def main() -> None:
    """Listen on 127.0.0.1 (``--port 0``: any free port) and print ``READY <port>``."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    app.middlewares.insert(0, overrides)
    app.middlewares.insert(0, idempotency)
    app.router.add_post("/v1/prices", create_price)
    app.router.add_get("/v1/prices/{id}", retrieve_price)
    app.router.add_post("/v1/checkout/sessions", create_session)
    app.router.add_get("/v1/checkout/sessions/{id}", retrieve_session)
    app.router.add_post("/_test/fail", schedule_failure)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", args.port))
    sock.listen(128)
    print(f"READY {sock.getsockname()[1]}", flush=True)  # noqa: T201  # the readiness line
    sys.stdout.close()
    web.run_app(app, sock=sock, print=None, access_log=None, handle_signals=True)


if __name__ == "__main__":
    main()
