"""Calls that arrive together, served by one round trip (group commit for reads and small writes).

A claim makes a few small round trips of its own (its agent's lock, its agent and holding count, the
release). Made one by one, each costs the database or Redis a whole command and this process a whole
network exchange; a busy floor's claims are then bound by those commands, not by the leads they take.
A `Batcher` queues the calls of one key: while one batch is at the server the next one gathers, so a
lone call is sent at once (no waiting for company) and concurrent calls share one command. Each caller
still gets its own answer, or the batch's error."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")
R = TypeVar("R")


@dataclass(eq=False)
class _Queue(Generic[T, R]):
    waiting: list[tuple[T, asyncio.Future[R]]] = field(default_factory=list)
    serving: asyncio.Task[None] | None = None  # the task serving the batches (a reference keeps it alive)


class Batcher(Generic[K, T, R]):
    """`await batcher(key, item)`: the item's result from `serve(key, items)`, which answers a batch of
    items of one key with one result per item, in order. `orphaned(key, item, result)`, when given, is
    told of a result whose caller has gone (cancelled) meanwhile, e.g. to release a lock it was given."""

    def __init__(self, serve: Callable[[K, list[T]], Awaitable[Sequence[R]]], *, max_batch: int = 64,
                 orphaned: Callable[[K, T, R], Awaitable[None]] | None = None) -> None:
        self.serve = serve
        self.max_batch = max_batch
        self.orphaned = orphaned
        self._queues: dict[K, _Queue[T, R]] = {}

    async def __call__(self, key: K, item: T) -> R:
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = _Queue()
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        queue.waiting.append((item, future))
        if queue.serving is None:
            queue.serving = asyncio.get_running_loop().create_task(self._work(key, queue))
        return await future

    async def _work(self, key: K, queue: _Queue[T, R]) -> None:
        try:
            while queue.waiting:
                batch = queue.waiting[:self.max_batch]
                del queue.waiting[:self.max_batch]
                await self._serve_batch(key, batch)
        finally:
            for _, future in queue.waiting:  # only when cancelled
                if not future.done():
                    future.set_exception(RuntimeError("the service stopped"))
            queue.waiting.clear()
            queue.serving = None
            if self._queues.get(key) is queue:
                del self._queues[key]

    async def _serve_batch(self, key: K, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results = await self.serve(key, [item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"a batch of {len(batch)} got {len(results)} results")
        except Exception as error:  # each caller of the batch gets the error
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        except BaseException as error:
            for _, future in batch:
                if not future.done():
                    future.set_exception(RuntimeError(repr(error)))
            raise
        for (item, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
            elif self.orphaned is not None:
                try:
                    await self.orphaned(key, item, result)
                except Exception:
                    log.warning("could not undo the result of a call whose caller has gone", exc_info=True)
