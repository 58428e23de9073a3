"""Idempotency keys: one namespace per operation kind, parts that no caller can forge.

Every journal entry is stored under a key ``<namespace>:<part>[:<part>...]``. The namespace is a
fixed word chosen by the library for each operation kind (``attr``, ``pack``, ``stripe``...);
each part is a caller- or Stripe-supplied identity, escaped so that it can never contain a raw
``:`` (``%`` becomes ``%25`` and ``:`` becomes ``%3A``). The escape is injective, so two keys are
equal only if they have the same namespace and the same parts: ``("run_1:review", "initial")``
and ``("run_1", "review:initial")`` can no longer meet, and no run id can spell another
operation's key.
"""

from __future__ import annotations

__all__ = ["journal_key", "key_part"]


def key_part(value: str) -> str:
    """``value`` escaped for use as one part of a key (no raw ``:`` remains)."""
    if "%" not in value and ":" not in value:
        return value
    return value.replace("%", "%25").replace(":", "%3A")


def journal_key(namespace: str, *parts: str) -> str:
    """The key ``<namespace>:<escaped part>:...`` of one operation on one identity."""
    return ":".join((namespace, *map(key_part, parts)))
