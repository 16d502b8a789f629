"""A supervisor's team view on the real MongoDB. The waiting list (GET /v1/teams/{team_id}/deal-marks): the
team's deal-in-progress requests, read from the leads themselves, so every supervisor of the team sees the
same list however old a request is; another team's supervisor is refused; what has expired is not listed.
The leads pushed to the team on arrival that found nobody (GET /v1/teams/{team_id}/unplaced-leads), each
saying why on its own page too, until somebody places it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from allocator_support import Harness


async def held(harness: Harness, agent_id: str, count: int = 1) -> list[str]:
    ids = await harness.pooled(count, name="张伟")
    response = await harness.claim(agent_id, count=count)
    assert response.status_code == 200, response.text
    return ids


async def ask(harness: Harness, lead_id: str, agent_id: str, note: str = "签约中") -> str:
    response = await harness.http.post(f"/v1/leads/{lead_id}/deal-mark", json={"agent_id": agent_id, "note": note},
                                       headers=harness.as_actor(agent_id))
    assert response.status_code == 200, response.text
    return str(response.json()["deal_mark"]["request_id"])


async def decide(harness: Harness, lead_id: str, request_id: str, actor: str, decision: str) -> None:
    response = await harness.http.post(f"/v1/leads/{lead_id}/deal-mark/decision",
                                       json={"request_id": request_id, "decision": decision},
                                       headers=harness.as_actor(actor))
    assert response.status_code == 200, response.text


async def marks(harness: Harness, actor: str | None, team: str = "t1", **query: Any) -> httpx.Response:
    headers = harness.as_actor(actor) if actor else harness.as_("operator", "op1")
    return await harness.http.get(f"/v1/teams/{team}/deal-marks", params=query, headers=headers)


async def floor(harness: Harness, **policy: Any) -> None:
    for agent_id, team, role in (("a1", "t1", "agent"), ("a2", "t1", "agent"), ("s1", "t1", "supervisor"),
                                 ("s1b", "t1", "supervisor"), ("b1", "t2", "agent"), ("s2", "t2", "supervisor")):
        await harness.agent(agent_id, team_id=team, role=role)
    response = await harness.http.put("/v1/config/policy", json={
        "reclaim_rules": [{"not_processed_days": 3, "not_converted_days": 10}], **policy})  # policy may override
    assert response.status_code == 200, response.text


async def test_the_teams_waiting_requests_are_listed_alike_for_its_supervisors_and_refused_to_others(
        harness: Harness) -> None:
    await floor(harness, deal_mark_days=5)
    first, second, third = await held(harness, "a1", 3)
    [other] = await held(harness, "a2")
    [theirs] = await held(harness, "b1")
    asked = {lead_id: await ask(harness, lead_id, agent, note=f"签约 {lead_id[:4]}")
             for lead_id, agent in ((first, "a1"), (second, "a1"), (third, "a1"), (other, "a2"))}
    await ask(harness, theirs, "b1")
    await decide(harness, third, asked[third], "s1", "refused")
    await decide(harness, other, asked[other], "s1", "approved")

    response = await marks(harness, "s1", state="requested")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["team_id"], body["state"], body["next_cursor"]) == ("t1", "requested", None)
    assert [row["lead_id"] for row in body["items"]] == [first, second]  # oldest first; not t2's, not decided
    row = body["items"][0]
    lead = await harness.lead(first)
    assert (row["request_id"], row["agent_id"], row["reason"]) == (asked[first], "a1", f"签约 {first[:4]}")
    assert (row["customer"], row["phone"]) == ("张**", lead["phone_e164"][:6] + "****" + lead["phone_e164"][-4:])
    assert datetime.fromisoformat(row["requested_at"]) == lead["deal_mark"]["requested_at"]
    # a request lapses with the hold: at the lead's reclaim deadline (3 days without a call)
    assert datetime.fromisoformat(row["expires_at"]) == lead["held_since"] + timedelta(days=3)
    # the team's other supervisor and an operator see the same list; pages chain
    assert (await marks(harness, "s1b")).json()["items"] == body["items"]
    assert (await marks(harness, None)).json()["items"] == body["items"]
    page = (await marks(harness, "s1", limit=1)).json()
    assert [r["lead_id"] for r in page["items"]] == [first] and page["next_cursor"]
    page = (await marks(harness, "s1", limit=1, cursor=page["next_cursor"])).json()
    assert [r["lead_id"] for r in page["items"]] == [second] and page["next_cursor"] is None
    # the marks in force, until their expiry
    approved = (await marks(harness, "s1", state="approved")).json()["items"]
    assert [(r["lead_id"], r["agent_id"]) for r in approved] == [(other, "a2")]
    expires = (await harness.lead(other))["deal_mark"]["expires_at"]
    assert datetime.fromisoformat(approved[0]["expires_at"]) == expires

    # another team's supervisor, an agent: refused; bad input: problem+json
    response = await marks(harness, "s2")
    assert response.status_code == 403 and response.json()["code"] == "outside_your_team", response.text
    assert [r["lead_id"] for r in (await marks(harness, "s2", team="t2")).json()["items"]] == [theirs]
    assert (await marks(harness, "a1")).status_code == 403
    for query in ({"state": "pending"}, {"limit": 0}, {"cursor": "nonsense"}):
        response = await marks(harness, "s1", **query)
        assert response.status_code in (400, 422), (query, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")

    # decided: it leaves the waiting list for every supervisor
    await decide(harness, first, asked[first], "s1b", "approved")
    assert [r["lead_id"] for r in (await marks(harness, "s1")).json()["items"]] == [second]


async def test_expired_requests_and_marks_are_not_listed(harness: Harness) -> None:
    # a lead not called within 2 seconds is due for reclaim; approved marks last 1.5 seconds
    await floor(harness, reclaim_rules=[{"not_processed_days": 2 / 86_400, "not_converted_days": 10}],
                deal_mark_days=1.5 / 86_400)
    lapsing, marked = await held(harness, "a1", 2)
    await ask(harness, lapsing, "a1")
    await decide(harness, marked, await ask(harness, marked, "a1"), "s1", "approved")
    assert [r["lead_id"] for r in (await marks(harness, "s1")).json()["items"]] == [lapsing]
    assert [r["lead_id"] for r in (await marks(harness, "s1", state="approved")).json()["items"]] == [marked]
    await asyncio.sleep(2.5)
    # still held (no sweep ran), but the request is past the lead's reclaim deadline and the mark past its expiry
    assert {(await harness.lead(i))["status"] for i in (lapsing, marked)} == {"held"}
    assert (await harness.lead(lapsing))["deal_mark"]["status"] == "pending"
    assert (await marks(harness, "s1")).json()["items"] == []
    assert (await marks(harness, "s1", state="approved")).json()["items"] == []
    assert datetime.now(UTC) > (await harness.lead(marked))["deal_mark"]["expires_at"]


async def test_leads_the_push_could_not_place_are_listed_for_the_team_until_placed(harness: Harness) -> None:
    await floor(harness)
    assert (await harness.http.put("/v1/teams/t1", json={"name": "team t1"})).status_code == 200
    response = await harness.http.put("/v1/config/routing", json=[
        {"pool_id": "hot", "business_line": "education", "min_score": 50,
         "on_arrival": {"team_id": "t1", "strategy": "even_by_open"}}])
    assert response.status_code == 200, response.text
    first, second = await harness.pooled(2, score=80)  # nobody of t1 is at work: the push finds nobody
    [cold] = await harness.pooled(score=30)  # a pull pool: never pushed, not listed
    response = await harness.http.get("/v1/teams/t1/unplaced-leads", headers=harness.as_actor("s1"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["team_id"], body["pool_ids"], body["total"]) == ("t1", ["hot"], 2)
    assert [i["lead_id"] for i in body["items"]] == [second, first]  # latest miss first
    assert {(i["push_missed"]["code"], i["phone_masked"]) for i in body["items"]} == {("no_eligible_agent", True)}
    assert cold not in [i["lead_id"] for i in body["items"]]
    # the lead's own page says why, to a supervisor of any team (pooled leads are the tenant's)
    response = await harness.http.get(f"/v1/leads/{first}", headers=harness.as_actor("s2"))
    assert response.json()["push_missed"]["reason"] == "no_eligible_agent", response.text
    page = (await harness.http.get("/v1/teams/t1/unplaced-leads", params={"limit": 1},
                                   headers=harness.as_actor("s1"))).json()
    assert [i["lead_id"] for i in page["items"]] == [second] and page["total"] == 2
    page = (await harness.http.get("/v1/teams/t1/unplaced-leads", params={"limit": 1, "cursor": page["next_cursor"]},
                                   headers=harness.as_actor("s1"))).json()
    assert [i["lead_id"] for i in page["items"]] == [first] and page["next_cursor"] is None
    # another team's supervisor: refused; its own team has no push pool
    response = await harness.http.get("/v1/teams/t1/unplaced-leads", headers=harness.as_actor("s2"))
    assert response.status_code == 403 and response.json()["code"] == "outside_your_team", response.text
    assert (await harness.http.get("/v1/teams/t2/unplaced-leads", headers=harness.as_actor("s2"))).json()["total"] == 0

    # the supervisor places one by hand (to an agent at work, as every push): it leaves the list and its page
    # no longer says it was missed
    await harness.send("agents.status-changed.v1", {"agent_id": "a1", "status": "logged_in",
                                                    "at": datetime.now(UTC).isoformat()})
    response = await harness.http.post("/v1/distributions", json={"lead_ids": [first], "team_id": "t1",
                                                                  "target_agent": "a1"},
                                       headers=harness.as_actor("s1"))
    assert response.status_code == 200 and response.json()["placed"], response.text
    assert (await harness.lead(first))["push_missed"] is None
    assert (await harness.http.get(f"/v1/leads/{first}", headers=harness.as_actor("a1"))).json()["push_missed"] is None
    body = (await harness.http.get("/v1/teams/t1/unplaced-leads", headers=harness.as_actor("s1"))).json()
    assert (body["total"], [i["lead_id"] for i in body["items"]]) == (1, [second])
