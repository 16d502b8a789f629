"""The MongoDB lease on the stack's database: one holder at a time, a successor only once it has expired, and
`held()` saying (without a round trip) whether the lease written last still runs, with a margin to spare."""

from __future__ import annotations

import asyncio
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from telesales_runtime.lease import MongoLease


async def test_held_follows_the_lease_written_last_and_ends_before_a_successor_may_take_it(
    scratch_db: AsyncDatabase[dict[str, Any]],
) -> None:
    leases = scratch_db["leases"]
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
