"""The MongoDB lease on the stack's database: one holder at a time, a successor only once it has expired, and
`held()` saying (without a round trip) whether the lease written last still runs, with a margin to spare."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

from telesales_runtime.lease import MongoLease


@pytest.fixture
async def leases(infra: Any) -> AsyncIterator[AsyncCollection[dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_uri, tz_aware=True)
    database = f"test_lease_{uuid.uuid4().hex[:8]}"
    yield client[database]["leases"]
    await client.drop_database(database)
    await client.close()


async def test_held_follows_the_lease_written_last_and_ends_before_a_successor_may_take_it(
    leases: AsyncCollection[dict[str, Any]],
) -> None:
    first, second = MongoLease(leases, "job", seconds=3.0), MongoLease(leases, "job", seconds=3.0)
    assert not first.held()
    assert await first.hold()
    assert first.held() and first.held(margin=2.0)
    assert not await second.hold() and not second.held()

    await asyncio.sleep(2.0)
    assert first.held() and not first.held(margin=1.5)  # still held, but not for 1.5 s more
    await asyncio.sleep(1.2)
    assert not first.held()  # expired: a successor may take it now
    assert await second.hold() and second.held()
    assert not await first.hold() and not first.held()

    await second.release()
    assert not second.held()  # released: said before the successor can take it
    assert await first.hold() and first.held()
