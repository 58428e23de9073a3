"""Store back ends the service-level suite runs on, by name.

``STORE_KINDS`` maps a kind to a factory ``(clock) -> Stores``. The in-memory kind is always
there; the Mongo test modules register theirs (``mongomock``, ``mongo-wire``) so the whole
service suite also runs once on MongoDB stores.
"""

from __future__ import annotations

from collections.abc import Callable

from compute_pricing.billing import InMemoryStores, Stores
from compute_pricing.ports import Clock

StoresFactory = Callable[[Clock], Stores]

STORE_KINDS: dict[str, StoresFactory] = {"memory": InMemoryStores}
