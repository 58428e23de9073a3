"""The job-cursor and org-directory contracts on memory and on every Mongo tier."""

from __future__ import annotations

import pytest

from compute_pricing.memory import (
    InMemoryAccountStore,
    InMemoryJobCursorStore,
    InMemoryOrgDirectory,
)
from compute_pricing.ports import AccountStore, JobCursorStore, OrgDirectory
from compute_pricing.testing.contracts import JobCursorStoreContract, OrgDirectoryContract
from compute_pricing_mongo import MongoStores
from tests.support.mongo_fixtures import (
    DatabaseFactory,
    MongomockTier,
    RealTier,
    WireTier,
)


class TestInMemoryJobCursorStore(JobCursorStoreContract):
    """``InMemoryJobCursorStore`` keeps the JobCursorStore contract."""

    @pytest.fixture
    def job_cursors(self) -> JobCursorStore:
        """A fresh in-memory cursor store."""
        return InMemoryJobCursorStore()


class TestInMemoryOrgDirectory(OrgDirectoryContract):
    """``InMemoryOrgDirectory`` keeps the OrgDirectory contract."""

    @pytest.fixture
    def directory_and_store(self) -> tuple[OrgDirectory, AccountStore]:
        """A directory over a fresh in-memory store."""
        store = InMemoryAccountStore()
        return InMemoryOrgDirectory(store), store


class MongoJobStateSuite(JobCursorStoreContract, OrgDirectoryContract):
    """``MongoJobCursorStore`` and ``MongoOrgDirectory`` keep their contracts."""

    @pytest.fixture
    def job_cursors(self, databases: DatabaseFactory) -> JobCursorStore:
        """Cursors over a fresh database."""
        return MongoStores(databases()).job_cursors

    @pytest.fixture
    def directory_and_store(self, databases: DatabaseFactory) -> tuple[OrgDirectory, AccountStore]:
        """A directory and account store over one fresh database."""
        stores = MongoStores(databases())
        return stores.orgs, stores.accounts


class TestMongomockJobState(MongomockTier, MongoJobStateSuite):
    """Job state on mongomock."""


class TestWireJobState(WireTier, MongoJobStateSuite):
    """Job state over the wire (mongoeco)."""


class TestRealJobState(RealTier, MongoJobStateSuite):
    """Job state on a real MongoDB."""
