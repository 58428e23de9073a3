"""Request and response as plain values: what every web adapter turns its framework's into.

An :class:`HttpRequest` carries everything a handler may read (method, path, path parameters,
query, case-insensitive headers, the raw body bytes and the caller's principal); an
:class:`HttpResponse` carries everything a framework needs to answer (status, a JSON-ready body,
headers). Neither does I/O, so the handlers are tested without a server.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import attrs

from compute_pricing.http.principal import Principal

__all__ = ["Headers", "HttpRequest", "HttpResponse"]


class Headers(Mapping[str, str]):
    """A read-only header mapping whose lookups ignore case (``headers["stripe-signature"]``)."""

    def __init__(self, items: Mapping[str, str] | None = None) -> None:
        self._items: dict[str, tuple[str, str]] = {
            name.lower(): (name, value) for name, value in (items or {}).items()
        }

    def __getitem__(self, name: str) -> str:
        """The value of ``name``, whatever its case."""
        return self._items[name.lower()][1]

    def __iter__(self) -> Iterator[str]:
        """The header names as given."""
        return (name for name, _ in self._items.values())

    def __len__(self) -> int:
        """How many headers there are."""
        return len(self._items)

    def __repr__(self) -> str:
        """Names only: header values may hold credentials."""
        return f"Headers({sorted(self)!r})"


def _headers(value: Mapping[str, str] | None) -> Headers:
    return value if isinstance(value, Headers) else Headers(value)


@attrs.frozen
class HttpRequest:
    """One HTTP request, framework-neutral. ``principal`` is ``None`` for anonymous callers."""

    method: str
    path: str
    principal: Principal | None = None
    path_params: Mapping[str, str] = attrs.field(factory=dict)
    query: Mapping[str, str] = attrs.field(factory=dict)
    headers: Headers = attrs.field(factory=Headers, converter=_headers)
    body: bytes = b""


@attrs.frozen
class HttpResponse:
    """One HTTP response: ``status``, a JSON-ready ``body`` and extra ``headers``."""

    status: int
    body: Mapping[str, Any]
    headers: Mapping[str, str] = attrs.field(factory=dict)

    media_type: str = "application/json"

    def json_bytes(self) -> bytes:
        """The body as compact UTF-8 JSON."""
        return json.dumps(self.body, separators=(",", ":"), ensure_ascii=False).encode()
