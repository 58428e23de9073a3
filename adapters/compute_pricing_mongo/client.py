"""Recommended ``MongoClient`` settings for production: deadlines, durability, primary reads.

The adapters take a ready database and never build a client; :func:`client_options` is what
the documentation recommends passing to the client you build::

    client = MongoClient(uri, **client_options(timeout_ms=5_000))

- ``timeoutMS``: a client-side deadline on every operation (server selection, connection
  checkout, the round trip, and the retry of a retryable write included). A hung or
  unreachable server then fails the call within about that time, as
  :class:`~compute_pricing_mongo.errors.MongoUnavailableError` (HTTP 503), instead of blocking
  the caller. ``pymongo.timeout(seconds)`` narrows it for one block of calls.
- ``w="majority"`` and ``journal=True``: a journal entry is acknowledged only once a majority
  has it on disk, so a failover cannot roll back a charge the caller was told about.
- ``readPreference="primary"``: the commit loop reads its own writes.
- ``retryWrites`` / ``retryReads``: one transparent retry on a network error or a step-down;
  safe because every write is a single-document insert or compare-and-set.
- ``tz_aware=True``: datetimes come back aware (the adapters normalise them either way).
"""

from __future__ import annotations

from typing import Any

__all__ = ["DEFAULT_TIMEOUT_MS", "client_options"]

DEFAULT_TIMEOUT_MS = 5_000
"""Default client-side operation deadline: well above a healthy commit (a few ms), well below
an HTTP client's patience."""


def client_options(*, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> dict[str, Any]:
    """Keyword arguments for ``pymongo.MongoClient`` (see the module docstring)."""
    if isinstance(timeout_ms, bool) or not isinstance(timeout_ms, int) or timeout_ms <= 0:
        raise ValueError(f"timeout_ms must be a positive whole number of ms, got {timeout_ms!r}")
    return {
        "timeoutMS": timeout_ms,
        "w": "majority",
        "journal": True,
        "readPreference": "primary",
        "retryWrites": True,
        "retryReads": True,
        "tz_aware": True,
    }
