"""Checks on identifiers that arrive from callers, done before anything is read or written."""

from __future__ import annotations

import re

from compute_pricing.errors import InvalidNameError, OrganizationRequiredError

__all__ = ["require_org", "validate_ref"]

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
