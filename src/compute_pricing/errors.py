"""Every error the library raises, as one tree under :class:`BillingError`.

Each class maps to exactly one HTTP status (``status``) and a stable machine code (``code``),
and carries its data as attributes so callers never parse messages::

    BillingError
    ├── InvalidInputError                400  bad argument; ``field`` names it
    │   ├── InvalidCostError             400  ``category``, ``value``
    │   ├── InvalidStepError             400  ``step``
    │   ├── InvalidNameError             400  ``field``, ``value`` (resource, action, org, ids)
    │   ├── InvalidAmountError           400  ``field``, ``value``
    │   └── RedirectNotAllowedError      400  ``field``, ``value`` (URL not on the allow-list)
    ├── RequestValidationError           422  ``field`` (an HTTP body, query or header)
    ├── ConfigError                      500  ``field`` (raised at start-up)
    ├── CorruptStateError                500  ``org``, ``document``, ``field`` (stored data)
    ├── WebhookError                     400
    │   ├── WebhookSignatureError        400  ``reason`` (nothing was written)
    │   └── WebhookPayloadError          400  ``field``
    ├── WebhookHandlerError              500  ``event_id``, ``attempts`` (Stripe retries)
    ├── PaymentProviderError             502
    │   ├── PaymentProviderUnavailableError 503  retryable (network, rate limit, Stripe 5xx)
    │   ├── PaymentRequestError          400  ``param`` (Stripe refused the request)
    │   └── PaymentConfigurationError    500  bad API key or permissions
    ├── OrganizationRequiredError        403
    ├── ForbiddenError                   403  ``org`` (caller may not act on it)
    ├── NotFoundError                    404
    │   ├── UnknownPlanError             404  ``plan_id``, ``version``
    │   ├── UnknownPackError             404  ``pack_id``
    │   ├── UnknownPurchaseError         404  ``session_id``
    │   └── UnknownReservationError      404  ``reservation_id``
    ├── ComputeExhaustedError            402  ``compute_used``, ``compute_quota``, ...
    ├── PaymentPastDueError              402  ``past_due_since``, ``grace_days``
    ├── QuotaExceededError               429  ``resource``, ``action``, ``limit``, ``current``
    ├── PlanNotConfiguredError           503  ``plan_id``
    ├── ConflictError                    409
    │   ├── ConcurrencyConflictError     409  ``org``, ``attempts``
    │   ├── IdempotencyConflictError     409  ``key``, ``field`` (key reused, other request)
    │   ├── CheckoutConflictError        409  ``org`` (a subscription is already live)
    │   ├── JournalKeyExistsError        409  ``existing`` (port signal: a replay)
    │   ├── JournalSeqTakenError         409  ``org``, ``seq`` (port signal: lost race)
    │   ├── ReadOnlyCatalogError         409
    │   └── PlanVersionExistsError       409  ``plan_id``, ``version``
    └── ClockError                       500  a FakeClock asked to go backwards

The two ``Journal*`` errors are raised by :class:`~compute_pricing.ports.AccountStore`
adapters and handled inside the library; callers only ever see them if they use a store
directly.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from compute_pricing.journal import JournalEntry

__all__ = [
    "BillingError",
    "CheckoutConflictError",
    "ClockError",
    "ComputeExhaustedError",
    "ConcurrencyConflictError",
    "ConfigError",
    "ConflictError",
    "CorruptStateError",
    "ForbiddenError",
    "IdempotencyConflictError",
    "InvalidAmountError",
    "InvalidCostError",
    "InvalidInputError",
    "InvalidNameError",
    "InvalidStepError",
    "JournalKeyExistsError",
    "JournalSeqTakenError",
    "NotFoundError",
    "OrganizationRequiredError",
    "PaymentConfigurationError",
    "PaymentPastDueError",
    "PaymentProviderError",
    "PaymentProviderUnavailableError",
    "PaymentRequestError",
    "PlanNotConfiguredError",
    "PlanVersionExistsError",
    "QuotaExceededError",
    "ReadOnlyCatalogError",
    "RedirectNotAllowedError",
    "RequestValidationError",
    "UnknownPackError",
    "UnknownPlanError",
    "UnknownPurchaseError",
    "UnknownReservationError",
    "WebhookError",
    "WebhookHandlerError",
    "WebhookPayloadError",
    "WebhookSignatureError",
]


def _shown(value: object, limit: int = 200) -> str:
    """``repr(value)`` cut to ``limit`` characters; never raises (huge ints refuse ``repr``)."""
    try:
        text = repr(value)
    except Exception:  # a caller's junk must not turn a clear error into another one
        return f"<unprintable {type(value).__name__}>"
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


class BillingError(Exception):
    """Root of every error the library raises; ``status`` is its one HTTP status."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "BILLING_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def details(self) -> dict[str, Any]:
        """The error's data attributes, JSON-friendly, for an HTTP body."""
        return {}

    def to_dict(self) -> dict[str, Any]:
        """``{"error": code, "message": ..., **details}``: the HTTP body of this error."""
        return {"error": self.code, "message": self.message, **self.details()}


class InvalidInputError(BillingError):
    """An argument is malformed; ``field`` names it and nothing was written."""

    status = 400
    code = "INVALID_INPUT"

    def __init__(self, field: str, value: object, reason: str) -> None:
        super().__init__(f"{field}: {reason} (got {_shown(value)})")
        self.field = field
        self.value = value
        self.reason = reason

    def details(self) -> dict[str, Any]:
        """Name of the bad field and why it was refused."""
        return {"field": self.field, "reason": self.reason}


class InvalidCostError(InvalidInputError):
    """A cost is negative, not finite or not a number; ``category`` names it."""

    code = "INVALID_COST"

    def __init__(self, category: str, value: object, reason: str) -> None:
        super().__init__(f"costs[{_shown(category)}]", value, reason)
        self.category = category


class InvalidStepError(InvalidInputError):
    """A step key does not match ``^[A-Za-z0-9:_-]{1,64}$``."""

    code = "INVALID_STEP"

    def __init__(self, step: object) -> None:
        super().__init__("step", step, "must match ^[A-Za-z0-9:_-]{1,64}$")
        self.step = step


class InvalidNameError(InvalidInputError):
    """An identifier (org, resource, action, run id, pack id...) is malformed."""

    code = "INVALID_NAME"


class InvalidAmountError(InvalidInputError):
    """A unit count or amount is out of range (negative, zero where positive is required)."""

    code = "INVALID_AMOUNT"


class RedirectNotAllowedError(InvalidInputError):
    """A success or cancel URL is not https or its host is not on the configured allow-list."""

    code = "REDIRECT_NOT_ALLOWED"


class RequestValidationError(BillingError):
    """An HTTP request's body, query or header does not match its schema (HTTP 422).

    ``field`` is the dotted location of the first bad value (``body.pack_id``,
    ``query.limit``, ``header.Idempotency-Key``); ``errors`` lists every problem found.
    Nothing was read or written.
    """

    status = 422
    code = "VALIDATION_ERROR"

    def __init__(self, field: str, reason: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
        self.errors = errors if errors is not None else [{"field": field, "reason": reason}]

    def details(self) -> dict[str, Any]:
        """The first bad field, why, and every problem found."""
        return {"field": self.field, "reason": self.reason, "errors": list(self.errors)}


class ConfigError(BillingError):
    """The configuration is invalid; ``field`` is the dotted path of the first bad value."""

    status = 500
    code = "CONFIG_ERROR"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"invalid configuration at {field}: {reason}")
        self.field = field
        self.reason = reason


class CorruptStateError(BillingError):
    """A stored document is not what the library wrote; nothing was guessed.

    ``document`` names the kind of document (``snapshot``, ``journal``, ``plan``,
    ``processed_event``) and ``field`` the dotted path of the bad or missing value.
    """

    status = 500
    code = "CORRUPT_STATE"

    def __init__(self, org: str | None, document: str, field: str, reason: str) -> None:
        super().__init__(f"corrupt {document} of {org!r} at {field}: {reason}")
        self.org = org
        self.document = document
        self.field = field
        self.reason = reason


class WebhookError(BillingError):
    """A webhook delivery was refused before anything was written (HTTP 400)."""

    status = 400
    code = "WEBHOOK_INVALID"


class WebhookSignatureError(WebhookError):
    """The ``Stripe-Signature`` header does not verify against any configured secret."""

    code = "WEBHOOK_SIGNATURE_INVALID"

    def __init__(self, reason: str) -> None:
        super().__init__(f"webhook signature refused: {reason}")
        self.reason = reason

    def details(self) -> dict[str, Any]:
        """Why the signature was refused (never the secret or the expected signature)."""
        return {"reason": self.reason}


class WebhookPayloadError(WebhookError):
    """A signed payload is not a Stripe event the library can read; ``field`` names the part."""

    code = "WEBHOOK_PAYLOAD_INVALID"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"webhook payload invalid at {field}: {reason}")
        self.field = field
        self.reason = reason

    def details(self) -> dict[str, Any]:
        """The bad part of the payload."""
        return {"field": self.field, "reason": self.reason}


class WebhookHandlerError(BillingError):
    """Handling a verified event failed; the claim counts the attempt and Stripe retries."""

    status = 500
    code = "WEBHOOK_HANDLER_FAILED"

    def __init__(self, event_id: str, attempts: int, reason: str) -> None:
        super().__init__(f"webhook {event_id} failed (attempt {attempts}): {reason}")
        self.event_id = event_id
        self.attempts = attempts
        self.reason = reason

    def details(self) -> dict[str, Any]:
        """The event and how many attempts have failed."""
        return {"event_id": self.event_id, "attempts": self.attempts}


class PaymentProviderError(BillingError):
    """The payment provider (Stripe) refused or failed a call."""

    status = 502
    code = "PAYMENT_PROVIDER_ERROR"


class PaymentProviderUnavailableError(PaymentProviderError):
    """A retryable provider failure: network, timeout, rate limit, provider 5xx."""

    status = 503
    code = "PAYMENT_PROVIDER_UNAVAILABLE"


class PaymentRequestError(PaymentProviderError):
    """The provider refused the request as invalid; ``param`` names the part when known."""

    status = 400
    code = "PAYMENT_REQUEST_INVALID"

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param

    def details(self) -> dict[str, Any]:
        """The refused parameter, when the provider named one."""
        return {"param": self.param}


class PaymentConfigurationError(PaymentProviderError):
    """The provider refused our credentials or permissions: an operator must fix the keys."""

    status = 500
    code = "PAYMENT_CONFIGURATION_ERROR"


class OrganizationRequiredError(BillingError):
    """The request carries no organization context."""

    status = 403
    code = "ORGANIZATION_REQUIRED"

    def __init__(self) -> None:
        super().__init__("an organization is required for this operation")


class ForbiddenError(BillingError):
    """The caller may not act on ``org`` (another org's data, or an admin-only operation)."""

    status = 403
    code = "FORBIDDEN"

    def __init__(self, org: str | None, reason: str) -> None:
        super().__init__(f"forbidden: {reason}")
        self.org = org
        self.reason = reason


class NotFoundError(BillingError):
    """Something named by the caller does not exist."""

    status = 404
    code = "NOT_FOUND"


class UnknownPlanError(NotFoundError):
    """No plan (or no such plan version) exists."""

    code = "UNKNOWN_PLAN"

    def __init__(self, plan_id: str, version: int | None = None) -> None:
        what = plan_id if version is None else f"{plan_id} v{version}"
        super().__init__(f"unknown plan {what}")
        self.plan_id = plan_id
        self.version = version

    def details(self) -> dict[str, Any]:
        """The plan id and version asked for."""
        return {"plan_id": self.plan_id, "version": self.version}


class UnknownPackError(NotFoundError):
    """No extras pack has this id."""

    code = "UNKNOWN_PACK"

    def __init__(self, pack_id: str) -> None:
        super().__init__(f"unknown extras pack {_shown(pack_id)}")
        self.pack_id = pack_id

    def details(self) -> dict[str, Any]:
        """The pack id asked for."""
        return {"pack_id": self.pack_id}


class UnknownPurchaseError(NotFoundError):
    """No pack purchase was credited under this Stripe checkout session id."""

    code = "UNKNOWN_PURCHASE"

    def __init__(self, session_id: str) -> None:
        super().__init__(f"no pack purchase for checkout session {session_id!r}")
        self.session_id = session_id

    def details(self) -> dict[str, Any]:
        """The checkout session id asked for."""
        return {"session_id": self.session_id}


class UnknownReservationError(NotFoundError):
    """The reservation does not exist, was already committed or released, or expired."""

    code = "UNKNOWN_RESERVATION"

    def __init__(self, reservation_id: str) -> None:
        super().__init__(f"no live reservation {reservation_id!r}")
        self.reservation_id = reservation_id

    def details(self) -> dict[str, Any]:
        """The reservation id asked for."""
        return {"reservation_id": self.reservation_id}


class ComputeExhaustedError(BillingError):
    """Compute mode: the week's quota and the extras are used up (HTTP 402)."""

    status = 402
    code = "COMPUTE_EXHAUSTED"

    def __init__(
        self,
        org: str,
        *,
        compute_used: int,
        compute_quota: int,
        extras_remaining: int,
        packs_available: list[str],
        upgrade_url: str | None,
    ) -> None:
        super().__init__(f"organization {org!r} has no compute left this week")
        self.org = org
        self.compute_used = compute_used
        self.compute_quota = compute_quota
        self.extras_remaining = extras_remaining
        self.packs_available = packs_available
        self.upgrade_url = upgrade_url

    def details(self) -> dict[str, Any]:
        """The 402 body fields of docs/rules.md "Quota gate"."""
        return {
            "compute_used": self.compute_used,
            "compute_quota": self.compute_quota,
            "extras_remaining": self.extras_remaining,
            "packs_available": list(self.packs_available),
            "upgrade_url": self.upgrade_url,
        }


class PaymentPastDueError(BillingError):
    """Dunning: payment has failed long enough that the requested spending is refused (402)."""

    status = 402
    code = "PAYMENT_PAST_DUE"

    def __init__(self, org: str, *, past_due_since: datetime | None, grace_days: int) -> None:
        super().__init__(f"organization {org!r} has an overdue payment")
        self.org = org
        self.past_due_since = past_due_since
        self.grace_days = grace_days

    def details(self) -> dict[str, Any]:
        """When the payment started failing and the grace period."""
        since = None if self.past_due_since is None else self.past_due_since.isoformat()
        return {"past_due_since": since, "grace_days": self.grace_days}


class QuotaExceededError(BillingError):
    """Legacy mode: a monthly ``resource.action`` counter reached its plan limit (HTTP 429)."""

    status = 429
    code = "QUOTA_EXCEEDED"

    def __init__(
        self, *, resource: str, action: str, limit: int, current: int, upgrade_url: str | None
    ) -> None:
        super().__init__(f"monthly limit reached for {resource}.{action}: {current}/{limit}")
        self.resource = resource
        self.action = action
        self.limit = limit
        self.current = current
        self.upgrade_url = upgrade_url

    def details(self) -> dict[str, Any]:
        """The 429 body fields of docs/rules.md "Quota gate"."""
        return {
            "resource": self.resource,
            "action": self.action,
            "limit": self.limit,
            "current": self.current,
            "upgrade_url": self.upgrade_url,
        }


class PlanNotConfiguredError(BillingError):
    """The organization's plan is missing from the catalog (HTTP 503)."""

    status = 503
    code = "PLAN_NOT_CONFIGURED"

    def __init__(self, plan_id: str) -> None:
        super().__init__(f"plan {plan_id!r} is not configured")
        self.plan_id = plan_id

    def details(self) -> dict[str, Any]:
        """The plan id that could not be resolved."""
        return {"plan_id": self.plan_id}


class ConflictError(BillingError):
    """The operation conflicts with the current state (HTTP 409)."""

    status = 409
    code = "CONFLICT"


class ConcurrencyConflictError(ConflictError):
    """Other writers kept winning the race for this account; retry later."""

    code = "CONCURRENCY_CONFLICT"

    def __init__(self, org: str, attempts: int) -> None:
        super().__init__(f"gave up on account {org!r} after {attempts} lost races")
        self.org = org
        self.attempts = attempts


class JournalKeyExistsError(ConflictError):
    """Port signal: an entry with this idempotency key exists; ``existing`` is it."""

    code = "JOURNAL_KEY_EXISTS"

    def __init__(self, existing: JournalEntry) -> None:
        super().__init__(f"journal key {existing.key!r} exists for {existing.org!r}")
        self.existing = existing


class JournalSeqTakenError(ConflictError):
    """Port signal: another writer committed this sequence number first."""

    code = "JOURNAL_SEQ_TAKEN"

    def __init__(self, org: str, seq: int) -> None:
        super().__init__(f"journal seq {seq} of {org!r} is taken")
        self.org = org
        self.seq = seq


class IdempotencyConflictError(ConflictError):
    """An idempotency key was reused for a different request; nothing was written.

    ``key`` is the journal key and ``field`` the first parameter that differs from the
    request first committed under it (``kind`` when the operations differ).
    """

    code = "IDEMPOTENCY_CONFLICT"

    def __init__(self, key: str, field: str) -> None:
        super().__init__(f"idempotency key {key!r} was used for another request ({field} differs)")
        self.key = key
        self.field = field

    def details(self) -> dict[str, Any]:
        """The reused key and the parameter that differs."""
        return {"key": self.key, "field": self.field}


class CheckoutConflictError(ConflictError):
    """A subscription checkout was asked for while the org already has a live subscription."""

    code = "CHECKOUT_CONFLICT"

    def __init__(self, org: str, status: str) -> None:
        super().__init__(f"{org!r} already has a {status} subscription")
        self.org = org
        self.subscription_status = status

    def details(self) -> dict[str, Any]:
        """The org and its live subscription status."""
        return {"org": self.org, "status": self.subscription_status}


class ReadOnlyCatalogError(ConflictError):
    """The config-static plan catalog cannot publish versions; edit the config instead."""

    code = "READ_ONLY_CATALOG"


class PlanVersionExistsError(ConflictError):
    """A plan version is immutable once published."""

    code = "PLAN_VERSION_EXISTS"

    def __init__(self, plan_id: str, version: int) -> None:
        super().__init__(f"plan {plan_id} v{version} is already published")
        self.plan_id = plan_id
        self.version = version


class ClockError(BillingError):
    """A :class:`~compute_pricing.clock.FakeClock` was asked to move backwards."""

    status = 500
    code = "CLOCK_ERROR"
