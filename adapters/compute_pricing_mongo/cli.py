"""``compute-pricing migrate`` and the Mongo back end of the operator commands.

:func:`open_stores` is the ``mongo`` entry point of ``compute_pricing.backends``: the core's
``cron`` and ``admin`` commands open their stores through it, so the core imports no driver.

Registered through the entry-point group ``compute_pricing.commands``
(``migrate = "compute_pricing_mongo.cli:register"``). This is the one place of the adapter that
reads a URI or the environment: the URI comes from ``--uri`` or ``COMPUTE_PRICING_MONGODB_URI``,
the database from ``--db`` (else the URI's default database). pymongo is imported only when
the command runs, so the core CLI still starts where the ``mongo`` extra is not installed.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from compute_pricing.errors import ConfigError
from compute_pricing.ports import Clock

if TYPE_CHECKING:
    from compute_pricing_mongo.stores import MongoStores

__all__ = ["DB_ENV_VAR", "URI_ENV_VAR", "migrate", "open_stores", "register"]

URI_ENV_VAR = "COMPUTE_PRICING_MONGODB_URI"
"""Environment variable holding the MongoDB URI when ``--uri`` is not given."""
DB_ENV_VAR = "COMPUTE_PRICING_MONGODB_DB"
"""Environment variable holding the database name when ``--db`` is not given."""

_USAGE_ERROR = 2


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``migrate`` subcommand (entry point of ``compute_pricing.commands``)."""
    parser = subparsers.add_parser(
        "migrate",
        help="apply the pending MongoDB migrations (indexes, legacy documents)",
        description=(
            "Apply, in order, every MongoDB migration not yet recorded in the 'migrations' "
            "collection. Migrations are additive and idempotent: a second run changes nothing."
        ),
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print what would change; write nothing"
    )
    parser.add_argument("--uri", help=f"MongoDB connection URI (default: ${URI_ENV_VAR})")
    parser.add_argument("--db", help="database name (default: the URI's database)")
    parser.add_argument(
        "--timeout", type=float, default=10.0, help="seconds to wait for the server (default 10)"
    )
    parser.set_defaults(func=migrate)


def _write(line: str) -> None:
    sys.stdout.write(line + "\n")


def migrate(args: argparse.Namespace) -> int:
    """Run (or, with ``--dry-run``, plan) the migrations; return the exit code."""
    uri = args.uri or os.environ.get(URI_ENV_VAR)
    if not uri:
        sys.stderr.write(f"error: no MongoDB URI: pass --uri or set {URI_ENV_VAR}\n")
        return _USAGE_ERROR
    try:
        from pymongo import MongoClient  # noqa: PLC0415 - only this command needs pymongo
    except ImportError:
        sys.stderr.write("error: pymongo is missing: pip install 'compute-pricing[mongo]'\n")
        return _USAGE_ERROR
    from compute_pricing_mongo.errors import translated  # noqa: PLC0415 - imports pymongo
    from compute_pricing_mongo.migrations import MigrationRunner  # noqa: PLC0415 - idem

    with translated("connect"):
        client: MongoClient[dict[str, Any]] = MongoClient(
            uri, tz_aware=True, serverSelectionTimeoutMS=int(args.timeout * 1000)
        )
    try:
        if args.db:
            db = client[args.db]
        else:
            with translated("choose the database"):
                db = client.get_default_database()
        runner = MigrationRunner(db)
        reports = runner.plan() if args.dry_run else runner.run()
        if args.dry_run:
            _write(
                f"dry run on database {db.name!r}: {len(reports)} pending migration(s), "
                "nothing written"
            )
        elif reports:
            _write(f"database {db.name!r}: applied {len(reports)} migration(s)")
        if not reports:
            _write(f"database {db.name!r}: nothing to do, every migration is applied")
        for report in reports:
            for line in report.lines():
                _write(line)
        return 0
    finally:
        client.close()


@contextmanager
def open_stores(
    *, uri: str, db: str | None, clock: Clock, timeout_s: float = 5.0
) -> Iterator[MongoStores]:
    """``MongoStores`` on ``uri`` (entry point ``mongo`` of ``compute_pricing.backends``).

    Pings the server first, waiting at most ``timeout_s``: a bad URI raises
    :class:`~compute_pricing.errors.ConfigError` (field ``uri`` or ``db``), an unreachable
    server :class:`~compute_pricing_mongo.errors.MongoUnavailableError` with one short line
    naming the hosts (never the credentials, never the driver's topology description).
    Indexes are left to ``compute-pricing migrate``. The client is closed on exit.
    """
    try:
        from pymongo import MongoClient, uri_parser  # noqa: PLC0415 - only commands need it
        from pymongo.errors import ConfigurationError, PyMongoError  # noqa: PLC0415 - idem
    except ImportError:
        raise ConfigError(
            "uri", "pymongo is missing: pip install 'compute-pricing[mongo]'"
        ) from None
    from compute_pricing_mongo.errors import MongoUnavailableError  # noqa: PLC0415 - idem
    from compute_pricing_mongo.stores import MongoStores  # noqa: PLC0415 - idem

    try:
        hosts = ", ".join(f"{host}:{port}" for host, port in uri_parser.parse_uri(uri)["nodelist"])
    except (PyMongoError, ValueError) as exc:
        raise ConfigError("uri", f"not a MongoDB URI ({type(exc).__name__})") from None
    timeout_ms = max(1, int(timeout_s * 1000))
    client: MongoClient[dict[str, Any]] = MongoClient(
        uri,
        tz_aware=True,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        socketTimeoutMS=max(timeout_ms, 30_000),
    )
    try:
        try:
            client.admin.command("ping")
        except PyMongoError:
            raise MongoUnavailableError(
                "connect", f"no MongoDB server answered at {hosts} within {timeout_s:g}s"
            ) from None
        if db:
            database = client[db]
        else:
            try:
                database = client.get_default_database()
            except ConfigurationError:
                raise ConfigError(
                    "db", f"the URI names no database: pass --db or set {DB_ENV_VAR}"
                ) from None
        yield MongoStores(database, clock=clock, ensure_indexes=False)
    finally:
        client.close()
