"""``compute-pricing migrate``: the MongoDB migrations as a subcommand of the core CLI.

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
from typing import Any

__all__ = ["URI_ENV_VAR", "migrate", "register"]

URI_ENV_VAR = "COMPUTE_PRICING_MONGODB_URI"
"""Environment variable holding the MongoDB URI when ``--uri`` is not given."""

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
