"""Who saw which number (telesales_runtime.access_log), on the real MongoDB and Redis: answers that show
numbers in full are logged once each, masked ones are not; the hourly unmasking budget (shared by replicas
through Redis) masks past it, says why and announces it once; operators and auditors read the log, nobody
edits it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from allocator.events import PRODUCED_TOPICS
from allocator.main import create_app
from allocator.settings import AllocatorSettings
from allocator_support import Harness
from telesales_runtime.access_log import UnmaskBudget
from telesales_testkit.harness import in_memory_harness

BUDGET = 3
EXCEEDED = "security.unmask-budget-exceeded.v1"


@pytest.fixture
async def budgeted(allocator_settings: AllocatorSettings) -> AsyncIterator[Harness]:
    app = create_app(allocator_settings.model_copy(update={"unmask_budget_per_hour": BUDGET}))
    await app.state.store.ensure_indexes()
    await app.state.store.access_log.ensure_indexes(365)
    async with in_memory_harness(app, Harness, base_url="http://allocator", produced=PRODUCED_TOPICS,
                                 relays=[app.state.lead_relay, app.state.outbox_relay], leads=app.state.leads,
                                 roster=app.state.roster, store=app.state.store) as h:
        yield h
    await app.state.leads.guard.client.aclose()
    await app.state.store.client.close()


async def records(harness: Harness, **query: str) -> list[dict[str, Any]]:
    response = await harness.http.get("/v1/access-log", params=query, headers=harness.as_("auditor", "audit-1"))
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def holding(harness: Harness, agent_id: str, count: int) -> list[str]:
    await harness.agent(agent_id)
    ids = await harness.pooled(count)
    response = await harness.http.post(f"/v1/agents/{agent_id}/claims", json={"tier_id": "fresh", "count": count},
                                       headers=harness.as_("agent", agent_id, team="t1"))
    assert response.status_code == 200 and len(response.json()["leads"]) == count, response.text
    return ids


async def test_the_holder_reading_its_lead_is_logged_once_with_route_and_reason(harness: Harness) -> None:
    [lead_id] = await holding(harness, "a1", 1)
    body = (await harness.http.get(f"/v1/leads/{lead_id}", headers=harness.as_("agent", "a1", team="t1"))).json()
    assert not body["phone_masked"] and body["masked_reason"] is None
    mine = await records(harness, user="a1")
    assert [(r["method"], r["route"], r["lead_ids"], r["reason"], r["team"]) for r in mine] == [
        ("GET", "/v1/leads/{lead_id}", [lead_id], "holder", "t1"),
        ("POST", "/v1/agents/{agent_id}/claims", [lead_id], "holder", "t1")]


async def test_a_list_logs_one_record_naming_every_lead_in_full_and_masked_answers_none(harness: Harness) -> None:
    ids = await holding(harness, "a1", 3)
    await harness.agent("a2")
    listed = await harness.http.get("/v1/agents/a1/leads", headers=harness.as_("agent", "a1", team="t1"))
    assert listed.status_code == 200 and len(listed.json()["items"]) == 3
    [record] = await records(harness, user="a1", since=(datetime.now(UTC) - timedelta(seconds=5)).isoformat(),
                             until=(datetime.now(UTC) + timedelta(seconds=5)).isoformat(), limit="1")
    assert record["route"] == "/v1/agents/{agent_id}/leads" and sorted(record["lead_ids"]) == sorted(ids)
    # a pool (masked for everyone), an operator (masked) and another agent's refusal are not logged
    await harness.pooled(2)
    pool = await harness.http.get("/v1/pools/education/leads", headers=harness.as_("agent", "a2", team="t1"))
    assert pool.status_code == 200 and all(i["phone_masked"] for i in pool.json()["items"])
    ops = await harness.http.get(f"/v1/leads/{ids[0]}", headers=harness.as_("operator", "ops-1"))
    assert ops.status_code == 200 and ops.json()["phone_masked"]
    assert await records(harness, user="a2") == [] and await records(harness, user="ops-1") == []
    assert [r["user"] for r in await records(harness, lead_id=ids[1])] == ["a1", "a1"]  # the list, the claim


async def test_the_log_pages_and_filters_by_lead(harness: Harness) -> None:
    [lead_id] = await holding(harness, "a1", 1)
    for _ in range(4):
        await harness.http.get(f"/v1/leads/{lead_id}", headers=harness.as_("agent", "a1", team="t1"))
    seen: list[str] = []
    cursor = None
    auditor = harness.as_("auditor", "audit-1")
    while True:
        page = (await harness.http.get("/v1/access-log", headers=auditor, params={
            "lead_id": lead_id, "limit": 2, **({"cursor": cursor} if cursor else {})})).json()
        seen += [r["at"] for r in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 5 and seen == sorted(seen, reverse=True)
    assert await records(harness, lead_id="another-lead") == []
    later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    assert await records(harness, lead_id=lead_id, since=later) == []
    assert len(await records(harness, lead_id=lead_id, until=later)) == 5
    backwards = await harness.http.get("/v1/access-log", params={"since": later, "until": later}, headers=auditor)
    assert backwards.status_code == 400 and backwards.headers["content-type"] == "application/problem+json"
    bad = await harness.http.get("/v1/access-log", params={"cursor": "nope"}, headers=auditor)
    assert bad.status_code == 400 and bad.headers["content-type"] == "application/problem+json"


async def test_supervisors_and_agents_cannot_read_the_log_and_no_route_edits_it(harness: Harness) -> None:
    for role in ("agent", "supervisor"):
        refused = await harness.http.get("/v1/access-log", headers=harness.as_(role, f"x-{role}", team="t1"))
        assert refused.status_code == 403 and refused.json()["code"] == "forbidden_role"
    for method in ("PUT", "PATCH", "DELETE", "POST"):
        for path in ("/v1/access-log", "/v1/access-log/x"):
            edit = await harness.http.request(method, path, headers=harness.as_("admin", "root"))
            assert edit.status_code in (404, 405), (method, path, edit.status_code)
    operator = await harness.http.get("/v1/access-log", headers=harness.as_("operator", "ops-1"))
    assert operator.status_code == 200


async def test_the_log_forgets_after_its_retention(harness: Harness) -> None:
    log = harness.store.access_log
    await log.ensure_indexes(30)
    await log.ensure_indexes(365)  # a changed retention changes the index, not a second one
    indexes = {i["name"]: i async for i in await log.collection.list_indexes()}
    assert indexes["retention"]["expireAfterSeconds"] == 365 * 86400


async def test_past_the_budget_numbers_stay_masked_replicas_share_the_count_and_it_is_announced_once(
        budgeted: Harness, allocator_settings: AllocatorSettings) -> None:
    harness = budgeted
    await harness.agent("sup-1", role="supervisor")
    await harness.agent("sup-other", role="supervisor", team_id="t2")
    ids = await holding(harness, "a1", 2)  # 2 of 3
    agent = harness.as_("agent", "a1", team="t1")
    replica = create_app(allocator_settings.model_copy(update={"unmask_budget_per_hour": BUDGET}))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=replica), base_url="http://replica") as other:
        third = await other.get(f"/v1/leads/{ids[0]}", headers=agent)
        assert not third.json()["phone_masked"], third.text  # 3 of 3, on the other replica
        fourth = await harness.http.get(f"/v1/leads/{ids[1]}", headers=agent)
        later = await other.get("/v1/agents/a1/leads", headers=agent)
    await replica.state.leads.guard.client.aclose()
    await replica.state.store.client.close()
    body = fourth.json()
    assert body["phone_masked"] and "****" in body["phone"] and body["name"] == "张**"
    assert body["masked_reason"] == "unmask_budget_exceeded"
    assert fourth.headers["X-Masked-Reason"] == "unmask_budget_exceeded"
    assert all(i["masked_reason"] == "unmask_budget_exceeded" for i in later.json()["items"])
    assert len(await records(harness, user="a1")) == 2  # the claim and the read within the budget
    await harness.relay()
    [event] = harness.of(EXCEEDED)
    assert event["subject"] == "a1"
    assert {k: event["data"][k] for k in ("user_id", "team_id", "supervisors", "budget", "count", "service")} == {
        "user_id": "a1", "team_id": "t1", "supervisors": ["sup-1"], "budget": BUDGET, "count": 4,
        "service": "allocator"}
    # the next hour starts afresh (the counter is per hour)
    budget = harness.http._transport.app.state.disclosure.budget  # type: ignore[attr-defined]
    next_hour = await budget.take(tenant=harness.tenant, user="a1", count=1, budget=BUDGET,
                                  at=datetime.now(UTC) + timedelta(hours=1))
    assert next_hour.allowed and next_hour.used == 1


async def test_without_redis_the_budget_fails_closed(budgeted: Harness) -> None:
    [lead_id] = await holding(budgeted, "a1", 1)
    disclosure = budgeted.http._transport.app.state.disclosure  # type: ignore[attr-defined]
    working = disclosure.budget
    from telesales_runtime.redis_client import connect_redis
    unreachable = connect_redis("redis://127.0.0.1:1/0")
    disclosure.budget = UnmaskBudget(unreachable)
    try:
        body = await budgeted.http.get(f"/v1/leads/{lead_id}", headers=budgeted.as_("agent", "a1", team="t1"))
    finally:
        disclosure.budget = working
        await unreachable.aclose()
    assert body.json()["phone_masked"] and body.json()["masked_reason"] == "unmask_budget_unavailable"
    assert body.headers["X-Masked-Reason"] == "unmask_budget_unavailable"
    assert budgeted.of(EXCEEDED) == []




async def test_a_tenant_sets_its_own_budget_in_its_policy(harness: Harness) -> None:
    policy = await harness.http.put("/v1/config/policy", json={"unmask_budget_per_hour": 1})
    assert policy.status_code == 200, policy.text
    ids = await holding(harness, "a1", 1)  # 1 of 1
    again = await harness.http.get(f"/v1/leads/{ids[0]}", headers=harness.as_("agent", "a1", team="t1"))
    assert again.json()["masked_reason"] == "unmask_budget_exceeded"  # the service's 200 does not apply
    bad = await harness.http.put("/v1/config/policy", json={"unmask_budget_per_hour": -1})
    assert bad.status_code in (400, 422) and bad.headers["content-type"] == "application/problem+json"


async def test_a_supervisor_s_acts_on_a_lead_are_logged_rejecting_a_win_too(harness: Harness) -> None:
    [lead_id] = await holding(harness, "a1", 1)
    await harness.agent("s1", role="supervisor", team_id="t1")
    won = await harness.http.post(f"/v1/leads/{lead_id}/win", json={"agent_id": "a1", "amount_fen": 500_000},
                                  headers=harness.as_actor("a1"))
    assert won.status_code == 200, won.text
    rejected = await harness.http.post(f"/v1/leads/{lead_id}/win/rejection", json={"reason": "no payment"},
                                       headers=harness.as_actor("s1"))
    assert rejected.status_code == 200 and not rejected.json()["phone_masked"], rejected.text
    assert [(r["method"], r["route"], r["lead_ids"], r["reason"]) for r in await records(harness, user="s1")] == [
        ("POST", "/v1/leads/{lead_id}/win/rejection", [lead_id], "supervisor")]
