"""Background work only one replica may do at a time, round after round (sweeps, gradings): replicas
compete for a MongoDB lease; the holder renews it every round, and another replica takes over once it
has expired (the holder stopped or lost the database)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import PyMongoError

from .lease import MongoLease


class LeasedLoop:
    """Runs `tick()` every `interval_seconds` while this replica holds the lease `name`. A round that
    fails is logged and retried the next round. Subclasses implement `tick()`."""

    def __init__(self, leases: AsyncCollection[dict[str, Any]], name: str, *, interval_seconds: float,
                 lease_seconds: float, enabled: bool = True, task_name: str | None = None) -> None:
        self.interval_seconds = interval_seconds
        self.enabled = enabled
        self.task_name = task_name or name
        # Outlives the pause between rounds, so the leader keeps it while it runs; a round that overlaps
        # another replica's after a takeover must be harmless (every write conditional on what it judged).
        self.lease = MongoLease(leases, name, seconds=lease_seconds + 2 * interval_seconds)
        self.log = logging.getLogger(type(self).__module__)
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    async def tick(self) -> None:
        raise NotImplementedError

    async def start(self) -> None:
        if self.enabled:
            self._task = asyncio.create_task(self._run(), name=self.task_name)

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=30)
            except TimeoutError:
                self._task.cancel()
        await self.lease.release()

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if await self.lease.hold():
                    await self.tick()
            except PyMongoError as error:
                self.log.warning("sweep failed; retried next round", extra={"error": str(error)[:300]})
            except Exception:
                self.log.exception("sweep failed; retried next round")
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=self.interval_seconds)
            except TimeoutError:
                pass
