"""Stripe webhook signatures: Stripe's documented ``Stripe-Signature`` scheme, checked purely.

The header is a comma-separated list of ``key=value`` items: exactly one ``t=`` (the Unix time
Stripe signed at) and one or more ``v1=`` signatures (one per active signing secret of the
endpoint). Other schemes (``v0=``, test items) are ignored. A delivery verifies when one ``v1``
signature equals the HMAC-SHA256, keyed by one configured secret, of ``f"{t}.".encode() + body``
(compared in constant time), and ``t`` is within the tolerance of the library's clock in either
direction. Every failure raises :class:`~compute_pricing.errors.WebhookSignatureError`, and
nothing else: the checks are total over any header string.
"""

from __future__ import annotations

import hashlib
import hmac
import string
from collections.abc import Sequence
from datetime import datetime

import attrs

from compute_pricing.errors import WebhookSignatureError

__all__ = ["SignatureHeader", "parse_signature_header", "sign", "verify_signature"]

#: The only scheme Stripe signs live events with.
SCHEME = "v1"
_HEX = frozenset(string.hexdigits.lower())
_SIGNATURE_LENGTH = 64  # hex characters of a SHA-256 digest
_MAX_TIMESTAMP_DIGITS = 12  # Unix seconds up to the year 9999


@attrs.frozen
class SignatureHeader:
    """A parsed ``Stripe-Signature`` header: the signing time and every ``v1`` signature."""

    timestamp: int
    signatures: tuple[str, ...]


def parse_signature_header(header: str) -> SignatureHeader:
    """Split ``header`` into its one ``t=`` and its ``v1=`` items; refuse anything else odd."""
    if not isinstance(header, str) or not header.strip():
        raise WebhookSignatureError("missing Stripe-Signature header")
    timestamps: list[str] = []
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            timestamps.append(value.strip())
        elif key == SCHEME:
            signatures.append(value.strip())
    if len(timestamps) != 1:
        raise WebhookSignatureError("header must carry exactly one t= timestamp")
    stamp = timestamps[0]
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= _MAX_TIMESTAMP_DIGITS):
        raise WebhookSignatureError("t= is not a Unix timestamp")
    if not signatures:
        raise WebhookSignatureError("no v1 signature in header")
    return SignatureHeader(int(stamp), tuple(signatures))


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    """The hex ``v1`` signature of ``payload`` at ``timestamp`` under ``secret``."""
    signed = f"{timestamp}.".encode() + payload
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def _well_formed(signature: str) -> bool:
    return len(signature) == _SIGNATURE_LENGTH and set(signature) <= _HEX


def verify_signature(
    payload: bytes,
    header: str,
    *,
    secrets: Sequence[str],
    tolerance_seconds: int,
    now: datetime,
) -> SignatureHeader:
    """Verify ``header`` over the raw ``payload`` bytes; return it parsed, else raise.

    Any configured secret may match (several are listed during a rotation). The timestamp must
    be at most ``tolerance_seconds`` older or newer than ``now``.
    """
    if not secrets:
        raise WebhookSignatureError("no webhook signing secret is configured")
    if not isinstance(payload, bytes | bytearray):
        raise WebhookSignatureError("payload must be the raw request body bytes")
    parsed = parse_signature_header(header)
    candidates = [item for item in parsed.signatures if _well_formed(item)]
    expected = [sign(bytes(payload), secret, parsed.timestamp) for secret in secrets]
    # Compare every pair, so the time taken says nothing about which secret or signature matched.
    matches = [hmac.compare_digest(want, got) for want in expected for got in candidates]
    if not any(matches):
        raise WebhookSignatureError("no signature matches the payload and a configured secret")
    age = now.timestamp() - parsed.timestamp
    if age > tolerance_seconds:
        raise WebhookSignatureError(f"timestamp older than the {tolerance_seconds} s tolerance")
    if -age > tolerance_seconds:
        raise WebhookSignatureError(f"timestamp newer than the {tolerance_seconds} s tolerance")
    return parsed
