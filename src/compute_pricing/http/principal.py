"""Who is calling: the :class:`Principal` value and the port the host application fills.

The host application authenticates; the library only asks it *who* the caller is. Rules kept
here, and nowhere else:

- The org a request acts on always comes from the principal, never from the body.
- A caller holding the role :data:`BILLING_ADMIN` may name another org with the query
  parameter ``org`` (``?org=org_b``); anyone else naming an org other than their own gets
  :class:`~compute_pricing.errors.ForbiddenError` (403). Naming one's own org is allowed.
- No principal at all: :class:`~compute_pricing.errors.OrganizationRequiredError` (403).
- The quota gate admits a :data:`BILLING_ADMIN` caller without metering (as the core gate
  does for ``admin=True``); it always checks the principal's own org.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

import attrs

from compute_pricing.errors import ForbiddenError, OrganizationRequiredError
from compute_pricing.validation import require_org

__all__ = ["BILLING_ADMIN", "Principal", "PrincipalResolver", "target_org"]

#: The role that may act on any org (``?org=``) and passes the quota gate unmetered.
BILLING_ADMIN = "billing_admin"


def _roles(value: str | Iterable[str]) -> frozenset[str]:
    """One role name or any iterable of them, as a frozenset."""
    if isinstance(value, str):
        return frozenset({value})
    return frozenset(value)


@attrs.frozen
class Principal:
    """The authenticated caller: the ``org`` they belong to and their ``roles``."""

    org: str
    roles: frozenset[str] = attrs.field(factory=frozenset, converter=_roles)

    @property
    def is_billing_admin(self) -> bool:
        """Whether the caller holds :data:`BILLING_ADMIN`."""
        return BILLING_ADMIN in self.roles


class PrincipalResolver(Protocol):
    """The host application's answer to "who is calling?" (``None``: nobody signed in).

    In the FastAPI adapter it is a dependency; in the Flask adapter a callable reading
    ``flask.request``. It must not raise for an anonymous caller: returning ``None`` lets the
    handlers answer 403 ``ORGANIZATION_REQUIRED`` in the one error shape.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Principal | None:
        """The caller, or ``None``."""
        ...


def target_org(principal: Principal | None, requested: str | None = None) -> str:
    """The org a request may act on, from the principal (and ``?org=`` for admins only)."""
    if principal is None:
        raise OrganizationRequiredError
    own = require_org(principal.org)
    if requested is None or requested == own:
        return own
    if not principal.is_billing_admin:
        raise ForbiddenError(own, f"org {own!r} may not act on another organization")
    return require_org(requested)
