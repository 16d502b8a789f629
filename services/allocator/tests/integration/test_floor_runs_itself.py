"""Leads move without a person pushing them (issue 18), on the real MongoDB and Redis: a push-on-arrival pool
places arriving leads by itself, and only with agents at work, within caps and grades, never a resting lead;
agents apply for leads in turn (轮询申领); strategy 7 sends a reclaimed lead back to its team; 能力+平均 weighs
agents by their measured conversion."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from prometheus_client import REGISTRY

from allocator_support import Harness, floor, put

PROBLEM = "application/problem+json"


async def status(harness: Harness, agent_id: str, value: str) -> None:
    await harness.at_work(agent_id, status=value)


async def push_pool(harness: Harness, strategy: str = "even_by_open", team_id: str = "t1") -> None:
    """Leads scoring 50 or more land in `hot`, which pushes them on arrival."""
    await put(harness, "/v1/config/routing", [{"pool_id": "hot", "business_line": "education", "min_score": 50,
                                               "on_arrival": {"team_id": team_id, "strategy": strategy}}])


def holders(docs: list[dict[str, Any]]) -> list[str | None]:
    return [d["holder"] for d in docs]


async def call(harness: Harness, lead_id: str, agent_id: str) -> None:
    await harness.send("calls.logged.v1", {"call_id": None, "agent_id": agent_id, "lead_id": lead_id,
                                           "started_at": datetime.now(UTC).isoformat(), "duration_seconds": 90,
                                           "connected": True})


def missed(reason: str) -> float:
    return REGISTRY.get_sample_value("allocator_arrival_pushes_total",
                                     {"outcome": "left_pooled", "reason": reason}) or 0.0


# ---- distribution on arrival --------------------------------------------------------------------------------


async def test_a_lead_arriving_in_a_push_pool_is_held_within_a_second_with_nobody_asking(harness: Harness) -> None:
    await floor(harness, "a1", "a2", working=("a1", "a2"))
    await push_pool(harness)
    started = time.monotonic()
    [lead_id] = await harness.pooled(score=70)
    while (await harness.lead(lead_id))["status"] != "held" and time.monotonic() - started < 1:
        pass
    doc = await harness.lead(lead_id)
    assert (doc["status"], doc["pool_id"], doc["holder"]) == ("held", "hot", "a1")
    assert time.monotonic() - started < 1
    [cold] = await harness.pooled(score=40)  # a pull pool: waits to be claimed, as before
    assert (await harness.lead(cold))["status"] == "pooled"
    more = await harness.pooled(2, score=60)
    assert sorted(holders([await harness.lead(i) for i in more])) == ["a1", "a2"]  # even by open leads
    await harness.relay()
    events = {e["data"]["lead_id"]: e["data"] for e in harness.of("allocation.assigned.v1")}
    assert set(events) == {lead_id, *more}
    assert {(e["strategy"], e["assigned_by"], e["team_id"]) for e in events.values()} \
        == {("even_by_open", "system", "t1")}


async def test_an_agent_on_a_break_or_off_or_at_cap_gets_nothing(harness: Harness) -> None:
    await floor(harness, "a1", "a2", "a3", working=("a1", "a2", "a3"))
    await status(harness, "a2", "on_break")
    await status(harness, "a3", "logged_out")
    await put(harness, "/v1/config/policy", {"holding_cap": 2})
    await push_pool(harness)
    before = missed("no_eligible_agent")
    ids = await harness.pooled(3, score=80)
    docs = [await harness.lead(i) for i in ids]
    assert holders(docs).count("a1") == 2 and holders(docs).count(None) == 1  # a1 at its cap of 2
    [left] = [d for d in docs if d["holder"] is None]
    assert (left["status"], left["push_missed"]["reason"]) == ("pooled", "no_eligible_agent")
    assert missed("no_eligible_agent") == before + 1
    await status(harness, "a2", "logged_in")  # back from the break: the next arrival is a2's
    [later] = await harness.pooled(score=80)
    assert (await harness.lead(later))["holder"] == "a2"


async def test_a_pushed_lead_goes_only_to_a_grade_its_tier_opens_for(harness: Harness) -> None:
    await floor(harness, "a1", "c1", working=("a1", "c1"))
    await harness.http.patch("/v1/agents/a1", json={"grade": "A"})
    await put(harness, "/v1/config/tiers", [
        {"tier_id": "vip", "name": "vip", "filter": {"min_score": 90}, "grades": ["A"], "pool_ids": ["hot"]},
        {"tier_id": "dropped", "name": "dropped", "filter": {"min_drops": 1}, "pool_ids": ["hot"]}])
    await push_pool(harness)
    best = await harness.pooled(3, score=95)  # only in vip: grade A only, so a1 even when it holds more
    assert holders([await harness.lead(i) for i in best]) == ["a1", "a1", "a1"]
    [plain] = await harness.pooled(score=60)  # in no tier: every grade, the fewest open leads first
    assert (await harness.lead(plain))["holder"] == "c1"
    await harness.http.patch("/v1/agents/a1", json={"grade": "C"})  # graded down: a vip lead now waits
    [waits] = await harness.pooled(score=99)
    assert ((await harness.lead(waits))["holder"], (await harness.lead(waits))["push_missed"]["reason"]) \
        == (None, "no_eligible_agent")


async def test_a_resting_lead_back_in_a_push_pool_is_not_pushed(harness: Harness) -> None:
    await floor(harness, "a1", "a2", working=("a1",))
    await put(harness, "/v1/config/policy", {"contact_max_calls": 2, "contact_window_days": 7,
                                             "contact_rest_days": 3})
    await push_pool(harness)
    resting, fresh = await harness.pooled(2, score=70)
    assert holders([await harness.lead(resting), await harness.lead(fresh)]) == ["a1", "a1"]
    for _ in range(3):
        await call(harness, resting, "a1")
    assert (await harness.lead(resting))["rest_until"] is not None
    await status(harness, "a2", "logged_in")
    for lead_id in (resting, fresh):
        response = await harness.http.post(f"/v1/leads/{lead_id}/return", json={"agent_id": "a1", "reason": "x"},
                                           headers=harness.as_actor("a1"))
        assert response.status_code == 200, response.text
    after = await harness.lead(resting)
    assert (after["status"], after["holder"], after["push_missed"]["reason"]) \
        == ("pooled", None, "resting (contact pressure)")
    assert (await harness.lead(fresh))["holder"] == "a2"  # pushed on at once, never back to a1 who dropped it


async def test_a_closed_lead_reopened_by_a_new_touch_is_pushed_again(harness: Harness) -> None:
    await floor(harness, "a1", "a2", working=("a1", "a2"))
    await push_pool(harness)
    [lead_id] = await harness.pooled(score=70)
    first = (await harness.lead(lead_id))["holder"]
    response = await harness.http.post(f"/v1/leads/{lead_id}/close", json={"agent_id": first, "reason": "没有需求"},
                                       headers=harness.as_actor(first))
    assert response.status_code == 200, response.text
    touch = {"event_id": "t-2", "source": "/web/landing", "channel": "im", "channel_raw": None,
             "received_at": datetime.now(UTC).isoformat()}
    await harness.send("leads.merged.v1", {"lead_id": lead_id, "matched_on": "phone", "touch": touch, "touches": 2})
    doc = await harness.lead(lead_id)  # the person came back: the lead arrives again, and nobody has to push it
    assert (doc["status"], doc["touches"]) == ("held", 2) and doc["holder"] is not None, doc
    await harness.relay()
    assert [e["data"]["assigned_by"] for e in harness.of("allocation.assigned.v1")
            if e["data"]["lead_id"] == lead_id] == ["system", "system"]


# ---- 轮询申领: the agent's move ---------------------------------------------------------------------------


async def apply(harness: Harness, agent_id: str, pool_id: str = "education") -> httpx.Response:
    return await harness.http.post(f"/v1/agents/{agent_id}/applications", json={"pool_id": pool_id},
                                   headers=harness.as_actor(agent_id))


async def test_applications_are_served_in_turn_and_caps_hold(harness: Harness) -> None:
    await floor(harness, "a1", "a2", "a3")
    best = sorted(await harness.pooled(2, score=90))  # equal scores: the smaller _id first, as claims take them
    served = await apply(harness, "a1")
    assert served.status_code == 201, served.text
    assert (served.json()["status"], served.json()["lead_id"]) == ("served", best[0])
    assert (await apply(harness, "a2")).json()["lead_id"] == best[1]
    waiting = [await apply(harness, a) for a in ("a3", "a1", "a2")]  # the pool is empty: they wait in turn
    assert [w.json()["status"] for w in waiting] == ["pending"] * 3
    again = await apply(harness, "a3")
    assert (again.status_code, again.headers["content-type"], again.json()["code"]) \
        == (409, PROBLEM, "application_pending")
    second = await harness.pooled(2, score=50)  # arrivals serve the oldest applications first: a3, then a1
    assert [(await harness.lead(i))["holder"] for i in second] == ["a3", "a1"]
    state = await harness.store.get_application(harness.tenant, waiting[2].json()["application_id"])
    assert state is not None and state["status"] == "pending"
    await harness.relay()
    events = {e["data"]["lead_id"]: e["data"] for e in harness.of("allocation.assigned.v1")}
    assert (events[second[0]]["strategy"], events[second[0]]["assigned_by"]) == ("round_robin", "a3")


async def test_an_application_over_the_cap_or_for_another_agent_is_refused(harness: Harness) -> None:
    await floor(harness, "a1", "a2")
    await put(harness, "/v1/config/policy", {"holding_cap": 1})
    await harness.pooled(2, score=90)
    assert (await apply(harness, "a1")).json()["status"] == "served"
    full = await apply(harness, "a1")
    assert (full.status_code, full.json()["code"]) == (409, "holding_cap_reached")
    other = await harness.http.post("/v1/agents/a2/applications", json={"pool_id": "education"},
                                    headers=harness.as_actor("a1"))
    assert (other.status_code, other.json()["code"]) == (403, "not_your_agent")
    pushed = await harness.http.post("/v1/agents/a2/applications", json={"pool_id": "education"},
                                     headers=harness.as_actor("boss"))
    assert pushed.status_code == 403  # the agent's move: a supervisor does not apply for it


async def test_the_refresh_quota_holds_for_applications(harness: Harness) -> None:
    await floor(harness, "a1")
    await put(harness, "/v1/config/policy", {"refresh_quota": 1})
    await harness.pooled(2, score=90)
    assert (await apply(harness, "a1")).json()["status"] == "served"
    refused = await apply(harness, "a1")
    assert (refused.status_code, refused.json()["code"]) == (429, "refresh_quota_used")


# ---- strategy 7: back to the original team -------------------------------------------------------------------


async def test_strategy_7_sends_a_reclaimed_lead_to_its_original_team(harness: Harness) -> None:
    await floor(harness, "a1", "a2", team_id="t1", working=("a1", "a2"))
    await harness.agent("b1", team_id="t2")
    await put(harness, "/v1/teams/t2", {"name": "team t2"})
    await status(harness, "b1", "logged_in")
    await put(harness, "/v1/config/routing", [{"pool_id": "hot", "business_line": "education",
                                               "on_arrival": {"team_id": "t1", "strategy": "even_by_open"}}])
    [lead_id] = await harness.pooled(score=70)
    assert (await harness.lead(lead_id))["holder"] == "a1"
    # the pool now pushes to t2 by strategy 7: a reclaimed lead still goes back to t1, to a2, not to a1
    await put(harness, "/v1/config/routing", [{"pool_id": "hot", "business_line": "education",
                                               "on_arrival": {"team_id": "t2", "strategy": "same_agent"}}])
    await harness.leads.sweep_tenant(harness.tenant, now=datetime.now(UTC) + timedelta(days=4))
    doc = await harness.lead(lead_id)
    assert (doc["status"], doc["holder"], doc["holder_team"], doc["last_holder"]) == ("held", "a2", "t1", "a1")
    await harness.relay()
    assert [(e["data"]["agent_id"], e["data"]["strategy"]) for e in harness.of("allocation.assigned.v1")] \
        == [("a1", "even_by_open"), ("a2", "same_agent")]


async def test_strategy_7_by_a_supervisor_also_goes_to_the_original_team(harness: Harness) -> None:
    await floor(harness, "a1", "a2", team_id="t1", working=("a1", "a2"))
    [lead_id] = await harness.pooled(score=70)
    assert (await harness.claim("a1")).status_code == 200
    await harness.leads.sweep_tenant(harness.tenant, now=datetime.now(UTC) + timedelta(days=4))
    response = await harness.http.post("/v1/distributions", json={"lead_ids": [lead_id], "strategy": "same_agent"})
    assert response.status_code == 200, response.text
    assert response.json()["placed"] == [{"lead_id": lead_id, "agent_id": "a2", "team_id": "t1",
                                          "strategy": "same_agent"}]


# ---- 能力+平均: measured ----------------------------------------------------------------------------------------


async def test_measured_weights_match_hand_computed_values_and_the_floor_applies(harness: Harness) -> None:
    await floor(harness, "a1", "a2", "new", working=("a1", "a2", "new"))
    await put(harness, "/v1/config/policy", {"ability_min_leads": 4, "ability_floor": 0.1, "holding_cap": 100})
    # a win counts once the supervisor confirms it: a2's second win, declared only, weighs nothing
    for agent_id, wins, confirmed in (("a1", 3, 3), ("a2", 2, 1)):
        ids = await harness.pooled(4, score=60)
        assert (await harness.claim(agent_id, count=4)).status_code == 200
        for n, lead_id in enumerate(ids[:wins]):
            won = await harness.http.post(f"/v1/leads/{lead_id}/win", json={"agent_id": agent_id, "amount_fen": 100},
                                          headers=harness.as_actor(agent_id))
            assert won.status_code == 200, won.text
            if n < confirmed:
                sure = await harness.http.post(f"/v1/leads/{lead_id}/win/confirmation", json={},
                                               headers=harness.as_actor("boss"))
                assert sure.status_code == 200, sure.text
    await harness.pooled(2, score=60)
    assert (await harness.claim("new", count=2)).status_code == 200
    await harness.agent("boss2", role="supervisor", team_id="t2")
    theirs = await harness.http.get("/v1/teams/t1/ability-weights", headers=harness.as_actor("boss2"))
    assert (theirs.status_code, theirs.json()["code"]) == (403, "outside_your_team")
    response = await harness.http.get("/v1/teams/t1/ability-weights", headers=harness.as_actor("boss"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["min_leads"], body["floor"]) == (4, 0.1)
    assert {a["agent_id"]: (a["received"], a["won"], a["weight"], a["floor_applied"]) for a in body["agents"]} == {
        "a1": (4, 3, 0.75, False), "a2": (4, 1, 0.25, False), "new": (2, 0, 0.1, True)}
    # 能力+平均 uses them: 8 leads all by ability, 0.75 : 0.25 : 0.1 of 8 = 5.45, 1.82, 0.73; floors 5, 1, 0 and
    # the 2 left to the largest remainders (a2, new): 5, 2, 1
    await put(harness, "/v1/teams/t1", {"name": "team t1", "strategy": "ability_weighted", "ability_share": 1.0})
    ids = await harness.pooled(8, score=50)
    placed = (await harness.http.post("/v1/distributions", json={"lead_ids": ids, "team_id": "t1"},
                                      headers=harness.as_actor("boss"))).json()["placed"]
    assert sorted(p["agent_id"] for p in placed) == ["a1"] * 5 + ["a2"] * 2 + ["new"]
