"""Which leads the retention sweep asks to erase, as MongoDB reads the query: closed (lost, or by the
do-not-call list) longer ago than the tenant's days, not erased, not asked for within the hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from allocator.erasure import expired_query

NOW = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)
DAY = timedelta(days=1)
OLD = {"tenant_id": "t", "status": "closed", "closed_at": NOW - 90 * DAY}


@pytest.fixture
def leads(scratch_db: AsyncDatabase[dict[str, Any]]) -> Any:
    return scratch_db["leads"]


async def test_the_sweep_finds_what_the_tenant_no_longer_keeps(leads: Any) -> None:
    await leads.insert_many([
        {"_id": "lost", "tenant_id": "t", "status": "closed", "closed_at": NOW - 31 * DAY},
        {"_id": "listed", "tenant_id": "t", "status": "do_not_call", "complained_at": NOW - 31 * DAY},
        {"_id": "recent", "tenant_id": "t", "status": "closed", "closed_at": NOW - 29 * DAY},
        {"_id": "won", "tenant_id": "t", "status": "won", "closed_at": NOW - 90 * DAY},
        {"_id": "held", "tenant_id": "t", "status": "held", "closed_at": NOW - 90 * DAY},
        {"_id": "other-tenant", **OLD, "tenant_id": "u"},
        {"_id": "erased", **OLD, "erased_at": NOW - DAY},
        {"_id": "asked-lately", **OLD, "retention_requested_at": NOW - timedelta(minutes=10)},
        {"_id": "asked-long-ago", **OLD, "retention_requested_at": NOW - timedelta(hours=2)},
    ])
    found = sorted([doc["_id"] async for doc in leads.find(expired_query("t", 30, NOW), {"_id": 1})])
    assert found == ["asked-long-ago", "listed", "lost"]
