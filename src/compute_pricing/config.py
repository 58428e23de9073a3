"""The one validated configuration object, :class:`BillingConfig` (DESIGN 3.10).

Invalid values fail at start with a :class:`~compute_pricing.errors.ConfigError` whose ``field``
is the dotted path of the bad value (``plans.1.compute_quota``). Loadable from a mapping
(:meth:`BillingConfig.from_dict`) and from TOML (:meth:`BillingConfig.from_toml`); it writes
back with :meth:`BillingConfig.to_toml_dict`, which round-trips.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from compute_pricing.errors import ConfigError

__all__ = [
    "AlertSettings",
    "BillingConfig",
    "ComputeSettings",
    "PackSettings",
    "PlanSettings",
    "StripeSettings",
]

_ID = r"^[A-Za-z0-9_.-]{1,64}$"
_COUNTER = re.compile(r"^[a-z][a-z0-9_-]{0,63}\.[a-z][a-z0-9_-]{0,63}$")
NonNegativeInt = Annotated[int, Field(ge=0)]


class _Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=False)


class ComputeSettings(_Settings):
    """Attribution knobs: base units of a run without costs, dollars-to-units, per-run cap."""

    run_base_units: NonNegativeInt = 1
    dollars_to_compute: Annotated[int, Field(gt=0)] = 1000
    max_compute_per_run: Annotated[int, Field(gt=0)] = 10_000


class AlertSettings(_Settings):
    """Usage thresholds, in percent of the weekly quota, each firing once a week."""

    threshold_percents: tuple[Annotated[int, Field(gt=0, le=1000)], ...] = (80, 100)

    @field_validator("threshold_percents")
    @classmethod
    def _sorted_unique(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(sorted(set(value)))


class StripeSettings(_Settings):
    """Stripe options the library controls.

    ``webhook_secret`` is one signing secret or several (during a rotation every listed secret
    verifies); it is a ``SecretStr``, so it never appears in a repr or a log.
    """

    automatic_tax: bool = False
    webhook_secret: SecretStr | tuple[SecretStr, ...] | None = None
    webhook_tolerance_seconds: Annotated[int, Field(gt=0, le=3600)] = 300

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
    version: Annotated[int, Field(ge=1)] = 1
    compute_quota: NonNegativeInt = 0
    stripe_price_monthly: str | None = None
    stripe_price_annual: str | None = None
    ratios: dict[str, float] = Field(default_factory=lambda: {"default": 1.0})
    limits: dict[str, float] = Field(default_factory=dict)
    signup_grant: NonNegativeInt = 0
    effective_from: datetime | None = None
    effective_until: datetime | None = None
    active: bool = True

    @field_validator("ratios")
    @classmethod
    def _ratios_valid(cls, value: dict[str, float]) -> dict[str, float]:
        for category, ratio in value.items():
            if not math.isfinite(ratio) or ratio < 0:
                raise ValueError(f"ratio for {category!r} must be a finite number >= 0")
        return value

    @field_validator("limits")
    @classmethod
    def _limits_valid(cls, value: dict[str, float]) -> dict[str, float]:
        for counter, limit in value.items():
            if not _COUNTER.match(counter):
                raise ValueError(f"limit key {counter!r} must look like 'resource.action'")
            if math.isnan(limit) or limit < 0 or (math.isfinite(limit) and limit != int(limit)):
                raise ValueError(f"limit for {counter!r} must be a whole number >= 0 or inf")
        return value

    @field_validator("effective_from", "effective_until")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("must be timezone-aware")
        return value


class PackSettings(_Settings):
    """An extras pack: ``units`` for ``price_cents``; lots expire after ``expiry_days``."""

    pack_id: Annotated[str, Field(pattern=_ID)]
    units: Annotated[int, Field(gt=0)]
    price_cents: Annotated[int, Field(gt=0)]
    stripe_price: str | None = None
    expiry_days: Annotated[int, Field(gt=0)] | None = None


def _default_plans() -> tuple[PlanSettings, ...]:
    return (
        PlanSettings(plan_id="free", compute_quota=0),
        PlanSettings(plan_id="starter", compute_quota=50_000),
        PlanSettings(plan_id="pro", compute_quota=500_000),
        PlanSettings(plan_id="enterprise", compute_quota=2_000_000),
    )


class BillingConfig(_Settings):
    """Every knob of DESIGN 3.10 with its default; compute mode is off unless asked for."""

    compute_mode: bool = False
    compute: ComputeSettings = ComputeSettings()
    plans: tuple[PlanSettings, ...] = Field(default_factory=_default_plans)
    packs: tuple[PackSettings, ...] = ()
    alerts: AlertSettings = AlertSettings()
    default_plan: str = "free"
    preserve_usage: bool = True
    grace_days: NonNegativeInt = 7
    dunning_days: Annotated[int, Field(gt=0)] = 14
    processed_event_ttl_days: Annotated[int, Field(gt=0)] = 30
    webhook_max_attempts: Annotated[int, Field(gt=0)] = 5
    reservation_ttl_seconds: Annotated[int, Field(gt=0)] = 900
    max_commit_attempts: Annotated[int, Field(gt=0)] = 64
    stripe: StripeSettings = StripeSettings()
    upgrade_url: str | None = None
    allowed_redirect_hosts: tuple[str, ...] = ()
    exempt_orgs: tuple[str, ...] = ()

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
        return self

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BillingConfig:
        """Validate ``data``; raise :class:`ConfigError` naming the first bad field."""
        try:
            return cls.model_validate(dict(data))
        except ValidationError as exc:
            error = exc.errors()[0]
            field = ".".join(str(part) for part in error["loc"]) or "config"
            raise ConfigError(field, error["msg"]) from None

    @classmethod
    def from_toml(cls, path: str | Path) -> BillingConfig:
        """Load and validate a TOML file (the table layout of :meth:`to_toml_dict`)."""
        with Path(path).open("rb") as handle:
            data = tomllib.load(handle)
        return cls.from_dict(data.get("compute_pricing", data))

    def to_toml_dict(self) -> dict[str, Any]:
        """This config as TOML-ready data (``None`` values left out, so they load as defaults)."""
        return self.model_dump(mode="python", exclude_none=True)

    def pack(self, pack_id: str) -> PackSettings | None:
        """The pack with this id, if configured."""
        return next((pack for pack in self.packs if pack.pack_id == pack_id), None)
