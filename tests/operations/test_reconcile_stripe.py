"""Reconcile against Stripe: local subscription status compared with the gateway's, read-only."""

from __future__ import annotations

import argparse
import json
from importlib import metadata
from pathlib import Path
from typing import Any

import attrs
import pytest
import tomli_w

from compute_pricing import Billing, FakeClock, cli, opscli
from compute_pricing.errors import CorruptStateError
from compute_pricing.events import AccountDiverged
from compute_pricing.fake_gateway import FakePaymentGateway
from compute_pricing.jobs import run_job
from compute_pricing.journal import Snapshot
from compute_pricing.memory import EventRecorder
from compute_pricing.reconcile import StripeDivergence, stripe_status_divergence
from compute_pricing_stripe import StripePaymentGateway
from tests.conftest import START
from tests.support.mongo_fixtures import DatabaseFactory
from tests.support.stripe_accounts import stripe_config, sub

#: org -> (local status, its Stripe subscription id).
LINKED = {
    "org_a": ("active", "sub_a"),
    "org_b": ("trialing", "sub_b"),
    "org_c": ("past_due", "sub_c"),
}


def linked(gateway: FakePaymentGateway | None = None) -> tuple[Billing, FakePaymentGateway]:
    """Three orgs linked to Stripe subscriptions (active, trialing, past due) and one unlinked;
    the fake gateway answers the same status for each."""
    gateway = gateway or FakePaymentGateway()
    clock = FakeClock(START)
    billing = Billing.in_memory(stripe_config(), clock=clock, gateway=gateway)
    billing.subscribe("org_free", "free")
    for i, (org, (status, subscription_id)) in enumerate(sorted(LINKED.items())):
        info = sub(status, subscription_id=subscription_id, customer_id=f"cus_{org}")
        billing.subscription_changed(org, info, event_id=f"evt_{i}", event_created=clock.now())
        gateway.add_subscription(info)
    return billing, gateway


def test_the_hook_reads_the_linked_subscription_id() -> None:
    """A linked active org is asked by its ``subscription_id``; the same status is no divergence."""
    billing, gateway = linked()
    state = billing.accounts.peek("org_a")
    assert "sub_a" == state.subscription.subscription_id
    assert stripe_status_divergence(gateway, state) is None
    assert [{"subscription_id": "sub_a"}] == [
        dict(call.params) for call in gateway.calls_to("retrieve_subscription")
    ]


def test_a_clean_database_reports_nothing_and_asks_only_linked_orgs() -> None:
    """Every status agrees: no divergence, ``stripe: checked``, exit 0; the unlinked org is not
    asked."""
    billing, gateway = linked()
    summary = run_job(billing, "reconcile")
    assert ([], "checked", 4, 0, 0) == (
        summary.extra["divergences"],
        summary.extra["stripe"],
        summary.processed,
        summary.errors,
        summary.exit_code,
    )
    asked = sorted(
        call.params["subscription_id"] for call in gateway.calls_to("retrieve_subscription")
    )
    assert ["sub_a", "sub_b", "sub_c"] == asked


@pytest.mark.parametrize(
    ("org", "stripe_status"), [("org_a", "past_due"), ("org_b", "active"), ("org_c", "canceled")]
)
def test_an_injected_status_divergence_is_found_and_published(org: str, stripe_status: str) -> None:
    """Stripe answers another status: ``stripe_status`` with both statuses, an event, exit 1."""
    billing, gateway = linked()
    local, subscription_id = LINKED[org]
    gateway.add_subscription(sub(stripe_status, subscription_id=subscription_id))
    summary = run_job(billing, "reconcile")
    assert [
        {
            "org": org,
            "fields": ["stripe_status"],
            "stripe": {"subscription_id": subscription_id, "local": local, "stripe": stripe_status},
        }
    ] == summary.extra["divergences"]
    assert 1 == summary.exit_code
    assert isinstance(billing.events, EventRecorder)
    diverged = [e for e in billing.events.published if isinstance(e, AccountDiverged)]
    assert [(org, ("stripe_status",))] == [(e.org, e.fields) for e in diverged]


def test_canceled_and_unlinked_orgs_are_never_asked() -> None:
    """A canceled local status or no subscription id: ``None`` without a gateway call."""
    billing, gateway = linked()
    state = billing.accounts.peek("org_a")
    canceled = attrs.evolve(state, subscription=attrs.evolve(state.subscription, status="canceled"))
    unlinked = attrs.evolve(
        state, subscription=attrs.evolve(state.subscription, subscription_id=None)
    )
    assert (None, None) == (
        stripe_status_divergence(gateway, canceled),
        stripe_status_divergence(gateway, unlinked),
    )
    assert [] == gateway.calls_to("retrieve_subscription")
    assert StripeDivergence("sub_a", "active", None) == stripe_status_divergence(
        _Answering(None), state
    )


class _Answering(FakePaymentGateway):
    """A fake whose every subscription has ``status``."""

    def __init__(self, status: str | None) -> None:
        super().__init__()
        self.status = status

    def retrieve_subscription(self, subscription_id: str) -> Any:
        """``status`` for any id."""
        return sub(self.status, subscription_id=subscription_id)


def test_an_unavailable_gateway_is_an_error_per_org_not_a_crash() -> None:
    """One failed call: that org is an error (``stripe: ``), the others are still compared."""
    billing, gateway = linked()
    gateway.add_subscription(sub("past_due", subscription_id="sub_c"))
    gateway.add_subscription(sub("canceled", subscription_id="sub_b"))
    gateway.fail_next(1)  # the first org asked (org_a) meets the outage
    summary = run_job(billing, "reconcile")
    assert {
        "org_a": "stripe: PAYMENT_PROVIDER_UNAVAILABLE: payment provider unavailable"
    } == summary.failed
    assert (["org_b"], 3, 1) == (
        [d["org"] for d in summary.extra["divergences"]],
        summary.processed,
        summary.exit_code,
    )


def test_a_journal_divergence_is_still_reported_when_stripe_fails() -> None:
    """An edited snapshot and a Stripe outage on the same org: both are in the summary."""
    billing, gateway = linked()
    store = billing.stores.accounts
    snapshot = store.read_snapshot("org_a")
    assert snapshot is not None
    edited = attrs.evolve(snapshot.state, usage_debt=snapshot.state.usage_debt + 3)
    store.save_snapshot(Snapshot(org="org_a", version=snapshot.version + 1, state=edited))
    gateway.fail_next(1)
    summary = run_job(billing, "reconcile")
    assert ["org_a"] == list(summary.failed)
    assert [{"org": "org_a", "fields": ["journal", "balance", "debt"]}] == summary.extra[
        "divergences"
    ]


def test_without_a_gateway_stripe_is_not_configured() -> None:
    """``Billing(gateway=None)``: no Stripe comparison, ``stripe: not configured``."""
    billing, gateway = linked()
    billing.gateway = None
    gateway.add_subscription(sub("canceled", subscription_id="sub_a"))
    summary = run_job(billing, "reconcile")
    assert ("not configured", []) == (summary.extra["stripe"], summary.extra["divergences"])


# -- the CLI's gateway -----------------------------------------------------------------------


def test_the_cli_loads_the_stripe_gateway_only_with_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """``--stripe-key`` or ``STRIPE_API_KEY``: a Stripe gateway from the entry point; else none."""
    monkeypatch.delenv(opscli.STRIPE_KEY_ENV_VAR, raising=False)
    assert opscli._gateway(argparse.Namespace(stripe_key=None)) is None
    flagged = opscli._gateway(argparse.Namespace(stripe_key="sk_test_flag"))
    monkeypatch.setenv(opscli.STRIPE_KEY_ENV_VAR, "sk_test_env")
    monkeypatch.setenv(opscli.STRIPE_API_BASE_ENV_VAR, "http://127.0.0.1:9")
    from_env = opscli._gateway(argparse.Namespace(stripe_key=None))
    assert isinstance(flagged, StripePaymentGateway)
    assert isinstance(from_env, StripePaymentGateway)


def test_cron_reconcile_through_the_cli_compares_with_stripe(
    mongo_wire_uri: str,
    mongo_wire_databases: DatabaseFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Without a key: ``not configured``. With one, the gateway the entry point opens is asked
    (here the fake, standing in for Stripe): the divergence is found, exit 1."""
    from compute_pricing_mongo import MongoStores  # noqa: PLC0415 - mongo tier only

    db = mongo_wire_databases()
    clock = FakeClock(START)
    gateway = FakePaymentGateway()
    billing = Billing(stripe_config(), stores=MongoStores(db, clock=clock), clock=clock)
    info = sub("active", subscription_id="sub_a", customer_id="cus_a")
    billing.subscription_changed("org_a", info, event_id="evt_1", event_created=clock.now())
    gateway.add_subscription(sub("past_due", subscription_id="sub_a"))
    path = tmp_path / "billing.toml"
    path.write_text(tomli_w.dumps(stripe_config().to_toml_dict()))
    args = ["cron", "reconcile", "--config", str(path), "--uri", mongo_wire_uri, "--db", db.name]
    monkeypatch.delenv(opscli.STRIPE_KEY_ENV_VAR, raising=False)
    assert 0 == cli.main(args)
    assert "not configured" == json.loads(capsys.readouterr().out)["stripe"]
    opened: list[dict[str, Any]] = []

    def open_gateway(**kwargs: Any) -> FakePaymentGateway:
        opened.append(kwargs)
        return gateway

    real = opscli._entry_point

    def entry_point(group: str, name: str, what: str) -> Any:
        return open_gateway if group == opscli.GATEWAY_GROUP else real(group, name, what)

    monkeypatch.setattr(opscli, "_entry_point", entry_point)
    assert 1 == cli.main([*args, "--stripe-key", "sk_test_1"])
    summary = json.loads(capsys.readouterr().out)
    assert [{"api_key": "sk_test_1", "api_base": None}] == opened
    assert ("checked", ["org_a"]) == (summary["stripe"], [d["org"] for d in summary["divergences"]])


def test_a_missing_gateway_plugin_is_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A key but no ``stripe`` gateway entry point installed: exit 2 naming the group."""
    real = metadata.entry_points

    def without_gateways(group: str) -> Any:
        return [] if group == opscli.GATEWAY_GROUP else real(group=group)

    monkeypatch.setattr(metadata, "entry_points", without_gateways)
    path = tmp_path / "billing.toml"
    path.write_text(tomli_w.dumps(stripe_config().to_toml_dict()))
    argv = ["cron", "reconcile", "--config", str(path), "--uri", "mongodb://h/db"]
    assert 2 == cli.main([*argv, "--stripe-key", "sk_test_1"])
    assert "no payment gateway 'stripe' is installed (entry points compute_pricing.gateways)" in (
        capsys.readouterr().err
    )


def test_an_unreadable_snapshot_is_that_orgs_error_and_stripe_is_not_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A snapshot that cannot be decoded: that org is an error, the others are compared."""
    billing, gateway = linked()
    store = billing.stores.accounts
    read = store.read_snapshot

    def corrupt_b(org: str) -> Snapshot | None:
        if org == "org_b":
            raise CorruptStateError(org, "snapshot", "state.week.used", "is 12.9, not an integer")
        return read(org)

    monkeypatch.setattr(store, "read_snapshot", corrupt_b)
    summary = run_job(billing, "reconcile")
    assert (["org_b"], 3, []) == (
        list(summary.failed),
        summary.processed,
        summary.extra["divergences"],
    )
    assert summary.failed["org_b"].startswith("CORRUPT_STATE: ")
    asked = sorted(c.params["subscription_id"] for c in gateway.calls_to("retrieve_subscription"))
    assert ["sub_a", "sub_c"] == asked
