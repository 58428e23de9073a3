"""The operator commands of ``compute-pricing``: ``cron``, ``admin`` and ``config check``.

Configuration comes from flags or the environment: ``--config`` / ``COMPUTE_PRICING_CONFIG``
(a ``billing.toml``), ``--uri`` / ``COMPUTE_PRICING_MONGODB_URI`` and ``--db`` /
``COMPUTE_PRICING_MONGODB_DB``. The store back end is a plugin: the entry point named
``--backend`` (``mongo`` by default) in the group ``compute_pricing.backends`` is a callable
``open_stores(*, uri, db, clock, timeout_s)`` returning a context manager of ``Stores``; the
Mongo adapter provides it, so this module imports no driver.

Stripe: with ``--stripe-key`` or ``STRIPE_API_KEY`` the billing gets a payment gateway from the
entry point ``stripe`` of ``compute_pricing.gateways``, a callable
``open_gateway(*, api_key, api_base)`` (``api_base`` from ``COMPUTE_PRICING_STRIPE_API_BASE``,
for a local Stripe test server; ``None`` means Stripe itself). The Stripe adapter provides it,
so this module never imports ``stripe``. Without a key there is no gateway (reconcile then
reports ``stripe: "not configured"``).

Webhook handlers: the ``webhooks`` commands let every entry point of
``compute_pricing.webhook_handlers`` (a callable ``register(billing) -> None``) register its
handlers on ``billing.webhooks`` before replaying, so a replay runs the handler the web
application would run.

Exit codes: ``0`` all done, ``1`` some orgs failed (or, for ``reconcile``, diverged), ``2`` a
configuration or connection error (one short line on stderr). A cron command prints exactly
one JSON summary line on stdout; progress goes to stderr only when stderr is a terminal.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from compute_pricing.config import BillingConfig
from compute_pricing.errors import BillingError, ConfigError, PaymentProviderError
from compute_pricing.jobs import DEFAULT_LOCK_TTL_SECONDS, JOBS, run_job
from compute_pricing.timekeeping import SystemClock

if TYPE_CHECKING:
    from compute_pricing.billing import Billing, Stores
    from compute_pricing.ports import Clock, PaymentGateway

__all__ = [
    "BACKEND_GROUP",
    "CONFIG_ENV_VAR",
    "DB_ENV_VAR",
    "GATEWAY_GROUP",
    "HANDLERS_GROUP",
    "PAUSE_AFTER_ENV_VAR",
    "STRIPE_API_BASE_ENV_VAR",
    "STRIPE_KEY_ENV_VAR",
    "URI_ENV_VAR",
    "OperatorConfigError",
    "add_connection_options",
    "fail",
    "load_config",
    "open_billing",
    "register",
]

BACKEND_GROUP = "compute_pricing.backends"
"""Entry-point group of store back ends (``mongo = "compute_pricing_mongo.cli:open_stores"``)."""
CONFIG_ENV_VAR = "COMPUTE_PRICING_CONFIG"
URI_ENV_VAR = "COMPUTE_PRICING_MONGODB_URI"
DB_ENV_VAR = "COMPUTE_PRICING_MONGODB_DB"
GATEWAY_GROUP = "compute_pricing.gateways"
"""Entry-point group of payment gateways (``stripe = "compute_pricing_stripe.cli:..."``)."""
HANDLERS_GROUP = "compute_pricing.webhook_handlers"
"""Entry-point group of webhook handler registrations (``register(billing) -> None``)."""
STRIPE_KEY_ENV_VAR = "STRIPE_API_KEY"
STRIPE_API_BASE_ENV_VAR = "COMPUTE_PRICING_STRIPE_API_BASE"
PAUSE_AFTER_ENV_VAR = "COMPUTE_PRICING_TEST_PAUSE_AFTER"
"""Test hook: a cron run pauses (sleeps) after this many orgs, so a test can SIGKILL it."""

_CONFIG_ERROR = 2
jitter_sleep: Callable[[float], None] = time.sleep
"""How the startup jitter waits (replaceable in tests)."""

Opener = Callable[..., AbstractContextManager["Stores"]]


class OperatorConfigError(Exception):
    """A configuration or connection problem: one line on stderr, exit code 2."""


def fail(message: str) -> int:
    """Write ``error: <message>`` on stderr; return the configuration exit code (2)."""
    sys.stderr.write(f"error: {message}\n")
    return _CONFIG_ERROR


# -- configuration ----------------------------------------------------------------------------


def load_config(path: str | Path) -> BillingConfig:
    """Read and validate ``path``; :class:`OperatorConfigError` naming the field or line/column."""
    path = Path(path)
    try:
        return BillingConfig.from_toml(path)
    except ConfigError as exc:
        # ``toml`` is the file itself (syntax, missing, unreadable): its reason says where
        where = "" if exc.field == "toml" else f"invalid field {exc.field}: "
        raise OperatorConfigError(f"{path}: {where}{exc.reason}") from None


def _config(args: argparse.Namespace) -> BillingConfig:
    path = args.config or os.environ.get(CONFIG_ENV_VAR)
    if not path:
        raise OperatorConfigError(f"no configuration: pass --config or set {CONFIG_ENV_VAR}")
    return load_config(path)


def _entry_point(group: str, name: str, what: str) -> Any:
    found = [e for e in metadata.entry_points(group=group) if e.name == name]
    if not found:
        raise OperatorConfigError(f"no {what} {name!r} is installed (entry points {group})")
    try:
        return found[0].load()
    except ImportError as exc:
        raise OperatorConfigError(f"{what} {name!r} cannot load: {exc}") from None


def _gateway(args: argparse.Namespace) -> PaymentGateway | None:
    """The Stripe gateway when an API key is given, else ``None``."""
    key = getattr(args, "stripe_key", None) or os.environ.get(STRIPE_KEY_ENV_VAR)
    if not key:
        return None
    open_gateway = _entry_point(GATEWAY_GROUP, "stripe", "payment gateway")
    api_base = os.environ.get(STRIPE_API_BASE_ENV_VAR) or None
    return cast("PaymentGateway", open_gateway(api_key=key, api_base=api_base))


def _register_handlers(billing: Billing) -> None:
    """Let every ``compute_pricing.webhook_handlers`` entry point register its handlers."""
    for entry_point in sorted(metadata.entry_points(group=HANDLERS_GROUP), key=lambda e: e.name):
        try:
            entry_point.load()(billing)
        except Exception as exc:  # a broken plugin is the operator's to fix: exit 2
            raise OperatorConfigError(
                f"webhook handlers {entry_point.name!r} failed to register: "
                f"{type(exc).__name__}: {exc}"
            ) from None


@contextmanager
def open_billing(
    args: argparse.Namespace, clock: Clock | None = None, *, handlers: bool = False
) -> Iterator[Billing]:
    """A :class:`Billing` on the configured back end, else :class:`OperatorConfigError`.

    It has the Stripe gateway when a key is configured; ``handlers`` also registers the
    webhook handlers of the installed plugins.
    """
    from compute_pricing.billing import Billing  # noqa: PLC0415 - keeps `--help` light

    config = _config(args)
    uri = args.uri or os.environ.get(URI_ENV_VAR)
    if not uri:
        raise OperatorConfigError(f"no MongoDB URI: pass --uri or set {URI_ENV_VAR}")
    db = args.db or os.environ.get(DB_ENV_VAR)
    clock = clock or SystemClock()
    opener = cast(Opener, _entry_point(BACKEND_GROUP, args.backend, "store back end"))
    gateway = _gateway(args)
    try:
        context = opener(uri=uri, db=db, clock=clock, timeout_s=args.timeout)
        with context as stores:
            billing = Billing(config, stores=stores, clock=clock, gateway=gateway)
            if handlers:
                _register_handlers(billing)
            yield billing
    except ConfigError as exc:
        raise OperatorConfigError(f"{exc.field}: {exc.reason}") from None
    except BillingError as exc:
        if exc.status == 503 and not isinstance(exc, PaymentProviderError):
            raise OperatorConfigError(exc.message) from None  # the store could not be reached
        raise


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    """``--config``, ``--uri``, ``--db``, ``--backend``, ``--timeout`` and ``--stripe-key``."""
    parser.add_argument("--config", help=f"billing.toml (default: ${CONFIG_ENV_VAR})")
    parser.add_argument("--uri", help=f"MongoDB connection URI (default: ${URI_ENV_VAR})")
    parser.add_argument("--db", help=f"database name (default: ${DB_ENV_VAR}, else the URI's)")
    parser.add_argument("--backend", default="mongo", help="store back end (default: mongo)")
    parser.add_argument(
        "--timeout", type=float, default=5.0, help="seconds to wait for the server (default 5)"
    )
    parser.add_argument(
        "--stripe-key",
        help=f"Stripe secret key, enables the Stripe checks (default: ${STRIPE_KEY_ENV_VAR})",
    )


# -- cron -------------------------------------------------------------------------------------


class _Progress:
    """Per-org progress on stderr when it is a terminal; test pause hook."""

    def __init__(self, job: str) -> None:
        self._job = job
        self._tty = sys.stderr.isatty()
        self._count = 0
        pause = os.environ.get(PAUSE_AFTER_ENV_VAR, "")
        self._pause_after = int(pause) if pause.isdigit() else None

    def __call__(self, org: str, outcome: str) -> None:
        self._count += 1
        if self._tty:
            sys.stderr.write(f"\r{self._job}: {self._count} orgs ({outcome}: {org})\x1b[K")
            sys.stderr.flush()
        if self._pause_after is not None and self._count == self._pause_after:
            sys.stderr.write(f"PAUSED after {self._count}\n")
            sys.stderr.flush()
            while True:  # pragma: no cover - the test kills the process here
                time.sleep(60)

    def close(self) -> None:
        if self._tty and self._count:
            sys.stderr.write("\n")


def _cron(args: argparse.Namespace) -> int:
    if args.jitter_seconds < 0:
        return fail("--jitter-seconds must be >= 0")
    if args.lock_ttl < 1:
        return fail("--lock-ttl must be >= 1")
    if args.jitter_seconds:
        jitter_sleep(random.uniform(0, args.jitter_seconds))  # noqa: S311 - not cryptographic
    progress = _Progress(args.job)
    try:
        with open_billing(args) as billing:
            summary = run_job(
                billing,
                args.job,
                dry_run=args.dry_run,
                lock_ttl_seconds=args.lock_ttl,
                on_org=progress,
            )
    except OperatorConfigError as exc:
        return fail(str(exc))
    except BillingError as exc:  # the lease or cursor store failed: not one org's problem
        return fail(f"{exc.code}: {exc.message}")
    finally:
        progress.close()
    sys.stdout.write(json.dumps(summary.to_dict(), sort_keys=False) + "\n")
    return summary.exit_code


def _register_cron(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cron = subparsers.add_parser(
        "cron",
        help="run a scheduled job once (weekly reset, extras expiry, dunning, reconcile)",
        description=(
            "Run one job once, under the store's lease lock, resuming an unfinished run. "
            "Prints one JSON summary line; exit 0 all done, 1 some orgs failed, 2 a "
            "configuration or connection error."
        ),
    )
    jobs = cron.add_subparsers(title="jobs", metavar="JOB", required=True)
    helps = {
        "weekly-reset": "close ended weeks and open the next (settles overflow debt)",
        "extras-expiration": "expire extras lots past their expiry date",
        "dunning-sweep": "move orgs past due longer than dunning_days to unpaid",
        "reconcile": "check every snapshot against its journal (read-only)",
    }
    for job in JOBS:
        parser = jobs.add_parser(job, help=helps[job], description=helps[job])
        add_connection_options(parser)
        parser.add_argument(
            "--dry-run", action="store_true", help="count what would be done; write nothing"
        )
        parser.add_argument(
            "--jitter-seconds",
            type=float,
            default=0.0,
            help="sleep a random 0..N seconds before starting (default 0)",
        )
        parser.add_argument(
            "--lock-ttl",
            type=int,
            default=DEFAULT_LOCK_TTL_SECONDS,
            help=f"lease seconds, above the longest run (default {DEFAULT_LOCK_TTL_SECONDS})",
        )
        parser.set_defaults(func=_cron, job=job)


# -- admin ------------------------------------------------------------------------------------


def _admin_show(args: argparse.Namespace) -> int:
    try:
        with open_billing(args) as billing:
            view = billing.admin.show(args.org, entries=args.entries)
    except OperatorConfigError as exc:
        return fail(str(exc))
    sys.stdout.write(json.dumps(view, indent=2) + "\n")
    return 0


def _admin_adjust(args: argparse.Namespace) -> int:
    try:
        with open_billing(args) as billing:
            result = billing.admin.adjust(args.org, args.units, args.reason, args.ref)
    except OperatorConfigError as exc:
        return fail(str(exc))
    body: dict[str, Any] = {
        "org": args.org,
        "units": result.units,
        "balance": result.balance,
        "ref": args.ref,
        "replayed": result.replayed,
    }
    sys.stdout.write(json.dumps(body) + "\n")
    return 0


def _register_admin(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    admin = subparsers.add_parser("admin", help="show an org or adjust its extras")
    commands = admin.add_subparsers(title="admin commands", metavar="COMMAND", required=True)
    show = commands.add_parser("show", help="usage, balance, lots and last journal entries")
    show.add_argument("org")
    show.add_argument("--entries", type=int, default=10, help="journal entries (default 10)")
    add_connection_options(show)
    show.set_defaults(func=_admin_show)
    adjust = commands.add_parser(
        "adjust", help="credit (or, negative, debit) extras units once per --ref"
    )
    adjust.add_argument("org")
    adjust.add_argument("units", type=int, help="signed whole units")
    adjust.add_argument("--reason", required=True, help="why (logged with the adjustment)")
    adjust.add_argument("--ref", required=True, help="idempotency reference (a ticket id)")
    add_connection_options(adjust)
    adjust.set_defaults(func=_admin_adjust)


# -- config check -----------------------------------------------------------------------------


def _config_check(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.file)
    except OperatorConfigError as exc:
        return fail(str(exc))
    sys.stdout.write(
        f"{args.file}: ok ({len(config.plans)} plan(s), {len(config.packs)} pack(s), "
        f"compute_mode={'on' if config.compute_mode else 'off'})\n"
    )
    return 0


def _register_config(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    config = subparsers.add_parser("config", help="configuration file tools")
    commands = config.add_subparsers(title="config commands", metavar="COMMAND", required=True)
    check = commands.add_parser(
        "check", help="validate a billing.toml: exit 0 when good, 2 naming the bad field or line"
    )
    check.add_argument("file")
    check.set_defaults(func=_config_check)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``cron``, ``admin``, ``webhooks`` and ``config`` to the ``compute-pricing`` parser."""
    from compute_pricing import webhookcli  # noqa: PLC0415 - it imports this module

    _register_cron(subparsers)
    _register_admin(subparsers)
    webhookcli.register(subparsers)
    _register_config(subparsers)
