"""The one validated configuration object, :class:`BillingConfig` (docs/rules.md, "Config").

Validation is strict: a value must already have its type (``"9.00"`` is not a number, ``"yes"``
is not a bool), exactly what TOML produces natively (integers, floats, strings, booleans,
datetimes, arrays for tuples). Every amount and day count has an upper bound matching what
storage can hold. Invalid values fail at start, on every construction path
(``BillingConfig(...)``, :meth:`BillingConfig.from_dict`, :meth:`BillingConfig.from_toml`), with
a :class:`~compute_pricing.errors.ConfigError` whose ``field`` is the dotted path of the bad
value (``plans.1.compute_quota``); a TOML syntax error names its line and column. The config
writes back with :meth:`BillingConfig.to_toml_dict`, which round-trips (and is the one place
the webhook signing secret is written out in clear).
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Self
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from compute_pricing.errors import ConfigError
from compute_pricing.state import BREAKDOWN_CEILING
from compute_pricing.validation import MAX_UNITS

__all__ = [
    "CATEGORY_PATTERN",
    "MAX_DAYS",
    "AlertSettings",
    "BillingConfig",
    "ComputeSettings",
    "PackSettings",
    "PlanSettings",
    "StripeSettings",
]

_ID = r"^[A-Za-z0-9_.-]{1,64}$"
_ORG = r"^[A-Za-z0-9_.:-]{1,128}$"
_PRICE = r"^[A-Za-z0-9_.:-]{1,200}$"
#: Cost category names: a run's ``costs`` keys and a plan's ``ratios`` keys (1-64 characters).
CATEGORY_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
_COUNTER = re.compile(r"^[a-z][a-z0-9_-]{0,63}\.[a-z][a-z0-9_-]{0,63}$")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_TOML_POSITION = re.compile(r"line (\d+), column (\d+)")
#: Largest day count (about 100 years): ``now + timedelta(days=MAX_DAYS)`` stays a ``datetime``.
MAX_DAYS = 36_500
_MAX_TTL_SECONDS = 366 * 24 * 3600


def _as_tuple(value: object) -> object:
    """TOML arrays load as lists; the config holds tuples."""
    return tuple(value) if isinstance(value, list) else value


_Units = Annotated[int, Field(ge=0, le=MAX_UNITS)]
_PositiveUnits = Annotated[int, Field(gt=0, le=MAX_UNITS)]
_Days = Annotated[int, Field(gt=0, le=MAX_DAYS)]
_Category = Annotated[str, Field(pattern=CATEGORY_PATTERN)]


_LISTED = BeforeValidator(_as_tuple)
_Percents = Annotated[
    tuple[Annotated[int, Field(gt=0, le=1000)], ...], _LISTED, Field(max_length=16)
]
_Hosts = Annotated[
    tuple[Annotated[str, Field(max_length=253)], ...], _LISTED, Field(max_length=256)
]
_Orgs = Annotated[
    tuple[Annotated[str, Field(pattern=_ORG)], ...], _LISTED, Field(max_length=10_000)
]


_DEPTH: ContextVar[int] = ContextVar("compute_pricing_config_depth", default=0)


def _dotted(loc: tuple[int | str, ...]) -> str:
    # union members add their schema name to the location ("tuple[...]"); they are no field
    parts = [str(part) for part in loc if not (isinstance(part, str) and "[" in part)]
    return ".".join(parts) or "config"


def _config_error(exc: ValidationError) -> ConfigError:
    error = exc.errors()[0]
    return ConfigError(_dotted(error["loc"]), error["msg"].removeprefix("Value error, "))


class _Settings(BaseModel):
    """Strict, frozen, closed: every direct construction raises ``ConfigError`` too."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    def __init__(self, **data: Any) -> None:
        # nested settings are built through __init__ too: only the outermost one translates,
        # so the error keeps its full dotted path
        depth = _DEPTH.set(_DEPTH.get() + 1)
        try:
            super().__init__(**data)
        except ValidationError as exc:
            if _DEPTH.get() > 1:
                raise
            raise _config_error(exc) from None
        finally:
            _DEPTH.reset(depth)


class ComputeSettings(_Settings):
    """Attribution knobs: base units, dollars-to-units, per-run cap, category bounds.

    ``max_categories_per_run`` refuses a run step with more cost categories;
    ``max_breakdown_categories`` bounds a week's stored breakdown (later categories are counted
    under ``other``; charges are unaffected).
    """

    run_base_units: _Units = 1
    dollars_to_compute: _PositiveUnits = 1000
    max_compute_per_run: _PositiveUnits = 10_000
    max_categories_per_run: Annotated[int, Field(gt=0, le=BREAKDOWN_CEILING)] = 32
    max_breakdown_categories: Annotated[int, Field(gt=0, le=BREAKDOWN_CEILING)] = 64


class AlertSettings(_Settings):
    """Usage thresholds, in percent of the weekly quota, each firing once a week."""

    threshold_percents: _Percents = (80, 100)

    @field_validator("threshold_percents")
    @classmethod
    def _sorted_unique(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(sorted(set(value)))


class StripeSettings(_Settings):
    """Stripe options the library controls.

    ``webhook_secret`` is one signing secret or several (during a rotation every listed secret
    verifies); it is a ``SecretStr``, so it never appears in a repr or a log.
    ``automatic_tax`` asks Stripe Tax to compute tax on every checkout (off by default).
    """

    automatic_tax: bool = False
    webhook_secret: Annotated[
        SecretStr | tuple[SecretStr, ...] | None, BeforeValidator(_as_tuple)
    ] = None
    webhook_tolerance_seconds: Annotated[int, Field(gt=0, le=3600)] = 300

    @field_validator("webhook_secret")
    @classmethod
    def _secrets_present(
        cls, value: SecretStr | tuple[SecretStr, ...] | None
    ) -> SecretStr | tuple[SecretStr, ...] | None:
        # an empty signing secret would verify a signature anyone can compute
        listed = value if isinstance(value, tuple) else () if value is None else (value,)
        if (value is not None and not listed) or not all(s.get_secret_value() for s in listed):
            raise ValueError("must be a non-empty secret or a non-empty list of them")
        return value

    def webhook_secrets(self) -> tuple[str, ...]:
        """Every configured signing secret, in order (empty when none is set)."""
        secret = self.webhook_secret
        if secret is None:
            return ()
        listed = secret if isinstance(secret, tuple) else (secret,)
        return tuple(item.get_secret_value() for item in listed)


class PlanSettings(_Settings):
    """One published plan version. ``limits`` are legacy monthly counters (``inf`` = none)."""

    plan_id: Annotated[str, Field(pattern=_ID)]
    version: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    compute_quota: _Units = 0
    stripe_price_monthly: Annotated[str, Field(pattern=_PRICE)] | None = None
    stripe_price_annual: Annotated[str, Field(pattern=_PRICE)] | None = None
    ratios: Annotated[dict[_Category, float], Field(max_length=BREAKDOWN_CEILING)] = Field(
        default_factory=lambda: {"default": 1.0}
    )
    limits: Annotated[dict[str, float], Field(max_length=256)] = Field(default_factory=dict)
    signup_grant: _Units = 0
    effective_from: datetime | None = None
    effective_until: datetime | None = None
    active: bool = True

    @field_validator("ratios")
    @classmethod
    def _ratios_valid(cls, value: dict[str, float]) -> dict[str, float]:
        for category, ratio in value.items():
            if not math.isfinite(ratio) or not 0 <= ratio <= 1000:
                raise ValueError(f"ratio for {category!r} must be a finite number in 0..1000")
        return value

    @field_validator("limits")
    @classmethod
    def _limits_valid(cls, value: dict[str, float]) -> dict[str, float]:
        for counter, limit in value.items():
            if not _COUNTER.match(counter):
                raise ValueError(f"limit key {counter!r} must look like 'resource.action'")
            finite = math.isfinite(limit)
            if math.isnan(limit) or limit < 0 or (finite and limit != int(limit)):
                raise ValueError(f"limit for {counter!r} must be a whole number >= 0 or inf")
            if finite and limit > MAX_UNITS:
                raise ValueError(f"limit for {counter!r} must be at most {MAX_UNITS} or inf")
        return value

    @field_validator("effective_from", "effective_until")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("must be timezone-aware")
        return value

    def stripe_prices(self) -> tuple[str, ...]:
        """The Stripe price ids that bill this plan (monthly, annual; unset ones left out)."""
        prices = (self.stripe_price_monthly, self.stripe_price_annual)
        return tuple(price for price in prices if price is not None)


class PackSettings(_Settings):
    """An extras pack: ``units`` for ``price_cents``; lots expire after ``expiry_days``."""

    pack_id: Annotated[str, Field(pattern=_ID)]
    units: _PositiveUnits
    price_cents: _PositiveUnits
    stripe_price: Annotated[str, Field(pattern=_PRICE)] | None = None
    expiry_days: _Days | None = None


def _host(value: str) -> str:
    """A host name (RFC 1123 labels, lower case, at most 253 characters) or an IPv4 address."""
    host = value.lower().rstrip(".")
    if not 0 < len(host) <= 253 or not all(_LABEL.match(label) for label in host.split(".")):
        raise ValueError(f"{value!r} is not a host name")
    return host


def _default_plans() -> tuple[PlanSettings, ...]:
    return (
        PlanSettings(plan_id="free", compute_quota=0),
        PlanSettings(plan_id="starter", compute_quota=50_000),
        PlanSettings(plan_id="pro", compute_quota=500_000),
        PlanSettings(plan_id="enterprise", compute_quota=2_000_000),
    )


class BillingConfig(_Settings):
    """Every knob of the product with its default; compute mode is off unless asked for.

    ``allowed_redirect_hosts`` lists the hosts a checkout's success and cancel URLs may point
    at (host names, compared exactly); redirects must be https unless ``allow_http_redirects``
    (for tests on 127.0.0.1) is set.
    """

    compute_mode: bool = False
    compute: ComputeSettings = ComputeSettings()
    plans: Annotated[tuple[PlanSettings, ...], _LISTED, Field(max_length=256)] = Field(
        default_factory=_default_plans
    )
    packs: Annotated[tuple[PackSettings, ...], _LISTED, Field(max_length=256)] = ()
    alerts: AlertSettings = AlertSettings()
    default_plan: Annotated[str, Field(pattern=_ID)] = "free"
    preserve_usage: bool = True
    grace_days: Annotated[int, Field(ge=0, le=365)] = 7
    dunning_days: Annotated[int, Field(gt=0, le=366)] = 14
    processed_event_ttl_days: Annotated[int, Field(gt=0, le=3660)] = 30
    webhook_max_attempts: Annotated[int, Field(gt=0, le=100)] = 5
    reservation_ttl_seconds: Annotated[int, Field(gt=0, le=_MAX_TTL_SECONDS)] = 900
    max_commit_attempts: Annotated[int, Field(gt=0, le=1000)] = 64
    snapshot_cache_size: Annotated[int, Field(ge=0, le=10_000_000)] = 10_000
    sweep_batch_size: Annotated[int, Field(ge=1, le=1000)] = 1
    stripe: StripeSettings = StripeSettings()
    upgrade_url: Annotated[str, Field(max_length=2048)] | None = None
    allowed_redirect_hosts: _Hosts = ()
    allow_http_redirects: bool = False
    exempt_orgs: _Orgs = ()

    @field_validator("allowed_redirect_hosts")
    @classmethod
    def _hosts_valid(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_host(host) for host in value)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        seen: set[tuple[str, int]] = set()
        for plan in self.plans:
            if (plan.plan_id, plan.version) in seen:
                raise ValueError(f"plan {plan.plan_id} v{plan.version} is defined twice")
            seen.add((plan.plan_id, plan.version))
        if self.default_plan not in {plan_id for plan_id, _ in seen}:
            raise ValueError(f"default_plan {self.default_plan!r} is not among the plans")
        pack_ids = [pack.pack_id for pack in self.packs]
        if len(pack_ids) != len(set(pack_ids)):
            raise ValueError("pack ids must be unique")
        if self.dunning_days <= self.grace_days:
            raise ValueError("dunning_days must be greater than grace_days")
        self._price_owners()
        return self

    def _price_owners(self) -> dict[str, tuple[str, str]]:
        """``price -> ("plan" | "pack", id)``; a price billing two different things is refused."""
        owners: dict[str, tuple[str, str]] = {}
        named = [
            ("plan", plan.plan_id, price) for plan in self.plans for price in plan.stripe_prices()
        ]
        named += [
            ("pack", pack.pack_id, pack.stripe_price) for pack in self.packs if pack.stripe_price
        ]
        for kind, owner_id, price in named:
            owner = owners.setdefault(price, (kind, owner_id))
            if owner != (kind, owner_id):
                raise ValueError(
                    f"stripe price {price!r} is used by {owner[0]} {owner[1]!r} "
                    f"and by {kind} {owner_id!r}"
                )
        return owners

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BillingConfig:
        """Validate ``data``; raise :class:`ConfigError` naming the first bad field."""
        if not isinstance(data, Mapping) or not all(isinstance(key, str) for key in data):
            raise ConfigError("config", "must be a mapping of setting names to values")
        return cls(**data)

    @classmethod
    def from_toml(cls, path: str | Path) -> BillingConfig:
        """Load and validate a TOML file (the table layout of :meth:`to_toml_dict`).

        A file that is not valid TOML raises :class:`ConfigError` with ``field`` ``"toml"``
        and the line and column of the syntax error in the reason.
        """
        try:
            with Path(path).open("rb") as handle:
                data = tomllib.load(handle)
        except tomllib.TOMLDecodeError as exc:
            where = _TOML_POSITION.search(str(exc))
            at = f"line {where[1]}, column {where[2]}" if where else "unknown position"
            what = re.sub(r"\s*\(at [^)]*\)", "", str(exc))  # the position is already in ``at``
            raise ConfigError("toml", f"TOML syntax error at {at}: {what}") from None
        except FileNotFoundError:
            raise ConfigError("toml", "no such file") from None
        except OSError as exc:
            raise ConfigError("toml", f"cannot read: {exc.strerror}") from None
        return cls.from_dict(data.get("compute_pricing", data))

    def to_toml_dict(self) -> dict[str, Any]:
        """This config as TOML-ready data (``None`` values left out, so they load as defaults).

        The one place the webhook signing secret is written out in clear, so the file it
        produces loads back to an equal config: keep that file as secret as the key itself.
        """
        data = self.model_dump(mode="python", exclude_none=True)
        secrets = self.stripe.webhook_secrets()
        if secrets:
            single = isinstance(self.stripe.webhook_secret, SecretStr)
            data["stripe"]["webhook_secret"] = secrets[0] if single else list(secrets)
        return data

    def pack(self, pack_id: str) -> PackSettings | None:
        """The pack with this id, if configured."""
        return next((pack for pack in self.packs if pack.pack_id == pack_id), None)

    def plan_for_price(self, price_id: str) -> str | None:
        """The plan id a Stripe price bills (monthly or annual), or ``None`` if no plan uses it."""
        owner = self._price_owners().get(price_id)
        return owner[1] if owner is not None and owner[0] == "plan" else None

    def pack_for_price(self, price_id: str) -> PackSettings | None:
        """The pack a Stripe price sells, or ``None`` if no pack uses it."""
        return next((pack for pack in self.packs if pack.stripe_price == price_id), None)

    def redirect_allowed(self, url: str) -> bool:
        """Whether a checkout may redirect to ``url``: https (http if allowed) to a listed host."""
        try:
            parts = urlsplit(url)
            host = (parts.hostname or "").rstrip(".")
        except ValueError:
            return False
        schemes = {"https", "http"} if self.allow_http_redirects else {"https"}
        return parts.scheme in schemes and host in self.allowed_redirect_hosts
