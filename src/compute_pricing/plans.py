"""Versioned plans (docs/rules.md "Plans"): the immutable :class:`Plan` value and its lookups.

A published ``(plan_id, version)`` never changes its terms; bumping a plan closes the active
version's window and publishes the next one. Lookups by version are exact and never fall back.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs

from compute_pricing.config import PlanSettings
from compute_pricing.errors import InvalidInputError
from compute_pricing.money import to_decimal

__all__ = ["Plan"]

_DEFAULT_RATIO = Decimal(1)


@attrs.frozen
class Plan:
    """One published plan version: weekly compute quota, cost ratios, legacy monthly limits.

    ``limits`` maps ``"resource.action"`` to a monthly limit; ``None`` means unlimited and a
    counter missing from it has no limit either.
    """

    plan_id: str
    version: int
    compute_quota: int
    ratios: Mapping[str, Decimal] = attrs.field(factory=lambda: {"default": _DEFAULT_RATIO})
    limits: Mapping[str, int | None] = attrs.field(factory=dict)
    stripe_price_monthly: str | None = None
    stripe_price_annual: str | None = None
    signup_grant: int = 0
    effective_from: datetime | None = None
    effective_until: datetime | None = None
    active: bool = True

    @classmethod
    def from_settings(cls, settings: PlanSettings) -> Plan:
        """The plan a :class:`~compute_pricing.config.PlanSettings` entry publishes."""
        return cls(
            plan_id=settings.plan_id,
            version=settings.version,
            compute_quota=settings.compute_quota,
            ratios={name: to_decimal(ratio) for name, ratio in settings.ratios.items()},
            limits={
                name: int(limit) if math.isfinite(limit) else None
                for name, limit in settings.limits.items()
            },
            stripe_price_monthly=settings.stripe_price_monthly,
            stripe_price_annual=settings.stripe_price_annual,
            signup_grant=settings.signup_grant,
            effective_from=settings.effective_from,
            effective_until=settings.effective_until,
            active=settings.active,
        )

    def ratio(self, category: str) -> Decimal:
        """``ratios[category]``, else ``ratios["default"]``, else 1."""
        found = self.ratios.get(category)
        if found is None:
            found = self.ratios.get("default", _DEFAULT_RATIO)
        return found

    def is_effective_at(self, at: datetime) -> bool:
        """Whether this version is the one in force at ``at``."""
        if not self.active:
            return False
        if self.effective_from is not None and at < self.effective_from:
            return False
        return self.effective_until is None or at < self.effective_until

    def next_version(self, changes: Mapping[str, Any], at: datetime) -> Plan:
        """The version that follows this one with ``changes`` applied, effective from ``at``."""
        allowed = {
            "compute_quota",
            "ratios",
            "limits",
            "stripe_price_monthly",
            "stripe_price_annual",
            "signup_grant",
        }
        unknown = set(changes) - allowed
        if unknown:
            raise InvalidInputError("changes", sorted(unknown), f"only {sorted(allowed)} change")
        values = dict(changes)
        if "ratios" in values:
            values["ratios"] = {k: to_decimal(v) for k, v in values["ratios"].items()}
        return attrs.evolve(
            self,
            version=self.version + 1,
            effective_from=at,
            effective_until=None,
            active=True,
            **values,
        )
