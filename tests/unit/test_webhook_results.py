"""How a translator's account changes become the webhook result, and its object checks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from compute_pricing.stripe.payloads import Customer, Invoice, StripeEvent
from compute_pricing.stripe.services import object_of, result_of
from compute_pricing.subscriptions import AccountChange

AT = datetime(2026, 3, 2, tzinfo=UTC)


def change(status: str) -> AccountChange:
    """An account change with ``status``."""
    return AccountChange(status, "org_a")


@pytest.mark.parametrize(
    ("statuses", "result"),
    [
        (("applied",), "applied"),
        (("duplicate",), "applied"),
        (("stale",), "stale"),
        (("ignored",), "ignored"),
        (("unresolved",), "ignored"),
        (("skipped",), "ignored"),
        ((), "ignored"),
        (("skipped", "duplicate"), "applied"),
        (("unresolved", "stale"), "stale"),
        (("stale", "applied"), "applied"),
    ],
)
def test_account_change_statuses_map_to_a_200_result(
    statuses: tuple[str, ...], result: str
) -> None:
    """applied/duplicate -> applied, stale -> stale, ignored/unresolved/skipped/none -> ignored."""
    assert result == result_of(*(change(status) for status in statuses))


def test_object_of_returns_the_parsed_model_and_refuses_another() -> None:
    """The object comes back typed; a mismatched model is a programming error (TypeError)."""
    customer = Customer(id="cus_1")
    event = StripeEvent("evt_1", "customer.deleted", AT, False, None, customer)
    assert customer is object_of(event, Customer)
    with pytest.raises(TypeError, match=r"customer\.deleted carries Customer, not Invoice"):
        object_of(event, Invoice)


def test_an_invoice_names_its_org_from_its_own_or_its_subscription_metadata() -> None:
    """Own metadata first, then parent.subscription_details, then the older snapshot."""
    snapshot = {"subscription_details": {"metadata": {"organization_id": "org_old"}}}
    assert "org_old" == Invoice.model_validate({"id": "in_1", **snapshot}).organization_id
    current = {"parent": {"subscription_details": {"metadata": {"organization_id": "org_new"}}}}
    assert "org_new" == Invoice.model_validate({"id": "in_1", **current}).organization_id
    own = {"metadata": {"organization_id": "org_own"}, **current}
    assert "org_own" == Invoice.model_validate({"id": "in_1", **own}).organization_id
    assert Invoice.model_validate({"id": "in_1", "metadata": None}).organization_id is None
