"""A benchmark's background reader of a run's events: every record of the given topics from the beginning, no
consumer group, the run's tenant only, each handed to `seen(record, event)` as it comes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer


class TenantReader:
    def __init__(self, bootstrap: str, tenant: str, topics: Iterable[str]) -> None:
        self.tenant = tenant
        self.consumer = AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap, group_id=None,
                                         auto_offset_reset="earliest", enable_auto_commit=False, fetch_max_wait_ms=50)
        self.task: asyncio.Task[None] | None = None

    def seen(self, record: Any, event: dict[str, Any]) -> None:
        raise NotImplementedError

    async def start(self) -> None:
        await self.consumer.start()
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for record in self.consumer:
            event = json.loads(record.value)
            if event.get("tenantid") == self.tenant:
                self.seen(record, event)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
            await self.consumer.stop()
