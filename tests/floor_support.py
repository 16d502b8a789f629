"""A small floor on the real allocator, for the cross-service tests: agents on the roster and a qualified lead
published straight to leads.qualified.v1 (as lead-intake would), waited for until it is pooled."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from allocator_support import qualified
from telesales_testkit.harness import cloudevent, wait_until


async def put_agents(allocator: httpx.AsyncClient, tenant: str, agents: Iterable[tuple[str, str]], *,
                     team_id: str = "mba") -> None:
    """(agent id, role) on the tenant's roster, in one team of the education line."""
    for agent_id, role in agents:
        put = await allocator.put(f"/v1/agents/{agent_id}", headers={"X-Tenant-Id": tenant}, json={
            "name": agent_id, "team_id": team_id, "business_line": "education", "role": role})
        assert put.status_code == 200, put.text


async def pooled_lead(producer: AIOKafkaProducer, allocator: httpx.AsyncClient, tenant: str,
                      **overrides: Any) -> str:
    """A new lead's id, once the allocator has it in its pool."""
    lead_id = uuid.uuid4().hex[:24]
    await producer.send_and_wait("leads.qualified.v1", cloudevent(
        "leads.qualified.v1", tenant, qualified(lead_id, **overrides), event_id=str(uuid.uuid4()),
        time=datetime.now(UTC).isoformat(), source="/e2e"), key=lead_id.encode())

    async def pooled() -> Any:
        answer = await allocator.get(f"/v1/leads/{lead_id}", headers={"X-Tenant-Id": tenant})
        return answer.status_code == 200 and answer.json()["status"] == "pooled"
    await wait_until(pooled, what="the lead pooled")
    return lead_id
