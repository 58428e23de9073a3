"""The shipped contract suites, run against the in-memory adapters."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from compute_pricing.memory import (
    InMemoryAccountStore,
    InMemoryLock,
    InMemoryPlanRepository,
    InMemoryProcessedEventStore,
)
from compute_pricing.ports import AccountStore, Lock, PlanRepository, ProcessedEventStore
from compute_pricing.testing.contracts import (
    AccountStoreContract,
    LockContract,
    PlanRepositoryContract,
    ProcessedEventStoreContract,
)
from compute_pricing.timekeeping import FakeClock


class TestInMemoryAccountStore(AccountStoreContract):
    """``InMemoryAccountStore`` keeps the AccountStore contract."""

    @pytest.fixture
    def store(self) -> AccountStore:
        """A fresh in-memory store."""
        return InMemoryAccountStore()


class TestInMemoryPlanRepository(PlanRepositoryContract):
    """``InMemoryPlanRepository`` keeps the PlanRepository contract."""

    @pytest.fixture
    def repository(self) -> PlanRepository:
        """A fresh in-memory repository."""
        return InMemoryPlanRepository()


class TestInMemoryProcessedEventStore(ProcessedEventStoreContract):
    """``InMemoryProcessedEventStore`` keeps the ProcessedEventStore contract."""

    @pytest.fixture
    def processed_events(self) -> ProcessedEventStore:
        """A fresh in-memory claim store."""
        return InMemoryProcessedEventStore(ttl_days=30)


class TestInMemoryLock(LockContract):
    """``InMemoryLock`` keeps the Lock contract."""

    @pytest.fixture
    def lock_factory(self) -> Callable[[FakeClock], Lock]:
        """In-memory leases read the given clock."""
        return InMemoryLock
