"""MongoDB failures translated into the library's error tree (a closed table).

Domain conflicts never reach callers as pymongo errors: a duplicate key becomes the port's own
signal (:class:`~compute_pricing.errors.JournalKeyExistsError`,
:class:`~compute_pricing.errors.JournalSeqTakenError`,
:class:`~compute_pricing.errors.PlanVersionExistsError`) or is handled inside the adapter.
Everything else pymongo raises is mapped by :func:`translate`::

    BillingError
    └── MongoStoreError            500  any other PyMongoError (bad command, index conflict...)
        └── MongoUnavailableError  503  no server, network failure, step-down, timeouts

A timeout is any error pymongo marks ``timeout`` (a client-side ``timeoutMS`` or
``pymongo.timeout()`` deadline that expired, whatever the step it expired in) as well as the
server's own ``maxTimeMS`` and write-concern timeouts.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pymongo.errors import (
    ConnectionFailure,
    ExecutionTimeout,
    PyMongoError,
    WTimeoutError,
)

from compute_pricing.errors import BillingError

__all__ = ["MongoStoreError", "MongoUnavailableError", "translate", "translated"]

#: pymongo errors that mean "the database cannot be reached or did not answer in time".
_UNAVAILABLE: tuple[type[PyMongoError], ...] = (ConnectionFailure, ExecutionTimeout, WTimeoutError)


class MongoStoreError(BillingError):
    """A MongoDB operation failed; ``operation`` names the store call (HTTP 500)."""

    status = 500
    code = "STORE_ERROR"

    def __init__(self, operation: str, reason: str) -> None:
        super().__init__(f"MongoDB {operation} failed: {reason}")
        self.operation = operation
        self.reason = reason

    def details(self) -> dict[str, Any]:
        """The failed store call."""
        return {"operation": self.operation}


class MongoUnavailableError(MongoStoreError):
    """MongoDB could not be reached or timed out; retrying later may succeed (HTTP 503)."""

    status = 503
    code = "STORE_UNAVAILABLE"


def translate(exc: PyMongoError, operation: str) -> MongoStoreError:
    """The library error for a pymongo error raised by ``operation``."""
    if isinstance(exc, _UNAVAILABLE) or exc.timeout:
        return MongoUnavailableError(operation, f"{type(exc).__name__}: {exc}")
    return MongoStoreError(operation, f"{type(exc).__name__}: {exc}")


@contextmanager
def translated(operation: str) -> Iterator[None]:
    """Re-raise any pymongo error escaping the block as :func:`translate` maps it."""
    try:
        yield
    except PyMongoError as exc:
        raise translate(exc, operation) from exc
