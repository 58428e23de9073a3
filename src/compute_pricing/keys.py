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

import hashlib

__all__ = ["PROVIDER_KEY_MAX", "journal_key", "key_part", "provider_key"]


def key_part(value: str) -> str:
    """``value`` escaped for use as one part of a key (no raw ``:`` remains)."""
    if "%" not in value and ":" not in value:
        return value
    return value.replace("%", "%25").replace(":", "%3A")


def journal_key(namespace: str, *parts: str) -> str:
    """The key ``<namespace>:<escaped part>:...`` of one operation on one identity."""
    return ":".join((namespace, *map(key_part, parts)))


#: Longest idempotency key a payment provider takes (Stripe: 255 characters).
PROVIDER_KEY_MAX = 255


def provider_key(kind: str, *parts: str) -> str:
    """The idempotency key of one outbound payment-provider call: ``<kind>_<sha256 hex>``.

    The digest is taken of :func:`journal_key` ``(kind, *parts)``, so parts stay apart however
    they are spelled (``("a_b", "c")`` and ``("a", "b_c")`` never meet, as they would joined
    by ``_``), and the key is ``len(kind) + 65`` characters whatever the ids' lengths: far
    under :data:`PROVIDER_KEY_MAX` even for a 128-character org and a 200-character ref.
    """
    digest = hashlib.sha256(journal_key(kind, *parts).encode()).hexdigest()
    return f"{kind}_{digest}"
