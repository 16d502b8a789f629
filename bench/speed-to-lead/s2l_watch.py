"""What the speed-to-lead benchmark watches besides the agents' screens: the events that tell how far each
lead got (leads.qualified.v1 and allocation.assigned.v1, read into the timeline with their Kafka timestamps)."""

from __future__ import annotations

from typing import Any

from s2l_timeline import Timeline

from telesales_contracts.topics import ALLOCATION_ASSIGNED, LEADS_QUALIFIED
from telesales_testkit.tenant_reader import TenantReader


class Reader(TenantReader):
    """Reads leads.qualified.v1 and allocation.assigned.v1 of the run's tenant into the timeline."""

    def __init__(self, bootstrap: str, tenant: str, timeline: Timeline) -> None:
        super().__init__(bootstrap, tenant, (LEADS_QUALIFIED.name, ALLOCATION_ASSIGNED.name))
        self.timeline = timeline

    def seen(self, record: Any, event: dict[str, Any]) -> None:
        data, at = event["data"], record.timestamp / 1000
        if record.topic == LEADS_QUALIFIED.name:
            self.timeline.qualified(received_event_id=data["touch"]["event_id"], lead_id=data["lead_id"], at=at)
        else:
            self.timeline.pushed(event_id=event["id"], lead_id=data["lead_id"], agent=data["agent_id"],
                                 assigned_by=data["assigned_by"], at=at)
