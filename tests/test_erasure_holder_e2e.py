"""An erased lead that an agent holds is closed under its holder: the allocator announces it (allocation.closed.v1)
so the agent's console and the metrics let go of it, once however often the erasure request is delivered. On the
real broker with the allocator running."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from floor_support import pooled_lead, put_agents

from telesales_testkit.auth import auth_headers
from telesales_testkit.harness import cloudevent, wait_until
from telesales_testkit.kafka import TopicTail

ERASED_REASON = "the person's data was erased"


async def test_an_erased_held_lead_is_closed_under_its_holder_once(
        infra: Any, producer: AIOKafkaProducer, http_allocator: httpx.AsyncClient, allocator: Any) -> None:
    tenant = f"e2e-{uuid.uuid4().hex[:10]}"
    admin = {"X-Tenant-Id": tenant}
    await put_agents(http_allocator, tenant, [("li-si", "agent")])
    lead_id = await pooled_lead(producer, http_allocator, tenant)
    li = auth_headers("agent", "li-si", tenant=tenant, team="mba")
    claimed = await http_allocator.post("/v1/agents/li-si/claims", headers=li, json={"tier_id": "fresh", "count": 1})
    assert claimed.status_code == 200 and claimed.json()["leads"][0]["lead_id"] == lead_id, claimed.text

    async with TopicTail(infra.kafka_bootstrap, "allocation.closed.v1") as tail:
        for _ in range(2):  # two requests for the same lead (a repeat from the privacy desk): one announcement
            request = {"request_id": f"erasure-{uuid.uuid4().hex}", "lead_ids": [lead_id], "reason": "request"}
            await producer.send_and_wait("privacy.erasure-requested.v1", cloudevent(
                "privacy.erasure-requested.v1", tenant, request, event_id=str(uuid.uuid4()),
                time=datetime.now(UTC).isoformat(), source="/e2e"), key=request["request_id"].encode())

        async def closed() -> Any:
            await tail.poll()
            found = [e for e in tail.events["allocation.closed.v1"]
                     if e.get("tenantid") == tenant and e["data"]["lead_id"] == lead_id]
            return found or None
        [first] = await wait_until(closed, what="allocation.closed.v1 for the erased held lead")
        records = allocator.app.state.store.db["erasures"]
        await wait_until(lambda: _count(records, tenant, 2), what="both requests handled")
        await asyncio.sleep(1.0)  # the relay publishes within a round: a second announcement would show by now
        await tail.poll()
    events = [e for e in tail.events["allocation.closed.v1"] if e.get("tenantid") == tenant]
    assert len({e["id"] for e in events}) == 1, events
    data = first["data"]
    assert data["agent_id"] == "li-si" and data["team_id"] == "mba" and data["do_not_call"] is True
    assert data["reason"] == ERASED_REASON
    lead = (await http_allocator.get(f"/v1/leads/{lead_id}", headers=admin)).json()
    assert lead["status"] == "erased" and lead["holder"] is None and lead["phone"] is None
    mine = await http_allocator.get("/v1/agents/li-si/leads", headers=li)
    assert mine.status_code == 200 and lead_id not in mine.text


async def _count(records: Any, tenant: str, expected: int) -> bool:
    return await records.count_documents({"tenant_id": tenant}) >= expected
