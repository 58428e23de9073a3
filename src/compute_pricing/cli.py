"""The ``compute-pricing`` console script: ``demo``, the operator commands, plugin commands.

The operator commands (``cron``, ``admin``, ``config check``) live in
:mod:`compute_pricing.opscli`.

Plugins register through the entry-point group ``compute_pricing.commands``: each entry point
loads a callable ``register(subparsers) -> None`` that adds its subparser and sets
``func=callable(args) -> int`` as its default (the Mongo adapter adds ``migrate`` this way).
Entry points are discovered when :func:`main` runs, never at import, and only through
:mod:`importlib.metadata`, so the core imports no adapter. A plugin that fails to load or to
register is reported on stderr and skipped; the built-in commands keep working.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from importlib import metadata
from typing import cast

from compute_pricing import __version__, demo, opscli
from compute_pricing.errors import BillingError

__all__ = ["ENTRY_POINT_GROUP", "build_parser", "load_plugins", "main"]

#: Entry-point group plugins use to add subcommands.
ENTRY_POINT_GROUP = "compute_pricing.commands"

Handler = Callable[[argparse.Namespace], int]


def _demo(args: argparse.Namespace) -> int:
    """Run the demo scenarios."""
    return demo.main(args.mode)


def load_plugins(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> list[str]:
    """Let every ``compute_pricing.commands`` entry point register; return the names loaded.

    Each entry point is loaded and called in isolation: any exception is reported on stderr
    as a warning naming the entry point, and the others still load.
    """
    loaded: list[str] = []
    seen: set[str] = set()
    try:
        entry_points = sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name)
    except Exception as exc:  # broken package metadata must not break the CLI
        print(f"warning: could not list {ENTRY_POINT_GROUP} plugins: {exc}", file=sys.stderr)
        return loaded
    for entry_point in entry_points:
        if entry_point.name in seen:  # the same distribution found twice on sys.path
            continue
        seen.add(entry_point.name)
        try:
            register = entry_point.load()
            register(subparsers)
        except Exception as exc:  # a plugin must never break the built-ins
            print(
                f"warning: plugin {entry_point.name!r} ({entry_point.value}) failed to load: "
                f"{type(exc).__name__}: {exc}",
                file=sys.stderr,
            )
            continue
        loaded.append(entry_point.name)
    return loaded


def build_parser(*, plugins: bool = True) -> argparse.ArgumentParser:
    """The argument parser: ``--version``, ``demo``, and (if ``plugins``) plugin commands."""
    parser = argparse.ArgumentParser(
        prog="compute-pricing",
        description="Usage-based compute pricing over Stripe: demo and maintenance commands.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    demo_parser = subparsers.add_parser(
        "demo",
        help="run the simulated legacy month and compute week on the in-memory back end",
        description="Simulated scenarios on Billing.in_memory with a FakeClock (deterministic).",
    )
    demo_parser.add_argument(
        "--mode",
        choices=("compute", "legacy", "both"),
        default="both",
        help="which scenario to run (default: both)",
    )
    demo_parser.set_defaults(func=_demo)
    opscli.register(subparsers)
    if plugins:
        load_plugins(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``compute-pricing``; returns the process exit code.

    ``0`` on success, ``1`` when a command raised a :class:`BillingError` (printed on stderr),
    ``2`` for usage errors (argparse) or when no command is given.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors exit through argparse
        return exc.code if isinstance(exc.code, int) else 2
    func = cast("Handler | None", getattr(args, "func", None))
    if func is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(func(args))
    except BillingError as exc:
        print(f"error: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
