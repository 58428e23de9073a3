"""The HTTP bodies as pydantic models: request bodies and queries are validated with them
(strictly: no string-to-number coercion, unknown fields refused), response models document
what each route answers, for the OpenAPI schema the FastAPI adapter publishes.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from compute_pricing.extras import MAX_LEDGER_LIMIT

__all__ = [
    "MAX_PAGE",
    "BalanceBody",
    "CheckoutBody",
    "ComputeUsageBody",
    "ErrorBody",
    "ExtrasCheckoutBody",
    "LedgerEntryBody",
    "LedgerPageBody",
    "LedgerQuery",
    "LegacyUsageBody",
    "OrgQuery",
]

#: Highest ledger page a query may ask for (a million pages of 100 lines).
MAX_PAGE = 1_000_000

ORG_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"
REF_PATTERN = r"^[A-Za-z0-9_.:@/-]{1,200}$"
PACK_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
_DIGITS = re.compile(r"[0-9]{1,7}")


def _query_int(value: object) -> object:
    """Query strings carry digits; turn plain digits into an int and leave the rest to fail."""
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        return int(value)
    return value


QueryInt = Annotated[int, BeforeValidator(_query_int)]
Url = Annotated[str, Field(min_length=1, max_length=2048)]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class OrgQuery(_Strict):
    """``?org=``: only a billing admin may name an org other than their own."""

    org: Annotated[str, Field(pattern=ORG_PATTERN)] | None = None


class LedgerQuery(OrgQuery):
    """``?page&limit`` of the ledger: page from 1, 1 to 100 lines a page."""

    page: Annotated[QueryInt, Field(ge=1, le=MAX_PAGE)] = 1
    limit: Annotated[QueryInt, Field(ge=1, le=MAX_LEDGER_LIMIT)] = 20


class CheckoutBody(_Strict):
    """``POST /billing/checkout``: a subscription checkout for a Stripe price."""

    price_id: Annotated[str, Field(pattern=REF_PATTERN)]
    success_url: Url
    cancel_url: Url


class ExtrasCheckoutBody(_Strict):
    """``POST /billing/extras/checkout``: a one-off checkout for an extras pack."""

    pack_id: Annotated[str, Field(pattern=PACK_PATTERN)]
    success_url: Url
    cancel_url: Url


class ErrorBody(BaseModel):
    """Every error response: a stable ``code``, a human ``message``, the error's data."""

    code: str
    message: str
    details: dict[str, Any]


class ComputeUsageBody(BaseModel):
    """``GET /billing/usage`` in compute mode."""

    plan: str
    plan_version: int
    week_key: str
    week_reset_at: str
    compute_used: int
    compute_quota: int
    compute_breakdown: dict[str, int]
    extras_remaining: int
    packs_available: list[str]


class LegacyUsageBody(BaseModel):
    """``GET /billing/usage`` in legacy mode (``null`` limit: unlimited)."""

    plan: str
    period: str
    usage: dict[str, int]
    limits: dict[str, int | None]


class BalanceBody(BaseModel):
    """``GET /billing/extras/balance``: ledger sum, spendable part, debt (units)."""

    balance: int
    spendable: int
    debt: int


class LedgerEntryBody(BaseModel):
    """One ledger line."""

    kind: str
    units: int
    ref: str | None
    at: str
    lot_id: str | None
    draws: list[list[Any]]


class LedgerPageBody(BaseModel):
    """``GET /billing/extras/ledger``: one page, newest first."""

    entries: list[LedgerEntryBody]
    page: int
    limit: int
    total: int
    balance: int
