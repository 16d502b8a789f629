"""Claiming (捞取) on the real MongoDB and Redis: best score first, caps, quotas, cooldown, eligibility,
masking, and fifty agents racing for the same pool."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from allocator.domain import DomainError
from allocator.service import LeadService
from allocator.store import BEST_FIRST_SORT, held_count_stages
from allocator.store.claim_writes import claimable_query
from allocator_support import Harness


async def test_a_qualified_lead_lands_in_the_pool_its_routing_rule_names(harness: Harness) -> None:
    response = await harness.http.put("/v1/config/routing", json=[
        {"pool_id": "edu-south", "business_line": "education", "region_prefixes": ["广东"]}])
    assert response.status_code == 200, response.text
    [south] = await harness.pooled(region="广东省深圳市")
    [north] = await harness.pooled(region="北京市")
    assert (await harness.lead(south))["pool_id"] == "edu-south"
    assert (await harness.lead(north))["pool_id"] == "education"


async def test_claim_takes_the_best_scored_leads_first_and_announces_each(harness: Harness) -> None:
    await harness.agent("a1")
    [low] = await harness.pooled(score=40)
    [high] = await harness.pooled(score=90)
    [mid] = await harness.pooled(score=70)
    response = await harness.claim("a1", count=2)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [lead["lead_id"] for lead in body["leads"]] == [high, mid]
    assert body["claimed"] == 2 and body["holding"] == 2
    assert not body["leads"][0]["phone_masked"] and body["leads"][0]["phone"].startswith("+86")
    assert (await harness.lead(low))["status"] == "pooled"
    await harness.relay()
    claimed = harness.of("allocation.claimed.v1")
    assert [e["data"]["lead_id"] for e in claimed] == [high, mid]
    assert claimed[0]["data"] | {"at": None} == {
        "lead_id": high, "agent_id": "a1", "team_id": "t1", "agent_grade": "C", "business_line": "education",
        "pool_id": "education", "score": 90, "lead_grade": "B", "at": None, "tier_id": "fresh"}
    assert claimed[0]["subject"] == high and claimed[0]["tenantid"] == harness.tenant
    lead = await harness.lead(high)
    assert lead.get("outbox") == [] and "outbox_at" not in lead  # relayed and cleared


async def test_browsing_a_pool_masks_numbers_and_only_the_holder_sees_the_full_number(harness: Harness) -> None:
    await harness.agent("a1")
    await harness.agent("a2")
    [lead_id] = await harness.pooled(phone_e164="+8613924681357")
    page = (await harness.http.get("/v1/pools/education/leads")).json()
    assert [item["phone"] for item in page["items"]] == ["+86139****1357"]
    await harness.claim("a1")
    mine = await harness.http.get(f"/v1/leads/{lead_id}", headers=harness.as_actor("a1"))
    theirs = await harness.http.get(f"/v1/leads/{lead_id}", headers=harness.as_actor("a2"))
    assert (mine.json()["phone"], mine.json()["name"]) == ("+8613924681357", "张伟")
    assert (theirs.status_code, theirs.json()["code"]) == (403, "not_your_lead")  # held by another agent
    operator = (await harness.http.get(f"/v1/leads/{lead_id}", headers=harness.as_("operator", "ops-1"))).json()
    assert (operator["phone"], operator["name"], operator["phone_masked"]) == ("+86139****1357", "张**", True)
    await harness.agent("boss", role="supervisor", team_id="t1")  # a1 holds it; boss leads a1's team
    assert (await harness.http.get(f"/v1/leads/{lead_id}", headers=harness.as_actor("boss"))).json()["phone"] \
        == "+8613924681357"


async def test_the_holding_cap_limits_what_a_claim_takes(harness: Harness) -> None:
    await harness.http.put("/v1/config/policy", json={"holding_cap": 3})
    await harness.agent("a1")
    await harness.pooled(5)
    first = (await harness.claim("a1", count=2)).json()
    assert first["claimed"] == 2
    second = (await harness.claim("a1", count=5)).json()
    assert second["granted"] == 1 and second["claimed"] == 1 and second["holding"] == 3
    full = await harness.claim("a1")
    assert full.status_code == 409
    assert full.headers["content-type"] == "application/problem+json"
    assert full.json()["code"] == "holding_cap_reached"


async def test_the_refresh_quota_limits_claims_per_day(harness: Harness) -> None:
    await harness.http.put("/v1/config/policy", json={"refresh_quota": 2})
    await harness.agent("a1")
    [first, *_] = await harness.pooled(4)
    assert (await harness.claim("a1", count=2)).json()["quota_left"] == 0
    await harness.http.post(f"/v1/leads/{first}/close", json={"agent_id": "a1", "reason": "no need"},
                            headers=harness.as_actor("a1"))
    refused = await harness.claim("a1")
    assert refused.status_code == 429 and refused.json()["code"] == "refresh_quota_used"


async def test_an_agent_never_reclaims_a_lead_it_returned_and_the_lead_moves_to_abandoned_pool_1(
        harness: Harness) -> None:
    await harness.agent("a1")
    await harness.agent("a2")
    [lead_id] = await harness.pooled()
    await harness.claim("a1")
    returned = await harness.http.post(f"/v1/leads/{lead_id}/return", json={"agent_id": "a1", "reason": "空号"},
                                       headers=harness.as_actor("a1"))
    assert returned.status_code == 200, returned.text
    assert returned.json()["drop_count"] == 1 and returned.json()["status"] == "pooled"
    assert (await harness.claim("a1", "abandoned-1")).json()["claimed"] == 0
    assert (await harness.claim("a2", "fresh")).json()["claimed"] == 0  # no longer fresh
    taken = (await harness.claim("a2", "abandoned-1")).json()
    assert [lead["lead_id"] for lead in taken["leads"]] == [lead_id]
    await harness.relay()
    [event] = harness.of("allocation.returned.v1")
    assert event["data"]["reason"] == "空号" and event["data"]["drop_count"] == 1


async def test_tiers_open_by_grade_and_by_time_worked_today(harness: Harness) -> None:
    await harness.agent("c1", grade="C")
    await harness.agent("b1", grade="B")
    await harness.pooled(2, attributes={"purchased_yuan": "5000"})  # over the buyer threshold (test_wins.py)
    refused = await harness.claim("c1", "buyer")
    assert refused.status_code == 403 and refused.json()["code"] == "grade_not_allowed"
    too_early = await harness.claim("b1", "buyer")
    assert too_early.status_code == 403 and too_early.json()["code"] == "not_enough_time_worked"
    # 4 hours logged in today (the dialer's status events) open the buyer pool
    start = datetime.now(UTC) - timedelta(hours=4)
    if start.astimezone(harness.leads.tz).date() != datetime.now(UTC).astimezone(harness.leads.tz).date():
        start = datetime.now(UTC).astimezone(harness.leads.tz).replace(hour=0, minute=0, second=1)
        await harness.http.put("/v1/config/tiers", json=[{"tier_id": "buyer", "name": "buyer",
                                                          "filter": {"buyer": True}, "grades": ["A", "B"],
                                                          "min_worked_minutes": 1}])
    await harness.send("agents.status-changed.v1", {"agent_id": "b1", "status": "logged_in", "at": start.isoformat()})
    tiers = (await harness.http.get("/v1/tiers", params={"agent_id": "b1"})).json()
    assert {t["tier_id"]: t["may_open"] for t in tiers}["buyer"] is True
    assert (await harness.claim("b1", "buyer", count=2)).json()["claimed"] == 2


async def test_an_agent_claims_only_for_itself(harness: Harness) -> None:
    await harness.agent("a1")
    await harness.agent("a2")
    await harness.pooled()
    other = await harness.http.post("/v1/agents/a1/claims", json={"tier_id": "fresh"}, headers=harness.as_actor("a2"))
    assert other.status_code == 403
    anonymous = await harness.http.post("/v1/agents/a1/claims", json={"tier_id": "fresh"},
                                        headers={"Authorization": ""})
    assert anonymous.status_code == 401
    unknown_tier = await harness.claim("a1", "nope")
    assert unknown_tier.status_code == 404 and unknown_tier.json()["code"] == "unknown_tier"
    bad = await harness.http.post("/v1/agents/a1/claims", json={"tier_id": "fresh", "count": 0},
                                  headers=harness.as_actor("a1"))
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"


async def test_fifty_agents_claiming_at_once_never_share_a_lead_or_exceed_a_cap(harness: Harness) -> None:
    cap = 3
    await harness.http.put("/v1/config/policy", json={"holding_cap": cap, "refresh_quota": 1000})
    agents = [f"r{n:02d}" for n in range(50)]
    await asyncio.gather(*(harness.agent(a) for a in agents))
    await harness.pooled(120)  # fewer than 50 agents x 3: the pool runs dry while they race

    async def claim(agent: str) -> list[str]:
        response = await harness.claim(agent, count=2)
        if response.status_code == 200:
            return [lead["lead_id"] for lead in response.json()["leads"]]
        # the same agent's other claims were in flight: refused, never over the cap
        assert response.json()["code"] in ("holding_cap_reached", "agent_busy"), response.text
        return []

    async def claim_from_three_devices(agent: str) -> list[str]:
        return [lead for got in await asyncio.gather(*(claim(agent) for _ in range(3))) for lead in got]

    results = await asyncio.gather(*(claim_from_three_devices(a) for a in agents))
    taken = [lead for got in results for lead in got]
    assert len(taken) == len(set(taken))  # never the same lead twice
    assert len(taken) == 120  # and the pool ran dry: the race was real
    assert all(len(got) <= cap for got in results)
    holders = await harness.store.leads.aggregate([
        {"$match": {"tenant_id": harness.tenant, "status": "held"}},
        {"$group": {"_id": "$holder", "n": {"$sum": 1}}}])
    assert max([row["n"] async for row in holders]) <= cap


async def test_claims_in_one_group_skip_only_the_leads_each_agent_dropped(harness: Harness) -> None:
    await harness.agent("a1")
    await harness.agent("a2")
    [best] = await harness.pooled(score=95)
    [second] = await harness.pooled(score=60)  # fresh, never dialed: not in the abandoned tier
    await harness.claim("a1")
    await harness.http.post(f"/v1/leads/{best}/return", json={"agent_id": "a1", "reason": "打错了"},
                            headers=harness.as_actor("a1"))
    await harness.pooled(score=10)  # a third lead nobody needs
    # both claims reach the abandoned tier at once and are served by one group write
    one, two = await asyncio.gather(harness.claim("a1", "abandoned-1"), harness.claim("a2", "abandoned-1"))
    assert one.json()["claimed"] == 0  # a1 dropped the only abandoned lead; it is a2's
    assert [lead["lead_id"] for lead in two.json()["leads"]] == [best]
    assert (await harness.lead(second))["status"] == "pooled"


async def test_two_replicas_claiming_from_one_pool_never_share_a_lead_or_exceed_a_cap(harness: Harness) -> None:
    """Each replica serves its claims in groups; the groups of two replicas race at the database."""
    cap = 4
    await harness.http.put("/v1/config/policy", json={"holding_cap": cap, "refresh_quota": 1000})
    agents = [f"x{n:02d}" for n in range(30)]
    await asyncio.gather(*(harness.agent(a) for a in agents))
    await harness.pooled(90)  # fewer than 30 agents x 4
    first = harness.leads
    second = LeadService(first.settings, first.store, first.guard, first.dead_letters, first.notify_leads,
                         first.notify_outbox)

    async def claim(replica: LeadService, agent: str) -> list[str]:
        try:
            claimed = await replica.claim(tenant=harness.tenant, agent_id=agent, tier_id="fresh", count=2)
            return [lead["_id"] for lead in claimed.leads]
        except DomainError as error:
            assert error.code in ("holding_cap_reached", "agent_busy"), error
            return []

    async def agent_on_both_replicas(agent: str) -> list[str]:
        got = await asyncio.gather(claim(first, agent), claim(second, agent), claim(first, agent),
                                   claim(second, agent))
        return [lead for leads in got for lead in leads]

    results = dict(zip(agents, await asyncio.gather(*(agent_on_both_replicas(a) for a in agents)), strict=True))
    taken = [lead for leads in results.values() for lead in leads]
    assert len(taken) == len(set(taken)) == 90  # never twice, and the pool ran dry
    assert all(len(leads) <= cap for leads in results.values())
    for agent, leads in results.items():
        held = await harness.store.leads.find({"tenant_id": harness.tenant, "holder": agent}, {"_id": 1}).to_list()
        assert sorted(d["_id"] for d in held) == sorted(leads)
    await harness.relay()
    claimed = [e["data"]["lead_id"] for e in harness.of("allocation.claimed.v1")]
    assert sorted(claimed) == sorted(taken)  # one event per lead taken


async def test_claims_arriving_together_read_their_agents_and_holdings_in_one_round_trip(harness: Harness) -> None:
    """The batched read gives each claimer what its own read would: its record and exact holding count."""
    await asyncio.gather(*(harness.agent(a) for a in ("b1", "b2", "b3")))
    await harness.pooled(5)
    assert (await harness.claim("b1", count=2)).status_code == 200
    assert (await harness.claim("b3", count=1)).status_code == 200
    together = await harness.store.agents_and_held_counts(harness.tenant, ["b1", "b2", "b3", "nobody"])
    for agent_id in ("b1", "b2", "b3"):
        doc, held = together[agent_id]
        assert doc == await harness.store.agents.find_one({"tenant_id": harness.tenant, "agent_id": agent_id})
        assert held == await harness.store.leads.count_documents(
            {"tenant_id": harness.tenant, "holder": agent_id, "status": "held"})
    assert [together[a][1] for a in ("b1", "b2", "b3")] == [2, 0, 1]
    assert together["nobody"] == (None, 0)
    assert await harness.store.agent_and_held_count(harness.tenant, "b1") == together["b1"]


async def test_holding_counts_are_read_from_the_index_without_a_lead(harness: Harness) -> None:
    """A push on arrival counts the holdings of every agent at work in the teams it reaches, a claim its
    agent's: fetching each held lead made that grow with the floor's holdings (740 ms for one push)."""
    await asyncio.gather(*(harness.agent(a) for a in ("c1", "c2")))
    await harness.pooled(6)
    assert (await harness.claim("c1", count=4)).status_code == 200
    assert (await harness.claim("c2", count=2)).status_code == 200
    await harness.store.leads.update_many({"holder": "c2"}, {"$set": {"status": "won"}})  # won: holds no more
    assert await harness.store.held_counts(harness.tenant, ["c1", "c2", "c3"]) == {"c1": 4, "c2": 0, "c3": 0}
    explained = await harness.store.leads.database.command(
        "explain", {"aggregate": harness.store.leads.name, "cursor": {},
                    "pipeline": held_count_stages(harness.tenant, ["c1", "c2", "c3"])}, verbosity="executionStats")
    stats = explained.get("executionStats") or explained["stages"][0]["$cursor"]["executionStats"]
    assert stats["totalDocsExamined"] == 0 and stats["totalKeysExamined"] >= 4, stats
    assert "held_by_agent_counted" in str(explained)


async def test_a_fresh_claim_does_not_walk_past_the_dialed_leads_that_outscore_the_fresh_ones(harness: Harness) -> None:
    """Leads dialed and put back keep their scores; the fresh tier's read goes straight to never-dialed ones."""
    dialed = await harness.pooled(40, score=95)
    await harness.store.leads.update_many({"_id": {"$in": dialed}}, {"$set": {"call_count": 1, "drop_count": 1}})
    fresh = await harness.pooled(5, score=50)
    tier = await harness.leads.tier(harness.tenant, "fresh")
    query = claimable_query(harness.tenant, ["education"], tier, datetime.now(UTC))
    explained = await harness.store.leads.database.command(
        "explain", {"find": harness.store.leads.name, "filter": query, "sort": dict(BEST_FIRST_SORT), "limit": 3},
        verbosity="executionStats")
    stats = explained["executionStats"]
    assert stats["nReturned"] == 3 and stats["totalDocsExamined"] == 3, stats
    assert "pooled_fresh_best_first" in str(explained["queryPlanner"]["winningPlan"])
    await harness.agent("f1")
    response = await harness.claim("f1", count=3)
    taken = [lead["lead_id"] for lead in response.json()["leads"]]
    assert len(taken) == 3 and set(taken) <= set(fresh)


async def test_a_claim_that_goes_while_its_lock_is_won_leaves_the_agent_free(harness: Harness) -> None:
    guard, tenant = harness.leads.guard, harness.tenant
    lock = guard._lock_key(tenant, "gone")
    at_server, answered = asyncio.Event(), asyncio.Event()
    send = guard._try_locks

    async def slow(key: None, attempts: list) -> list:  # the lock is won at the server, the answer comes late
        results = await send(key, attempts)
        at_server.set()
        await answered.wait()
        return results

    guard._lock_tries.serve = slow
    try:
        async def claim() -> None:
            async with guard.claiming(tenant, "gone", "2026-12-07", datetime(2026, 12, 8, tzinfo=UTC)):
                raise AssertionError("the claim was cancelled before its lock came back")

        task = asyncio.create_task(claim())
        await at_server.wait()
        assert await guard.client.exists(lock) == 1
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        answered.set()  # the won lock comes back to a claim that has gone: it is given back at once
        for _ in range(50):
            if not await guard.client.exists(lock):
                break
            await asyncio.sleep(0.01)
        assert await guard.client.exists(lock) == 0
    finally:
        guard._lock_tries.serve = send
