"""Checks on identifiers that arrive from callers, done before anything is read or written."""

from __future__ import annotations

import re

from compute_pricing.errors import (
    InvalidAmountError,
    InvalidInputError,
    InvalidNameError,
    OrganizationRequiredError,
)

__all__ = [
    "MAX_REASON_LENGTH",
    "MAX_UNITS",
    "require_org",
    "require_units",
    "validate_reason",
    "validate_ref",
]

#: Longest accepted adjustment reason, in characters.
MAX_REASON_LENGTH = 500

#: Largest unit count or amount one call may carry. Far above any real pack or run, and small
#: enough that sums of many stay inside a 64-bit integer (what MongoDB stores).
MAX_UNITS = 10**12

_ORG = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
_REF = re.compile(r"[A-Za-z0-9_.:@/-]{1,200}")


def require_org(org: object) -> str:
    """The org id; :class:`OrganizationRequiredError` if missing, ``InvalidNameError`` if odd."""
    if org is None or org == "":
        raise OrganizationRequiredError
    if not isinstance(org, str) or not _ORG.fullmatch(org):
        raise InvalidNameError("org", org, "must match ^[A-Za-z0-9_.:-]{1,128}$")
    return org


def validate_ref(field: str, value: object) -> str:
    """An external reference (Stripe id, ref id): 1-200 safe characters."""
    if not isinstance(value, str) or not _REF.fullmatch(value):
        raise InvalidNameError(field, value, "must match ^[A-Za-z0-9_.:@/-]{1,200}$")
    return value


def require_units(
    field: str, value: object, *, signed: bool = False, maximum: int = MAX_UNITS
) -> int:
    """A whole number in ``1..maximum`` (``signed``: non-zero, ``|value| <= maximum``)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidAmountError(field, value, "must be a whole number")
    low = -maximum if signed else 1
    if not low <= value <= maximum or value == 0:
        allowed = f"{low}..{maximum}" + (" except 0" if signed else "")
        raise InvalidAmountError(field, value, f"must be in {allowed}")
    return value


def validate_reason(value: object) -> str:
    """A free-text reason: a non-blank string of at most :data:`MAX_REASON_LENGTH` characters."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError("reason", value, "must be a non-empty string")
    if len(value) > MAX_REASON_LENGTH:
        raise InvalidInputError(
            "reason", value[:40], f"must be at most {MAX_REASON_LENGTH} characters"
        )
    return value
