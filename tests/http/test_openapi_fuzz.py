"""The FastAPI example app fuzzed against its own OpenAPI schema (schemathesis, real server).

For every generated request: no 5xx, the response matches the schema, and a refused request
writes nothing (the journal's length across all orgs is unchanged). The schema is the app's
own ``app.openapi()``; the requests go to the same app served by uvicorn on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from pydantic import SecretStr
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import positive_data_acceptance

from compute_pricing import Billing, FakeClock, InMemoryStores, PackSettings, StripeSettings
from compute_pricing.fake_gateway import FakePaymentGateway
from compute_pricing.journal import JournalEntry
from compute_pricing.memory import SequentialIds
from compute_pricing.ports import AccountStore
from tests.conftest import START, compute_config
from tests.examples.test_examples import load_example
from tests.support.http_servers import serve_asgi


class CountingAccountStore:
    """An ``AccountStore`` wrapper counting committed journal entries across all orgs."""

    def __init__(self, inner: AccountStore) -> None:
        self.inner = inner
        self.appended = 0

    def append(self, entry: JournalEntry) -> None:
        """Commit through the wrapped store, then count it."""
        self.inner.append(entry)
        self.appended += 1

    def read_journal(self, org: str, *, after_seq: int = 0) -> Sequence[JournalEntry]:
        """The wrapped store's journal."""
        return self.inner.read_journal(org, after_seq=after_seq)

    def __getattr__(self, name: str) -> Any:
        """Every other port method, unchanged."""
        return getattr(self.inner, name)


def _app() -> tuple[Any, CountingAccountStore]:
    clock = FakeClock(START)
    stores = InMemoryStores(clock)
    counting = CountingAccountStore(stores.accounts)
    stores.accounts = counting
    config = compute_config(
        packs=(PackSettings(pack_id="small", units=500, price_cents=900, stripe_price="price_s"),),
        stripe=StripeSettings(webhook_secret=SecretStr("whsec_fuzz")),
        allowed_redirect_hosts=("app.example.test",),
    )
    billing = Billing(
        config,
        stores=stores,
        clock=clock,
        ids=SequentialIds(),
        gateway=FakePaymentGateway(),
    )
    billing.subscribe("org_a", "starter")
    return load_example("fastapi_app.py").create_app(billing), counting


APP, COUNTING = _app()
#: A schema-valid request may still meet a business refusal: no compute (402), another org
#: (403), an unknown pack (404), a conflict (409), a legacy limit (429). The quota gate runs
#: before the host route reads its body, so an invalid body may be refused with 402 first.
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2XX", "402", "403", "404", "409", "429"]
            },
            "negative_data_rejection": {
                "expected-statuses": ["400", "402", "403", "404", "409", "422", "429"]
            },
        }
    }
)
schema = schemathesis.openapi.from_dict(APP.openapi(), config=CONFIG)

#: Every operation the app publishes; the fuzz test covers each.
OPERATIONS = {
    "GET /billing/usage",
    "GET /billing/extras/balance",
    "GET /billing/extras/ledger",
    "POST /billing/webhook",
    "POST /billing/checkout",
    "POST /billing/extras/checkout",
    "POST /runs",
}


UNSIGNED_OR_REDIRECTING = {"/billing/webhook", "/billing/checkout", "/billing/extras/checkout"}


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    """The app served by uvicorn for the whole module."""
    with serve_asgi(APP) as url:
        yield url


def test_the_schema_lists_every_route_with_its_bodies_and_errors() -> None:
    """OpenAPI: every route, the request bodies and the error responses in the error shape."""
    spec = APP.openapi()
    listed = {f"{method.upper()} {path}" for path, ops in spec["paths"].items() for method in ops}
    assert OPERATIONS == listed
    ledger = spec["paths"]["/billing/extras/ledger"]["get"]
    assert {"org", "page", "limit", "x-org-id", "x-roles"} == {
        p["name"].lower() for p in ledger["parameters"]
    }
    assert {"200", "400", "403", "422", "500", "503"} == set(ledger["responses"])
    error_ref = ledger["responses"]["403"]["content"]["application/json"]["schema"]["$ref"]
    assert "#/components/schemas/ErrorBody" == error_ref
    assert ["code", "details", "message"] == sorted(
        spec["components"]["schemas"]["ErrorBody"]["properties"]
    )
    runs = spec["paths"]["/runs"]["post"]
    assert {"402", "429", "503", "403", "422"} <= set(runs["responses"])
    assert "requestBody" in runs


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_5xx_every_response_matches_and_refusals_write_nothing(case: Any, base_url: str) -> None:
    """Generated requests never get a 5xx, match the schema, and a 4xx leaves no entry."""
    before = COUNTING.appended
    # A generated webhook body is unsigned and a generated redirect URL is off the allow-list,
    # so these routes refuse schema-valid input (400) by design.
    refuses_by_design = case.operation.path in UNSIGNED_OR_REDIRECTING
    response = case.call_and_validate(
        base_url=base_url,
        excluded_checks=[positive_data_acceptance] if refuses_by_design else None,
    )
    if response.status_code >= 400:
        assert before == COUNTING.appended
