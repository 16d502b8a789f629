"""The tenant's configuration, when its cached copy has expired, is loaded once for all the callers of that
moment (no I/O: a counting store)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from allocator.domain import AllocationPolicy
from allocator.service.core import LeadServiceCore
from allocator.settings import AllocatorSettings


class CountingStore:
    def __init__(self) -> None:
        self.loads = 0
        self.fail = False

    async def policy(self, tenant: str) -> tuple[AllocationPolicy, int]:
        self.loads += 1
        await asyncio.sleep(0.01)
        if self.fail:
            raise RuntimeError("database down")
        return AllocationPolicy(), 1


def core(store: Any) -> LeadServiceCore:
    return LeadServiceCore(AllocatorSettings(config_cache_seconds=60), store, None, None,  # type: ignore[arg-type]
                           lambda: None, lambda: None)


async def test_callers_of_the_same_moment_share_one_load_and_then_the_cached_copy() -> None:
    store = CountingStore()
    service = core(store)
    policies = await asyncio.gather(*(service.policy("t1") for _ in range(50)))
    assert store.loads == 1 and all(p == policies[0] for p in policies)
    await service.policy("t1")
    assert store.loads == 1  # cached
    service.forget_config("t1")
    await service.policy("t1")
    assert store.loads == 2


async def test_a_failed_load_fails_its_callers_and_the_next_call_loads_again() -> None:
    store = CountingStore()
    store.fail = True
    service = core(store)
    results = await asyncio.gather(*(service.policy("t1") for _ in range(5)), return_exceptions=True)
    assert store.loads == 1 and all(isinstance(r, RuntimeError) for r in results)
    store.fail = False
    assert await service.policy("t1") == AllocationPolicy()
    assert store.loads == 2


async def test_a_caller_that_gives_up_does_not_cancel_the_load_of_the_others() -> None:
    store = CountingStore()
    service = core(store)
    impatient = asyncio.ensure_future(service.policy("t1"))
    patient = asyncio.ensure_future(service.policy("t1"))
    await asyncio.sleep(0)
    impatient.cancel()
    assert await patient == AllocationPolicy()
    with pytest.raises(asyncio.CancelledError):
        await impatient
    assert store.loads == 1
