"""Names the test tiers share (kept apart from the fixture plugin so conftest may import them)."""

from __future__ import annotations

__all__ = ["REAL_URI_ENV"]

#: Environment variable naming a real MongoDB; its tier runs only when it is set.
REAL_URI_ENV = "COMPUTE_PRICING_TEST_MONGODB_URI"
