"""Leads move without a person pushing them, on the real broker and database: a lead lead-intake qualifies into
a pool that pushes on arrival is held by an agent at work within a second, with nobody calling an API, and
an agent on a break gets none of them."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from allocator_support import qualified
from telesales_testkit.harness import cloudevent, wait_until

PUSH_DEADLINE_SECONDS = 1.0


def envelope(topic: str, tenant: str, data: dict[str, Any]) -> bytes:
    return cloudevent(topic, tenant, data, event_id=str(uuid.uuid4()), time=datetime.now(UTC).isoformat(),
                      source="/e2e")


async def held_within(allocator: httpx.AsyncClient, headers: dict[str, str], lead_id: str, started: float,
                      timeout: float = 10.0) -> tuple[float, dict[str, Any]]:
    """Seconds from `started` until the lead is held (polled every 20 ms), and the lead."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = await allocator.get(f"/v1/leads/{lead_id}", headers=headers)
        if answer.status_code == 200 and answer.json()["status"] == "held":
            return time.monotonic() - started, answer.json()
        await asyncio.sleep(0.02)
    raise AssertionError(f"lead {lead_id} not held in {timeout} s")


async def test_a_lead_arriving_in_a_push_pool_is_held_within_a_second_by_an_agent_at_work(
    producer: AIOKafkaProducer, http_allocator: httpx.AsyncClient,
) -> None:
    tenant = f"e2e-{uuid.uuid4().hex[:10]}"
    headers = {"X-Tenant-Id": tenant}
    assert (await http_allocator.put("/v1/teams/t1", headers=headers, json={"name": "t1"})).status_code == 200
    for agent_id, status in (("zhang-san", "logged_in"), ("li-si", "on_break")):
        answer = await http_allocator.put(f"/v1/agents/{agent_id}", headers=headers, json={
            "name": agent_id, "team_id": "t1", "business_line": "education"})
        assert answer.status_code == 200, answer.text
        await producer.send_and_wait("agents.status-changed.v1", envelope("agents.status-changed.v1", tenant, {
            "agent_id": agent_id, "status": status, "at": datetime.now(UTC).isoformat()}), key=agent_id.encode())

    async def statuses_known() -> Any:
        answers = [await http_allocator.get(f"/v1/agents/{a}", headers=headers) for a in ("zhang-san", "li-si")]
        return all(a.json()["status"] is not None for a in answers) or None
    await wait_until(statuses_known, what="the agents' working status")
    routing = await http_allocator.put("/v1/config/routing", headers=headers, json=[{
        "pool_id": "edu-push", "business_line": "education",
        "on_arrival": {"team_id": "t1", "strategy": "round_robin"}}])
    assert routing.status_code == 200, routing.text

    for _ in range(3):
        lead_id = uuid.uuid4().hex[:24]
        started = time.monotonic()
        await producer.send_and_wait("leads.qualified.v1", envelope("leads.qualified.v1", tenant, qualified(
            lead_id, phone_e164="+86139" + str(uuid.uuid4().int)[:8])), key=lead_id.encode())
        seconds, lead = await held_within(http_allocator, headers, lead_id, started)
        assert seconds < PUSH_DEADLINE_SECONDS, f"held after {seconds:.3f} s"
        print(f"push on arrival: lead held {seconds * 1000:.0f} ms after it was published")
        assert (lead["pool_id"], lead["holder"]) == ("edu-push", "zhang-san")  # li-si is on a break
    history = (await http_allocator.get(f"/v1/leads/{lead_id}/history", headers=headers)).json()
    assert [e.get("via") for e in history["entries"] if e["kind"] == "assigned"] == ["round_robin"]
