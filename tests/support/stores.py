"""Store back ends the service-level suite runs on, by name.

``STORE_KINDS`` maps a kind to a factory ``(clock) -> Stores``. The in-memory kind is always
there and needs nothing. ``mongo-wire`` runs the whole service suite once on ``MongoStores``
over the session's mongoeco wire server: its factory needs per-test resources (a fresh
database, dropped afterwards), so it is a :class:`FixtureBackedKind` that the ``store_kind``
fixture activates from a pytest fixture for the duration of one test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from compute_pricing.billing import InMemoryStores, Stores
from compute_pricing.ports import Clock

StoresFactory = Callable[[Clock], Stores]


class FixtureBackedKind:
    """A store kind whose factory comes from the pytest fixture ``fixture`` (see ``activate``)."""

    def __init__(self, fixture: str) -> None:
        self.fixture = fixture
        self.current: StoresFactory | None = None

    def __call__(self, clock: Clock) -> Stores:
        """New stores from the active test's fixture."""
        if self.current is None:
            raise RuntimeError(
                f"store kind backed by fixture {self.fixture!r} is not active: "
                "request the 'store_kind' fixture"
            )
        return self.current(clock)


STORE_KINDS: dict[str, StoresFactory] = {
    "memory": InMemoryStores,
    "mongo-wire": FixtureBackedKind("mongo_wire_stores"),
}


@contextmanager
def activate(kind: str, request: pytest.FixtureRequest) -> Iterator[None]:
    """Make ``STORE_KINDS[kind]`` usable for the current test (a no-op for plain kinds)."""
    factory = STORE_KINDS[kind]
    if not isinstance(factory, FixtureBackedKind):
        yield
        return
    factory.current = request.getfixturevalue(factory.fixture)
    try:
        yield
    finally:
        factory.current = None
