"""Who saw what, across services on the real broker: the allocator (a process of its own) logs an agent
reading its lead in full; once the agent's hourly unmasking budget is spent (the count is shared in Redis by
every replica and service: here spent beforehand, as other services would), the next answer is masked with
its reason, and the console, consuming security.unmask-budget-exceeded.v1, tells the agent's supervisor and
the agent."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from floor_support import pooled_lead, put_agents

from console_support import console_on_the_stack
from telesales_runtime.access_log import DEFAULT_UNMASK_BUDGET, UnmaskBudget
from telesales_runtime.redis_client import connect_redis
from telesales_testkit.auth import auth_headers
from telesales_testkit.harness import wait_until


@pytest.fixture(scope="module")
async def console(infra: Any, allocator: Any, tmp_path_factory: pytest.TempPathFactory
                  ) -> AsyncIterator[httpx.AsyncClient]:
    """The console's BFF in-process, its consumer of notifications on the real broker."""
    async with console_on_the_stack(infra, tmp_path_factory.mktemp("console"), allocator_url=allocator.base_url,
                                    group="console-e2e") as http:
        yield http


async def test_past_the_budget_the_supervisor_and_the_agent_are_told(
    infra: Any, producer: AIOKafkaProducer, http_allocator: httpx.AsyncClient, console: httpx.AsyncClient,
) -> None:
    tenant = f"e2e-{uuid.uuid4().hex[:10]}"
    await put_agents(http_allocator, tenant, [("zhang-san", "agent"), ("sup-wang", "supervisor")])
    lead_id = await pooled_lead(producer, http_allocator, tenant)
    zhang = auth_headers("agent", "zhang-san", tenant=tenant, team="mba")
    claimed = await http_allocator.post("/v1/agents/zhang-san/claims", headers=zhang,
                                        json={"tier_id": "fresh", "count": 1})
    assert claimed.status_code == 200 and not claimed.json()["leads"][0]["phone_masked"], claimed.text

    logged = await http_allocator.get("/v1/access-log", params={"user": "zhang-san", "lead_id": lead_id},
                                      headers=auth_headers("auditor", "audit-1", tenant=tenant))
    assert [r["route"] for r in logged.json()["items"]] == ["/v1/agents/{agent_id}/claims"], logged.text

    # the rest of the hour's budget spent elsewhere (this hour and the next, should the hour turn meanwhile)
    redis = connect_redis(infra.redis_url)
    budget = UnmaskBudget(redis)
    for at in (datetime.now(UTC), datetime.now(UTC) + timedelta(hours=1)):
        await budget.take(tenant=tenant, user="zhang-san", count=DEFAULT_UNMASK_BUDGET - 1, budget=0, at=at)
    await redis.aclose()
    masked = await http_allocator.get(f"/v1/leads/{lead_id}", headers=zhang)
    assert masked.json()["phone_masked"] and masked.json()["masked_reason"] == "unmask_budget_exceeded"
    assert masked.headers["X-Masked-Reason"] == "unmask_budget_exceeded"
    # through the console's proxy (what the web app reads), the reason and its header come along
    proxied = await console.get(f"/api/allocator/v1/leads/{lead_id}", headers=zhang)
    assert proxied.status_code == 200, proxied.text
    assert proxied.json()["masked_reason"] == "unmask_budget_exceeded"
    assert proxied.headers["X-Masked-Reason"] == "unmask_budget_exceeded"

    async def told(user: str, role: str) -> Any:
        page = (await console.get("/v1/notifications", headers=auth_headers(role, user, tenant=tenant,
                                                                            team="mba"))).json()
        return [n for n in page["items"] if n["kind"] == "unmask_budget_exceeded"] or None
    [supervisor] = await wait_until(lambda: told("sup-wang", "supervisor"), what="the supervisor told")
    assert supervisor["subject"]["user_id"] == "zhang-san" and supervisor["subject"]["for"] == "supervisor"
    assert supervisor["subject"]["budget"] == DEFAULT_UNMASK_BUDGET
    [agent] = await wait_until(lambda: told("zhang-san", "agent"), what="the agent told")
    assert agent["subject"]["for"] == "user"
