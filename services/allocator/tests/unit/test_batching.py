"""Calls arriving together are served by one round trip, each caller with its own answer (no I/O)."""

from __future__ import annotations

import asyncio

import pytest

from allocator.batching import Batcher


async def turns() -> None:
    """Let every ready task run (the callers queue up, the batcher sends)."""
    for _ in range(5):
        await asyncio.sleep(0)


class Server:
    def __init__(self) -> None:
        self.batches: list[tuple[str, list[int]]] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def serve(self, key: str, items: list[int]) -> list[int]:
        self.batches.append((key, items))
        await self.gate.wait()
        if -1 in items:
            raise ValueError("bad item")
        return [item * 10 for item in items]


async def test_a_lone_call_is_served_at_once_and_concurrent_calls_share_the_next_batch() -> None:
    server = Server()
    batcher: Batcher[str, int, int] = Batcher(server.serve, max_batch=3)
    server.gate.clear()
    first = asyncio.ensure_future(batcher("t", 1))
    await turns()
    assert server.batches == [("t", [1])]  # sent alone, without waiting for company
    later = [asyncio.ensure_future(batcher("t", n)) for n in (2, 3, 4, 5)]
    other_key = asyncio.ensure_future(batcher("u", 6))
    await turns()
    server.gate.set()
    assert await first == 10
    assert [await f for f in later] == [20, 30, 40, 50]
    assert await other_key == 60
    assert ("t", [2, 3, 4]) in server.batches and ("t", [5]) in server.batches  # at most max_batch each
    assert ("u", [6]) in server.batches
    assert not batcher._queues  # noqa: SLF001 - nothing left waiting


async def test_each_caller_of_a_failed_batch_gets_the_error_and_the_next_batch_still_runs() -> None:
    server = Server()
    batcher: Batcher[str, int, int] = Batcher(server.serve)
    server.gate.clear()
    lone = asyncio.ensure_future(batcher("t", 7))
    await turns()
    bad = [asyncio.ensure_future(batcher("t", n)) for n in (1, -1)]
    await turns()
    server.gate.set()
    assert await lone == 70
    for future in bad:
        with pytest.raises(ValueError, match="bad item"):
            await future
    assert await batcher("t", 2) == 20


async def test_a_result_whose_caller_has_gone_is_handed_back() -> None:
    server = Server()
    handed_back: list[tuple[str, int, int]] = []

    async def orphaned(key: str, item: int, result: int) -> None:
        handed_back.append((key, item, result))

    batcher: Batcher[str, int, int] = Batcher(server.serve, orphaned=orphaned)
    server.gate.clear()
    gone = asyncio.ensure_future(batcher("t", 3))
    stays = asyncio.ensure_future(batcher("t", 4))
    await turns()
    gone.cancel()
    server.gate.set()
    assert await stays == 40
    assert handed_back == [("t", 3, 30)]


async def test_a_batch_answered_with_the_wrong_number_of_results_fails_every_caller() -> None:
    async def short(_: str, items: list[int]) -> list[int]:
        return items[:-1]

    batcher: Batcher[str, int, int] = Batcher(short)
    with pytest.raises(RuntimeError, match="got 0 results"):
        await batcher("t", 1)
