"""轮询申领 (issue 18) on the real MongoDB and Redis: an application is served only with a lead the applicant's
grade opens; a waiting one whose agent went off, on a break or left is refused when its turn comes; an agent
lists and cancels its applications; a lead and the application it serves are written together, so a cancel
racing with a serve never leaves both a cancelled application and a lead given for it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx

from allocator_support import Harness, floor, put

PROBLEM = "application/problem+json"
VIP_ONLY = [{"tier_id": "vip", "name": "vip", "filter": {"min_score": 90}, "grades": ["A"]}]
VIP_FOR_ALL = [{"tier_id": "vip", "name": "vip", "filter": {"min_score": 90}}]


async def apply(harness: Harness, agent_id: str) -> httpx.Response:
    return await harness.http.post(f"/v1/agents/{agent_id}/applications", json={"pool_id": "education"},
                                   headers=harness.as_actor(agent_id))


async def applied(harness: Harness, agent_id: str) -> dict[str, Any]:
    response = await apply(harness, agent_id)
    assert response.status_code == 201, response.text
    return response.json()


async def state(harness: Harness, application_id: str) -> dict[str, Any]:
    doc = await harness.store.get_application(harness.tenant, application_id)
    assert doc is not None
    return doc


async def cancel(harness: Harness, agent_id: str, application_id: str, actor: str | None = None) -> httpx.Response:
    return await harness.http.delete(f"/v1/agents/{agent_id}/applications/{application_id}",
                                     headers=harness.as_actor(actor or agent_id))


# ---- grades ------------------------------------------------------------------------------------------------


async def test_an_application_is_served_only_with_a_lead_its_grade_opens(harness: Harness) -> None:
    await floor(harness, "a1", "c1")
    assert (await harness.http.patch("/v1/agents/a1", json={"grade": "A"})).status_code == 200
    await put(harness, "/v1/config/tiers", VIP_ONLY)
    [vip] = await harness.pooled(score=95)
    # c1 (a new agent: grade C) applies first: the best lead is closed to it, so it waits, and the vip lead too
    waiting = await applied(harness, "c1")
    assert (waiting["status"], waiting["position"], waiting["lead_id"]) == ("pending", 1, None)
    assert (await harness.lead(vip))["status"] == "pooled"
    # a1, after c1 in turn, gets it: its grade opens it
    served = await applied(harness, "a1")
    assert (served["status"], served["lead_id"], served["position"]) == ("served", vip, None)
    [plain] = await harness.pooled(score=60)  # in no tier: every grade; c1's turn
    assert (await state(harness, waiting["application_id"]))["lead_id"] == plain
    assert (await harness.lead(plain))["holder"] == "c1"
    # with a vip and a plain lead pooled, c1 gets the plain one although the vip one scores higher
    [vip2] = await harness.pooled(score=99)
    [plain2] = await harness.pooled(score=50)
    assert (await applied(harness, "c1"))["lead_id"] == plain2
    assert (await harness.lead(vip2))["status"] == "pooled"


async def test_an_applicant_whose_grade_opens_nothing_available_waits_without_taking_a_turn(
        harness: Harness) -> None:
    await floor(harness, "c1", "c2", "a1")
    assert (await harness.http.patch("/v1/agents/a1", json={"grade": "A"})).status_code == 200
    await put(harness, "/v1/config/tiers", VIP_ONLY)
    await harness.pooled(3, score=95)
    first, second = await applied(harness, "c1"), await applied(harness, "c2")
    assert [(a["status"], a["position"]) for a in (first, second)] == [("pending", 1), ("pending", 2)]
    assert (await applied(harness, "a1"))["status"] == "served"
    assert [(await state(harness, a["application_id"]))["status"] for a in (first, second)] == ["pending"] * 2
    await put(harness, "/v1/config/tiers", VIP_FOR_ALL)  # opened to every grade: the next arrival serves c1
    [_] = await harness.pooled(score=10)
    assert [(await state(harness, a["application_id"]))["status"] for a in (first, second)] == ["served"] * 2


# ---- working status ------------------------------------------------------------------------------------------


async def test_a_waiting_application_of_an_agent_who_went_away_is_refused_with_the_reason(harness: Harness) -> None:
    await floor(harness, "a1", "a2", "a3", "a4")
    waiting = {agent: await applied(harness, agent) for agent in ("a1", "a2", "a3", "a4")}  # never reported: at work
    assert {a["status"] for a in waiting.values()} == {"pending"}
    await harness.at_work("a1", status="on_break")
    await harness.at_work("a2", status="logged_out")
    await harness.send("agents.changed.v1", {"agent_id": "a3", "name": "a3", "role": "agent", "team_id": "t1",
                                             "business_line": "education", "active": False, "supervisor_id": None},
                       time=datetime.now(UTC).isoformat())
    [lead_id] = await harness.pooled(score=70)
    decided = {agent: await state(harness, a["application_id"]) for agent, a in waiting.items()}
    assert {agent: (d["status"], d["reason"]) for agent, d in decided.items()} == {
        "a1": ("refused", "not_working (on_break)"), "a2": ("refused", "not_working (logged_out)"),
        "a3": ("refused", "agent_inactive"), "a4": ("served", None)}
    assert (await harness.lead(lead_id))["holder"] == "a4"
    # applying while the dialer says off or on a break is refused at once; back at work, it is taken
    away = await apply(harness, "a1")
    assert (away.status_code, away.headers["content-type"], away.json()["code"]) == (409, PROBLEM, "not_working")
    await harness.at_work("a1")
    assert (await applied(harness, "a1"))["status"] == "pending"


# ---- listing and cancelling ---------------------------------------------------------------------------------


async def test_an_agent_lists_its_applications_newest_first_and_cancels_a_waiting_one(harness: Harness) -> None:
    await floor(harness, "a1", "a2")
    await harness.agent("boss2", role="supervisor", team_id="t2")
    await harness.pooled(2, score=70)
    served = [await applied(harness, "a1"), await applied(harness, "a1")]
    waiting = await applied(harness, "a1")
    assert waiting["status"] == "pending"
    listed = await harness.http.get("/v1/agents/a1/applications", params={"limit": 2},
                                    headers=harness.as_actor("a1"))
    assert listed.status_code == 200, listed.text
    page = listed.json()
    assert page["pools"] == ["education"]  # the pools of its line it may apply for
    assert [a["application_id"] for a in page["items"]] == [waiting["application_id"], served[1]["application_id"]]
    assert page["items"][0]["position"] == 1 and page["items"][1]["position"] is None
    rest = (await harness.http.get("/v1/agents/a1/applications", params={"limit": 2, "cursor": page["next_cursor"]},
                                   headers=harness.as_actor("a1"))).json()
    assert ([a["application_id"] for a in rest["items"]], rest["next_cursor"]) == ([served[0]["application_id"]], None)
    only = await harness.http.get("/v1/agents/a1/applications", params={"status": "pending"},
                                  headers=harness.as_actor("boss"))  # its team's supervisor sees them
    assert [a["application_id"] for a in only.json()["items"]] == [waiting["application_id"]]
    for actor in ("a2", "boss2"):
        theirs = await harness.http.get("/v1/agents/a1/applications", headers=harness.as_actor(actor))
        assert theirs.status_code == 403 and theirs.headers["content-type"] == PROBLEM, actor
    bad = await harness.http.get("/v1/agents/a1/applications", params={"cursor": "nonsense"},
                                 headers=harness.as_actor("a1"))
    assert bad.status_code == 400 and bad.headers["content-type"] == PROBLEM

    assert (await cancel(harness, "a1", waiting["application_id"], actor="a2")).status_code == 403
    assert (await cancel(harness, "a1", waiting["application_id"], actor="boss")).status_code == 403  # agent's move
    gone = await cancel(harness, "a1", waiting["application_id"])
    assert gone.status_code == 200 and (gone.json()["status"], gone.json()["position"]) == ("cancelled", None)
    again = await cancel(harness, "a1", waiting["application_id"])
    assert (again.status_code, again.headers["content-type"], again.json()["code"]) \
        == (409, PROBLEM, "application_decided")
    decided = await cancel(harness, "a1", served[0]["application_id"])
    assert (decided.status_code, decided.json()["code"]) == (409, "application_decided")
    unknown = await cancel(harness, "a1", "no-such-application")
    assert (unknown.status_code, unknown.headers["content-type"]) == (404, PROBLEM)
    theirs = await applied(harness, "a2")
    foreign = await cancel(harness, "a1", theirs["application_id"])  # a2's, under a1's path
    assert (foreign.status_code, foreign.json()["code"]) == (404, "unknown_application")
    assert (await state(harness, theirs["application_id"]))["status"] == "pending"
    [lead_id] = await harness.pooled(score=70)  # the cancelled application is not served: a2's is
    assert (await harness.lead(lead_id))["holder"] == "a2"


# ---- one transaction ------------------------------------------------------------------------------------------


async def test_an_application_cancelled_after_it_was_read_gets_no_lead(harness: Harness) -> None:
    await floor(harness, "c1")
    await put(harness, "/v1/config/tiers", VIP_ONLY)
    [lead_id] = await harness.pooled(score=95)
    waiting = await applied(harness, "c1")
    [read] = await harness.store.pending_applications(harness.tenant, "education")  # the serve has read it...
    assert (await cancel(harness, "c1", waiting["application_id"])).status_code == 200  # ...then it is cancelled
    await put(harness, "/v1/config/tiers", VIP_FOR_ALL)
    served = await harness.leads._serve(harness.tenant, read, await harness.leads.policy(harness.tenant))
    assert served == 0
    assert ((await harness.lead(lead_id))["status"], (await state(harness, read["_id"]))["status"]) \
        == ("pooled", "cancelled")
    await harness.relay()
    assert harness.of("allocation.assigned.v1") == []


async def test_a_cancel_racing_with_a_serve_leaves_one_outcome_only(harness: Harness) -> None:
    await floor(harness, "c1")
    outcomes = set()

    async def cancel_after(delay: float, application_id: str) -> httpx.Response:
        await asyncio.sleep(delay)
        return await cancel(harness, "c1", application_id)

    # the cancel comes later and later: first before the serve has read anything, last after it is done
    for round_, delay in enumerate((0, 0.002, 0.005, 0.01, 0.02, 0.04, 0.08, 0.3)):
        await put(harness, "/v1/config/tiers", VIP_ONLY)
        [lead_id] = await harness.pooled(score=92 + round_)  # the best of the pool: the one a serve takes
        waiting = await applied(harness, "c1")
        await put(harness, "/v1/config/tiers", VIP_FOR_ALL)
        served, cancelled = await asyncio.gather(
            harness.leads.serve_applications(tenant=harness.tenant, pool_ids=["education"]),
            cancel_after(delay, waiting["application_id"]))
        lead, application = await harness.lead(lead_id), await state(harness, waiting["application_id"])
        if cancelled.status_code == 200:
            assert (served, application["status"], lead["status"]) == (0, "cancelled", "pooled")
            outcomes.add("cancelled")
            await harness.leads.serve_applications(tenant=harness.tenant, pool_ids=["education"])
            assert (await harness.lead(lead_id))["status"] == "pooled"  # nobody applies any more
        else:
            assert cancelled.status_code == 409, cancelled.text
            assert (served, application["status"], application["lead_id"], lead["holder"]) \
                == (1, "served", lead_id, "c1")
            outcomes.add("served")
        held = (await harness.http.get("/v1/agents/c1")).json()["holding"]
        served_count = len(await harness.store.applications_of(harness.tenant, "c1", statuses=["served"],
                                                                limit=100, cursor=None))
        assert held == served_count  # never a lead without its served application, nor the reverse
    print("outcomes of the races:", outcomes)
    assert "served" in outcomes  # at least the last round; which one wins the others is the scheduler's
