"""What the speed-to-lead benchmark watches besides the agents' screens: the events that tell how far each
lead got (leads.qualified.v1 and allocation.assigned.v1, read into the timeline with their Kafka timestamps)."""

from __future__ import annotations

import asyncio
import json

from aiokafka import AIOKafkaConsumer
from s2l_timeline import Timeline

from telesales_contracts.topics import ALLOCATION_ASSIGNED, LEADS_QUALIFIED


class Reader:
    """Reads leads.qualified.v1 and allocation.assigned.v1 of the run's tenant into the timeline."""

    def __init__(self, bootstrap: str, tenant: str, timeline: Timeline) -> None:
        self.tenant, self.timeline = tenant, timeline
        self.consumer = AIOKafkaConsumer(LEADS_QUALIFIED.name, ALLOCATION_ASSIGNED.name, bootstrap_servers=bootstrap,
                                         group_id=None, auto_offset_reset="earliest", enable_auto_commit=False,
                                         fetch_max_wait_ms=50)
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.consumer.start()
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for record in self.consumer:
            event = json.loads(record.value)
            if event.get("tenantid") != self.tenant:
                continue
            data, at = event["data"], record.timestamp / 1000
            if record.topic == LEADS_QUALIFIED.name:
                self.timeline.qualified(received_event_id=data["touch"]["event_id"], lead_id=data["lead_id"], at=at)
            else:
                self.timeline.pushed(event_id=event["id"], lead_id=data["lead_id"], agent=data["agent_id"],
                                     assigned_by=data["assigned_by"], at=at)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
            await self.consumer.stop()
