"""Compute attribution (docs/rules.md, "Attribution"): a step's dollar costs become units.

Per category ``floor(cost * ratio * dollars_to_compute)``; no costs at all means
``run_base_units``; a total above ``max_compute_per_run`` is capped and the breakdown scaled
with a largest-remainder split so it still sums to the charged total.

Input is bounded before anything is read: category names match ``^[A-Za-z0-9_.:-]{1,64}$``
and a step carries at most ``compute.max_categories_per_run`` categories. The charged breakdown
is folded so the week's stored breakdown keeps at most ``compute.max_breakdown_categories``
categories (later ones count under ``other``; the total is unchanged).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal

import attrs

from compute_pricing.config import CATEGORY_PATTERN, ComputeSettings
from compute_pricing.errors import InvalidInputError, InvalidNameError, InvalidStepError
from compute_pricing.money import cost_to_units, largest_remainder, parse_cost
from compute_pricing.plans import Plan
from compute_pricing.state import fold_breakdown

__all__ = [
    "BASE_CATEGORY",
    "CATEGORY_PATTERN",
    "Units",
    "parse_costs",
    "units_for",
    "validate_run_id",
    "validate_step",
]

_STEP = re.compile(r"[A-Za-z0-9:_-]{1,64}")
_RUN_ID = re.compile(r"[A-Za-z0-9:_.\-]{1,128}")
_CATEGORY = re.compile(CATEGORY_PATTERN[1:-1])
#: Breakdown category of the base units charged for a run reported without costs.
BASE_CATEGORY = "base"


@attrs.frozen
class Units:
    """Units of one step: ``total == sum(breakdown.values())``; ``capped`` if the cap applied."""

    total: int
    breakdown: Mapping[str, int]
    capped: bool = False


def validate_step(step: object) -> str:
    """The step key, or :class:`InvalidStepError` if it is not ``^[A-Za-z0-9:_-]{1,64}$``."""
    if not isinstance(step, str) or not _STEP.fullmatch(step):
        raise InvalidStepError(step)
    return step


def validate_run_id(run_id: object) -> str:
    """The run id, or :class:`InvalidNameError` if empty, too long or oddly spelled."""
    if not isinstance(run_id, str) or not _RUN_ID.fullmatch(run_id):
        raise InvalidNameError("run_id", run_id, "must match ^[A-Za-z0-9:_.-]{1,128}$")
    return run_id


def parse_costs(costs: object, max_categories: int | None = None) -> dict[str, Decimal] | None:
    """Validated ``{category: Decimal}`` (or ``None``); every bad value names its category.

    Category names must match :data:`CATEGORY_PATTERN`; more than ``max_categories`` of them
    (when given) is refused as a whole.
    """
    if costs is None:
        return None
    if type(costs) is not dict and not isinstance(costs, Mapping):  # exact dict: no ABC check
        raise InvalidInputError("costs", costs, "must be a mapping of category to dollars")
    if max_categories is not None and len(costs) > max_categories:
        raise InvalidInputError(
            "costs", f"{len(costs)} categories", f"at most {max_categories} categories per step"
        )
    parsed: dict[str, Decimal] = {}
    for category, value in costs.items():
        if not isinstance(category, str) or not _CATEGORY.fullmatch(category):
            raise InvalidNameError(
                "costs", category, f"category names must match {CATEGORY_PATTERN}"
            )
        parsed[category] = parse_cost(category, value)
    return parsed


def units_for(
    costs: Mapping[str, Decimal] | None,
    plan: Plan,
    settings: ComputeSettings,
    week: Mapping[str, int] | None = None,
) -> Units:
    """The units a step costs on ``plan`` (costs already validated by :func:`parse_costs`).

    With the week's breakdown so far (``week``), the breakdown is folded so the week keeps at
    most ``settings.max_breakdown_categories`` categories.
    """
    if costs is None:
        base = settings.run_base_units
        return Units(total=base, breakdown={BASE_CATEGORY: base} if base else {})
    dollars_to_compute = settings.dollars_to_compute
    parts: dict[str, int] = {}
    total = 0
    for category, cost in costs.items():
        units = cost_to_units(cost, plan.ratio(category), dollars_to_compute)
        if units:
            parts[category] = units
            total += units
    cap = settings.max_compute_per_run
    capped = total > cap
    if capped:
        scaled = largest_remainder(parts, cap)
        parts, total = {k: v for k, v in scaled.items() if v}, cap
    if week is not None:
        parts = fold_breakdown(week, parts, settings.max_breakdown_categories)
    return Units(total, parts, capped)  # positional: once per attribution
