"""Background work round after round: in every replica (PeriodicLoop), or only in one at a time (LeasedLoop:
sweeps, gradings): replicas compete for a MongoDB lease; the holder renews it every round, and another
replica takes over once it has expired (the holder stopped or lost the database)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import PyMongoError

from .lease import MongoLease


class PeriodicLoop:
    """Runs `tick()` every `interval_seconds` in the background, in every replica. A round that fails is
    logged and retried the next round. Subclasses implement `tick()`."""

    failure: str = "round failed; retried next round"

    def __init__(self, *, interval_seconds: float, task_name: str, enabled: bool = True) -> None:
        self.interval_seconds = interval_seconds
        self.enabled = enabled
        self.task_name = task_name
        self.log = logging.getLogger(type(self).__module__)
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    async def tick(self) -> None:
        raise NotImplementedError

    async def round(self) -> None:
        await self.tick()

    async def start(self) -> None:
        if self.enabled:
            self._stop.clear()
            self._task = asyncio.create_task(self._run(), name=self.task_name)

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=30)
            except TimeoutError:
                self._task.cancel()

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                await self.round()
            except PyMongoError as error:
                self.log.warning(self.failure, extra={"error": str(error)[:300]})
            except Exception:
                self.log.exception(self.failure)
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=self.interval_seconds)
            except TimeoutError:
                pass


class LeasedLoop(PeriodicLoop):
    """Runs `tick()` every `interval_seconds` while this replica holds the lease `name`. A round that
    fails is logged and retried the next round. Subclasses implement `tick()`."""

    failure = "sweep failed; retried next round"

    def __init__(self, leases: AsyncCollection[dict[str, Any]], name: str, *, interval_seconds: float,
                 lease_seconds: float, enabled: bool = True, task_name: str | None = None) -> None:
        super().__init__(interval_seconds=interval_seconds, task_name=task_name or name, enabled=enabled)
        # Outlives the pause between rounds, so the leader keeps it while it runs; a round that overlaps
        # another replica's after a takeover must be harmless (every write conditional on what it judged).
        self.lease = MongoLease(leases, name, seconds=lease_seconds + 2 * interval_seconds)

    async def round(self) -> None:
        if await self.lease.hold():
            await self.tick()

    async def stop(self) -> None:
        await super().stop()
        await self.lease.release()
