"""A supervisor's distribution (POST /v1/distributions) holds the rules every push holds (issue 18): caps,
grades, working status (an agent off or on a break gets nothing) and contact pressure, also when it names
the agent (strategy `supervisor`), and whichever way round it is asked (another strategy, no team, a
manager), on the real MongoDB and Redis."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from allocator_support import Harness, floor, put

VIP = [{"tier_id": "vip", "name": "vip", "filter": {"min_score": 90}, "grades": ["A"]},
       {"tier_id": "fresh", "name": "fresh", "filter": {"never_dialed": True, "max_drops": 0, "min_score": 0},
        "grades": ["A", "B", "C", "D"], "pool_ids": ["elsewhere"]}]


async def distribute(harness: Harness, actor: str = "boss", **body: Any) -> httpx.Response:
    response = await harness.http.post("/v1/distributions", json=body, headers=harness.as_actor(actor))
    assert response.status_code == 200, response.text
    return response


def outcome(response: httpx.Response) -> tuple[dict[str, str], dict[str, str]]:
    body = response.json()
    return ({p["lead_id"]: p["agent_id"] for p in body["placed"]},
            {u["lead_id"]: u["reason"] for u in body["unplaced"]})


async def test_a_named_agent_off_or_on_a_break_or_gone_gets_nothing_with_the_reason(harness: Harness) -> None:
    await floor(harness, "a1")
    [lead_id] = await harness.pooled(score=60)

    async def to_a1() -> dict[str, str]:
        placed, unplaced = outcome(await distribute(harness, lead_ids=[lead_id], team_id="t1", strategy="supervisor",
                                                    target_agent="a1"))
        assert placed == {} and (await harness.lead(lead_id))["status"] == "pooled"
        return unplaced

    assert await to_a1() == {lead_id: "not_working (never logged in)"}
    await harness.at_work("a1", status="on_break")
    assert await to_a1() == {lead_id: "not_working (on_break)"}
    await harness.at_work("a1", status="logged_out")
    assert await to_a1() == {lead_id: "not_working (logged_out)"}
    await harness.at_work("a1")  # back at work: placed
    placed, _ = outcome(await distribute(harness, lead_ids=[lead_id], team_id="t1", strategy="supervisor",
                                         target_agent="a1"))
    assert placed == {lead_id: "a1"}
    await harness.send("agents.changed.v1", {"agent_id": "a1", "name": "a1", "role": "agent", "team_id": "t1",
                                             "business_line": "education", "active": False, "supervisor_id": None},
                       time=datetime.now(UTC).isoformat())
    [other] = await harness.pooled(score=60)
    assert outcome(await distribute(harness, lead_ids=[other], team_id="t1", strategy="supervisor",
                                    target_agent="a1")) == ({}, {other: "inactive"})


async def test_a_named_agent_whose_grade_no_tier_of_the_lead_opens_is_refused_that_lead(harness: Harness) -> None:
    await floor(harness, "c1")
    await harness.at_work("c1")
    await put(harness, "/v1/config/tiers", VIP)
    vip, plain = await harness.pooled(score=95), await harness.pooled(score=60)
    placed, unplaced = outcome(await distribute(harness, lead_ids=[*vip, *plain], team_id="t1", strategy="supervisor",
                                                target_agent="c1"))
    assert (placed, unplaced) == ({plain[0]: "c1"}, {vip[0]: "grade_closed (C)"})  # a lead in no tier: every grade
    assert (await harness.lead(vip[0]))["status"] == "pooled"
    assert (await harness.http.patch("/v1/agents/c1", json={"grade": "A"})).status_code == 200
    placed, _ = outcome(await distribute(harness, lead_ids=vip, team_id="t1", strategy="supervisor",
                                         target_agent="c1"))
    assert placed == {vip[0]: "c1"}


async def test_other_strategies_skip_agents_away_and_grades_closed(harness: Harness) -> None:
    await floor(harness, "a1", "a2", "a3")
    await harness.at_work("a1", "a2")
    await harness.at_work("a2", status="on_break")  # a3 never logged in
    await put(harness, "/v1/config/tiers", VIP)
    plain = await harness.pooled(3, score=60)
    for strategy in ("even_by_open", "round_robin", "batch_average"):
        placed, _ = outcome(await distribute(harness, lead_ids=[plain.pop()], team_id="t1", strategy=strategy))
        assert list(placed.values()) == ["a1"], strategy
    [vip] = await harness.pooled(score=95)  # a1 is a C: nobody at work may have it
    assert outcome(await distribute(harness, lead_ids=[vip], team_id="t1")) == ({}, {vip: "no_eligible_agent"})
    await harness.at_work("a1", status="logged_out")
    [late] = await harness.pooled(score=60)
    assert outcome(await distribute(harness, lead_ids=[late], team_id="t1")) == ({}, {late: "no_eligible_agent"})


async def test_the_walk_arounds_meet_the_same_rules(harness: Harness) -> None:
    await floor(harness, "a1", "a2")
    await harness.agent("mgr", role="manager", team_id=None)
    await harness.at_work("a1", "a2")
    await put(harness, "/v1/config/policy", {"contact_max_calls": 1, "contact_window_days": 7,
                                             "contact_rest_days": 3, "holding_cap": 1})
    [back] = await harness.pooled(score=70)
    assert (await harness.claim("a1")).json()["claimed"] == 1
    returned = await harness.http.post(f"/v1/leads/{back}/return", json={"agent_id": "a1", "reason": "later"},
                                       headers=harness.as_actor("a1"))
    assert returned.status_code == 200, returned.text
    await harness.at_work("a1", status="on_break")
    # strategy 7 names the last holder: a1 is on a break, so the lead goes to a2 (at work), never to a1
    placed, _ = outcome(await distribute(harness, lead_ids=[back], team_id="t1", strategy="same_agent"))
    assert placed == {back: "a2"}
    # a manager, and an admin routing by need without a team: the same refusals
    [more] = await harness.pooled(score=60)
    assert outcome(await distribute(harness, "mgr", lead_ids=[more], team_id="t1", strategy="supervisor",
                                    target_agent="a1")) == ({}, {more: "not_working (on_break)"})
    assert outcome(await distribute(harness, "mgr", lead_ids=[more], team_id="t1", strategy="supervisor",
                                    target_agent="a2")) == ({}, {more: "target_at_cap"})  # a2 holds its cap of 1
    routed = await harness.http.post("/v1/distributions", json={"lead_ids": [more], "strategy": "supervisor",
                                                                "target_agent": "a1"})
    assert outcome(routed) == ({}, {more: "not_working (on_break)"})
    # contact pressure: a lead resting after calls is placed with nobody, named or not
    await harness.at_work("a1")
    await harness.send("calls.logged.v1", {"call_id": None, "agent_id": "a2", "lead_id": back,
                                           "started_at": datetime.now(UTC).isoformat(), "duration_seconds": 90,
                                           "connected": True})
    await harness.send("calls.logged.v1", {"call_id": None, "agent_id": "a2", "lead_id": back,
                                           "started_at": datetime.now(UTC).isoformat(), "duration_seconds": 30,
                                           "connected": True})
    assert (await harness.lead(back))["rest_until"] is not None
    released = await harness.http.post(f"/v1/leads/{back}/return", json={"agent_id": "a2", "reason": "x"},
                                       headers=harness.as_actor("a2"))
    assert released.status_code == 200, released.text
    assert outcome(await distribute(harness, lead_ids=[back], team_id="t1", strategy="supervisor",
                                    target_agent="a1")) == ({}, {back: "resting (contact pressure)"})
