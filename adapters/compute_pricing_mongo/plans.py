"""``MongoPlanRepository``: published plan versions, unique on ``(plan_id, version)``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from compute_pricing.errors import PlanVersionExistsError, UnknownPlanError
from compute_pricing.plans import Plan
from compute_pricing_mongo._documents import encode, plan_from
from compute_pricing_mongo._names import PLANS, Document
from compute_pricing_mongo.errors import translated

__all__ = ["MongoPlanRepository"]

_FIELDS = {"_id": 0}


def _plan(document: Mapping[str, Any]) -> Plan:
    return plan_from(document)


class MongoPlanRepository:
    """Plan versions in MongoDB; a published version's terms never change.

    Implements ``PlanRepository``. Only :meth:`close` updates a version, and it touches the
    window (``effective_until``, ``active``) and nothing else.
    """

    def __init__(self, db: Database[Document]) -> None:
        self._plans = db[PLANS]

    def get(self, plan_id: str, version: int) -> Plan | None:
        """The exact version, or ``None``."""
        with translated("get plan"):
            document = self._plans.find_one({"plan_id": plan_id, "version": version}, dict(_FIELDS))
        return None if document is None else _plan(document)

    def versions(self, plan_id: str) -> list[Plan]:
        """Every version of ``plan_id``, oldest first."""
        with translated("list plan versions"):
            documents = list(
                self._plans.find({"plan_id": plan_id}, dict(_FIELDS)).sort("version", ASCENDING)
            )
        return [_plan(document) for document in documents]

    def add(self, plan: Plan) -> None:
        """Publish ``plan``; ``PlanVersionExistsError`` if the version is taken."""
        with translated("add plan"):
            try:
                self._plans.insert_one(encode(plan))
            except DuplicateKeyError as exc:
                raise PlanVersionExistsError(plan.plan_id, plan.version) from exc

    def close(self, plan_id: str, version: int, until: datetime) -> None:
        """End a version's window; ``UnknownPlanError`` if it does not exist."""
        with translated("close plan"):
            result = self._plans.update_one(
                {"plan_id": plan_id, "version": version},
                {"$set": {"effective_until": until, "active": False}},
            )
        if result.matched_count == 0:
            raise UnknownPlanError(plan_id, version)
