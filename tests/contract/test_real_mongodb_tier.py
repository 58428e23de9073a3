"""The real-MongoDB tier's status in one line: it runs only when its URI is set."""

from __future__ import annotations

import os

import pytest
from pymongo import MongoClient

from tests.support.tiers import REAL_URI_ENV


def test_real_mongodb_tier_status() -> None:
    """With the URI set the server answers a ping; without it the whole tier is reported once."""
    uri = os.environ.get(REAL_URI_ENV)
    if not uri:
        pytest.skip(f"real MongoDB tier not run: {REAL_URI_ENV} is not set (its tests deselected)")
    client: MongoClient[dict[str, object]] = MongoClient(uri, serverSelectionTimeoutMS=10_000)
    try:
        assert {"ok": 1.0} == {"ok": client.admin.command("ping")["ok"]}
    finally:
        client.close()
