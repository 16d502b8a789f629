"""lead-intake, the allocator and metrics end to end on the real broker and database: a lead from an outside
system reaches a pool, an agent claims it, a hot moment reaches the agent, and the agent declares a win:
neither lead-intake's scoring model nor metrics' paid step moves until the supervisor confirms it; the
agent's win counts only once the CRM's order confirms it, and a lost order rejects it."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from telesales_testkit.auth import auth_headers
from telesales_testkit.harness import cloudevent, wait_until
from telesales_testkit.kafka import TopicTail

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "lead-received.json"
TOPICS = ("leads.qualified.v1", "allocation.claimed.v1", "allocation.won.v1", "allocation.hot-lead.v1", "leads.outcome.v1",
          "allocation.win-confirmed.v1", "allocation.win-rejected.v1")


@pytest.fixture
async def tail(infra: Any, allocator: Any, lead_intake: Any) -> AsyncIterator[TopicTail]:
    async with TopicTail(infra.kafka_bootstrap, *TOPICS) as tail:
        yield tail


def envelope(topic: str, tenant: str, data: dict[str, Any]) -> bytes:
    return cloudevent(topic, tenant, data, event_id=str(uuid.uuid4()), time=datetime.now(UTC).isoformat(),
                      source="/e2e")


async def paid_and_declared(metrics: Any, tenant: str) -> tuple[int, int]:
    """metrics' word: leads at the funnel's paid step, and wins declared in the pool (all time)."""
    async with httpx.AsyncClient(base_url=metrics.base_url, timeout=30,
                                 headers=auth_headers("operator", "ops-e2e", tenant=tenant)) as http:
        leads = (await http.get("/v1/funnels/leads", params={"period": "range"})).json()["rows"]
        pool = (await http.get("/v1/funnels/pool", params={"period": "range"})).json()["rows"]
    paid = sum(s["count"] for row in leads for s in row["steps"] if s["step"] == "paid")
    return paid, sum(row["won"] for row in pool)


async def test_a_lead_is_pooled_claimed_made_hot_and_won_across_services(
    tail: TopicTail, producer: AIOKafkaProducer, http_allocator: httpx.AsyncClient,
    http_intake: httpx.AsyncClient, allocator: Any, lead_intake: Any, metrics: Any,
) -> None:
    tenant = f"e2e-{uuid.uuid4().hex[:10]}"
    headers = {"X-Tenant-Id": tenant}
    mine = lambda e: e["tenantid"] == tenant and e["source"] == allocator.source  # noqa: E731
    agent = await http_allocator.put("/v1/agents/zhang-san", headers=headers,
                                     json={"name": "张三", "team_id": "mba", "business_line": "education"})
    assert agent.status_code == 200, agent.text
    supervisor = await http_allocator.put("/v1/agents/wang-zhu", headers=headers, json={
        "name": "王主管", "role": "supervisor", "team_id": "mba", "business_line": "education"})
    assert supervisor.status_code == 200, supervisor.text

    event = json.loads(EXAMPLE.read_text(encoding="utf-8")) | {"id": str(uuid.uuid4()), "tenantid": tenant}
    event["data"]["form_lead_id"] = "F-77"  # an extra field of the web form
    event["data"]["source_lead_id"] = "F-77"  # and its own id of the lead: the outcome answers with it
    await producer.send_and_wait("leads.received.v1", json.dumps(event).encode(), key=b"+8613924681357")

    # (a `make up` lead-intake on the same broker may qualify the lead too: ours is the one to follow)
    qualified = await tail.wait_for("leads.qualified.v1",
                                    lambda e: e["tenantid"] == tenant and e["source"] == lead_intake.source)

    async def pooled() -> Any:
        page = (await http_allocator.get("/v1/pools/education/leads", headers=headers)).json()
        return [item for item in page["items"] if item["lead_id"] == qualified["data"]["lead_id"]]
    [lead] = await wait_until(pooled)
    assert lead["phone"] == "+86139****1357" and lead["status"] == "pooled"

    claim = await http_allocator.post("/v1/agents/zhang-san/claims", json={"tier_id": "fresh", "count": 5},
                                      headers=headers | auth_headers("agent", "zhang-san", tenant=tenant))
    assert claim.status_code == 200, claim.text
    assert lead["lead_id"] in [c["lead_id"] for c in claim.json()["leads"]]
    claimed = await tail.wait_for("allocation.claimed.v1", lambda e: mine(e) and e["data"]["lead_id"] == lead["lead_id"])
    assert claimed["data"]["agent_id"] == "zhang-san" and claimed["data"]["lead_id"] == lead["lead_id"]

    sent = time.monotonic()
    await producer.send_and_wait("leads.signal.v1", envelope("leads.signal.v1", tenant, {
        "phone_e164": "+8613924681357", "kind": "unpaid_order", "occurred_at": datetime.now(UTC).isoformat()}))
    hot = await tail.wait_for("allocation.hot-lead.v1", lambda e: mine(e) and e["data"]["lead_id"] == lead["lead_id"])
    assert hot["data"]["agent_id"] == "zhang-san" and hot["data"]["routed"] == "holder"
    assert time.monotonic() - sent < 10

    won = await http_allocator.post(f"/v1/leads/{lead['lead_id']}/win", json={"agent_id": "zhang-san",
                                                                              "amount_fen": 1_280_000},
                                    headers=headers | auth_headers("agent", "zhang-san", tenant=tenant))
    assert won.status_code == 200, won.text
    assert (await tail.wait_for("allocation.won.v1", mine))["data"]["amount_fen"] == 1_280_000

    # declared, not confirmed: metrics counted the declaration in the pool, and the lead is not paid; no outcome
    # went to lead-intake, whose model learned nothing
    async def declaration_counted() -> Any:
        return await paid_and_declared(metrics, tenant) == (0, 1)
    assert await wait_until(declaration_counted, timeout=60)
    await tail.poll()
    assert [e for e in tail.events["leads.outcome.v1"] if mine(e)] == []
    models = (await http_intake.get("/v1/scoring/models", headers=headers)).json()
    assert [m for m in models if m.get("won")] == []

    # the supervisor confirms: now lead-intake learns the win and metrics pays the lead, once
    confirmed = await http_allocator.post(f"/v1/leads/{lead['lead_id']}/win/confirmation", json={"order_ref": "SO-1"},
                                          headers=headers | auth_headers("supervisor", "wang-zhu", tenant=tenant,
                                                                         team="mba"))
    assert confirmed.status_code == 200 and confirmed.json()["win"]["state"] == "confirmed", confirmed.text
    outcome = await tail.wait_for("leads.outcome.v1", mine)
    assert outcome["data"] == {"lead_id": lead["lead_id"], "outcome": "won", "business_line": "education",
                               "amount_fen": 1_280_000, "source_system": None, "external_id": None,
                               "external_refs": [{"source_system": "/web/landing/mba-2027", "external_id": "F-77"}],
                               "order_ref": "SO-1"}

    async def learned() -> Any:  # lead-intake consumed the outcome: its model of the line counts one win
        models = (await http_intake.get("/v1/scoring/models", headers=headers)).json()
        return [m for m in models if m.get("won") == 1]
    assert await wait_until(learned)

    async def paid() -> Any:
        return await paid_and_declared(metrics, tenant) == (1, 1)
    assert await wait_until(paid, timeout=60)


async def declared_win(http_allocator: httpx.AsyncClient, producer: AIOKafkaProducer, tenant: str, agent_id: str,
                       phone: str, crm_id: str) -> tuple[str, dict[str, str]]:
    """An agent of team mba claims a lead the CRM knows as `crm_id` and declares it won (unconfirmed): the
    lead's id and the agent's headers."""
    headers = {"X-Tenant-Id": tenant}
    agent = await http_allocator.put(f"/v1/agents/{agent_id}", headers=headers,
                                     json={"name": agent_id, "team_id": "mba", "business_line": "education"})
    assert agent.status_code == 200, agent.text
    lead_id = f"L-{uuid.uuid4().hex[:12]}"
    qualified = {
        "lead_id": lead_id, "phone_e164": phone, "email": None, "name": "李", "company": None,
        "channel": "search_ads_seo", "channel_raw": None, "business_line": "education", "product_interest": "MBA",
        "region": None, "carrier": None, "number_type": "mobile", "number_check": None, "score": 70, "grade": "B",
        "score_breakdown": [], "model": None, "notes": None, "attributes": {},
        "external_refs": [{"source_system": "/crm/partner-x", "external_id": crm_id}],
        "touch": {"event_id": str(uuid.uuid4()), "source": "/crm/partner-x", "channel": "search_ads_seo",
                  "channel_raw": None, "received_at": datetime.now(UTC).isoformat()}}
    await producer.send_and_wait("leads.qualified.v1", envelope("leads.qualified.v1", tenant, qualified))
    agent_headers = headers | auth_headers("agent", agent_id, tenant=tenant)

    async def claimed() -> Any:
        claim = await http_allocator.post(f"/v1/agents/{agent_id}/claims", json={"tier_id": "fresh", "count": 1},
                                          headers=agent_headers)
        return claim.status_code == 200 and claim.json()["claimed"] == 1
    assert await wait_until(claimed)
    won = await http_allocator.post(f"/v1/leads/{lead_id}/win", json={"agent_id": agent_id, "amount_fen": 900_000},
                                    headers=agent_headers)
    assert won.status_code == 200 and won.json()["win"]["state"] == "unconfirmed", won.text
    return lead_id, agent_headers


async def test_the_crms_order_confirms_the_agents_win_over_the_broker(
    tail: TopicTail, producer: AIOKafkaProducer, http_allocator: httpx.AsyncClient, allocator: Any,
) -> None:
    tenant = f"e2e-{uuid.uuid4().hex[:10]}"
    mine = lambda e: e["tenantid"] == tenant and e["source"] == allocator.source  # noqa: E731
    lead_id, agent_headers = await declared_win(http_allocator, producer, tenant, "li-si", "+8613700001111", "PX-9")

    # the CRM names the lead by its own id and says what the order was for
    await producer.send_and_wait("leads.outcome.v1", cloudevent(
        "leads.outcome.v1", tenant, {"crm_id": "PX-9", "outcome": "won", "amount_fen": 600_000, "order_ref": "SO-77"},
        event_id=str(uuid.uuid4()), time=datetime.now(UTC).isoformat(), source="/crm/partner-x"))
    confirmed = await tail.wait_for("allocation.win-confirmed.v1", mine)
    assert (confirmed["data"]["lead_id"], confirmed["data"]["agent_id"], confirmed["data"]["amount_fen"],
            confirmed["data"]["confirmed_by"], confirmed["data"]["order_ref"]) == (
        lead_id, "li-si", 600_000, "order", "SO-77")
    page = (await http_allocator.get(f"/v1/leads/{lead_id}", headers=agent_headers)).json()
    assert (page["win"]["state"], page["win"]["confirmer"], page["buyer"]) == ("confirmed", "/crm/partner-x", True)


async def test_the_crms_lost_order_rejects_the_agents_win_over_the_broker(
    tail: TopicTail, producer: AIOKafkaProducer, http_allocator: httpx.AsyncClient, allocator: Any,
) -> None:
    tenant = f"e2e-{uuid.uuid4().hex[:10]}"
    mine = lambda e: e["tenantid"] == tenant and e["source"] == allocator.source  # noqa: E731
    lead_id, agent_headers = await declared_win(http_allocator, producer, tenant, "zhao-liu", "+8613700002222",
                                                "PX-10")

    # the CRM says the order was lost: the win is rejected, the agent holds the lead again and is told why
    await producer.send_and_wait("leads.outcome.v1", cloudevent(
        "leads.outcome.v1", tenant, {"crm_id": "PX-10", "outcome": "lost", "order_ref": "SO-78"},
        event_id=str(uuid.uuid4()), time=datetime.now(UTC).isoformat(), source="/crm/partner-x"))
    rejected = await tail.wait_for("allocation.win-rejected.v1", mine)
    assert (rejected["data"]["lead_id"], rejected["data"]["agent_id"], rejected["data"]["rejected_by"],
            rejected["data"]["rejecter"], rejected["data"]["order_ref"]) == (
        lead_id, "zhao-liu", "order", "/crm/partner-x", "SO-78")
    page = (await http_allocator.get(f"/v1/leads/{lead_id}", headers=agent_headers)).json()
    assert (page["status"], page["holder"], page["win"]["state"], page["buyer"]) == ("held", "zhao-liu", "rejected", False)
