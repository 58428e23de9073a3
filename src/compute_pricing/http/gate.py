"""The quota gate for a host application's own routes, framework-neutral.

:func:`quota_gate` asks :meth:`~compute_pricing.billing.Billing.check_quota` for the
principal's own org and returns either the :class:`~compute_pricing.results.Admission` or the
refusal as an :class:`~compute_pricing.http.values.HttpResponse` (402 ``COMPUTE_EXHAUSTED`` or
``PAYMENT_PAST_DUE``, 429 ``QUOTA_EXCEEDED``, 503 ``PLAN_NOT_CONFIGURED``, 403 without a
principal), in the same shape as every billing route. It never raises and writes nothing.
"""

from __future__ import annotations

from typing import Any

from compute_pricing.http.error_responses import REMAINING_HEADER, error_response
from compute_pricing.http.principal import Principal, target_org
from compute_pricing.http.values import HttpResponse
from compute_pricing.results import Admission

__all__ = ["quota_gate", "remaining_headers"]


def quota_gate(
    billing: Any,
    principal: Principal | None,
    *,
    resource: str | None = None,
    action: str | None = None,
) -> Admission | HttpResponse:
    """Admit the caller's org (billing admins unmetered) or answer the refusal."""
    try:
        org = target_org(principal)
        admin = principal is not None and principal.is_billing_admin
        admission: Admission = billing.check_quota(org, resource, action, admin=admin)
    except Exception as exc:  # a refusal or a failure is a response, never an exception
        return error_response(exc)
    return admission


def remaining_headers(admission: Admission) -> dict[str, str]:
    """``{"X-Compute-Remaining": "<units>"}`` when the gate metered the request, else ``{}``."""
    if admission.remaining is None:
        return {}
    return {REMAINING_HEADER: str(admission.remaining)}
