"""``compute-pricing webhooks``: list, replay and purge dead-lettered Stripe events.

- ``dead-letters [--limit N]`` prints one JSON line per dead letter, oldest first (event id,
  type, attempts, last error...); exit 0.
- ``replay EVENT_ID --payload FILE`` runs the event once more through
  ``billing.webhooks.replay`` from its JSON (``-`` reads stdin) and prints its outcome as one
  JSON line. Exit 0 when the handler ran (``applied`` or ``stale``) or the event was already
  done (``duplicate``); exit 1 when it failed again (``dead_lettered``, or ``failed`` with the
  error) or when no handler for its type is registered in this process (``ignored``: the dead
  letter is left as it was). Handlers come from the ``compute_pricing.webhook_handlers``
  plugins (see :mod:`compute_pricing.opscli`).
- ``purge EVENT_ID`` forgets the event's record; exit 0 when there was one, 1 when not.

Configuration as for the cron commands; exit 2 on a configuration or connection error and on
a payload that cannot be read or is not the event named.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from compute_pricing.errors import WebhookError, WebhookHandlerError
from compute_pricing.opscli import OperatorConfigError, add_connection_options, fail, open_billing

__all__ = ["DONE_RESULTS", "register"]

#: Replay results after which nothing is left to do (exit 0).
DONE_RESULTS = frozenset({"applied", "duplicate", "stale"})


def _line(body: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(body) + "\n")


def _dead_letters(args: argparse.Namespace) -> int:
    if args.limit < 1:
        return fail("--limit must be >= 1")
    try:
        with open_billing(args) as billing:
            records = billing.webhooks.dead_letters(limit=args.limit)
    except OperatorConfigError as exc:
        return fail(str(exc))
    for record in records:
        _line(record.to_dict())
    return 0


def _payload(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise OperatorConfigError(f"{path}: {exc.strerror or exc}") from None


def _replay(args: argparse.Namespace) -> int:
    try:
        payload = _payload(args.payload)
        with open_billing(args, handlers=True) as billing:
            try:
                outcome = billing.webhooks.replay(args.event_id, payload)
            except WebhookHandlerError as exc:  # failed again, short of the attempt limit
                _line(
                    {
                        "event_id": args.event_id,
                        "result": "failed",
                        "attempts": exc.attempts,
                        "error": exc.reason,
                    }
                )
                return 1
            body: dict[str, Any] = outcome.to_dict()
            if outcome.result == "dead_lettered":
                record = billing.stores.processed_events.get(args.event_id)
                body["error"] = record.last_error if record is not None else ""
    except WebhookError as exc:
        return fail(f"payload: {exc.message}")
    except OperatorConfigError as exc:
        return fail(str(exc))
    _line(body)
    if outcome.result == "ignored":
        sys.stderr.write(
            f"no webhook handler for {outcome.event_type!r} is registered in this process; "
            "the dead letter is unchanged\n"
        )
    return 0 if outcome.result in DONE_RESULTS else 1


def _purge(args: argparse.Namespace) -> int:
    try:
        with open_billing(args) as billing:
            purged = billing.webhooks.purge(args.event_id)
    except OperatorConfigError as exc:
        return fail(str(exc))
    _line({"event_id": args.event_id, "purged": purged})
    return 0 if purged else 1


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``webhooks dead-letters|replay|purge`` to the ``compute-pricing`` parser."""
    webhooks = subparsers.add_parser(
        "webhooks", help="list, replay or purge dead-lettered Stripe webhook events"
    )
    commands = webhooks.add_subparsers(title="webhook commands", metavar="COMMAND", required=True)
    listing = commands.add_parser(
        "dead-letters", help="one JSON line per dead letter, oldest first"
    )
    listing.add_argument("--limit", type=int, default=100, help="at most N (default 100)")
    add_connection_options(listing)
    listing.set_defaults(func=_dead_letters)
    replay = commands.add_parser(
        "replay", help="run a dead letter once more from its event JSON (exit 0 done, 1 not)"
    )
    replay.add_argument("event_id", metavar="EVENT_ID")
    replay.add_argument(
        "--payload", required=True, help="the event's JSON as Stripe sent it (- for stdin)"
    )
    add_connection_options(replay)
    replay.set_defaults(func=_replay)
    purge = commands.add_parser("purge", help="forget an event's record (a resolved dead letter)")
    purge.add_argument("event_id", metavar="EVENT_ID")
    add_connection_options(purge)
    purge.set_defaults(func=_purge)
