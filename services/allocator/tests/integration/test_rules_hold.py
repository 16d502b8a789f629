"""Rules agents cannot walk around, on the real MongoDB and Redis (issue 18): each test tries what an agent
might do to keep a lead it does not work, and sees the rule hold.

- A deal-in-progress mark protects a lead only when the holder's team supervisor approved it, and only
  until it expires (policy `deal_mark_days`); asking again after that needs approval again.
- "Processed" means worked: only a call of at least `effective_call_seconds` (60) by the holder stops the
  not-processed clock; many short calls do not.
- Seed 002: a lead its holder dialled on `dial_streak_days` (10) consecutive days without converting drops
  out of the holder's list (allocation.reclaimed.v1, kind `dialled_without_converting`)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from allocator_support import Harness


async def held(harness: Harness, agent_id: str) -> str:
    [lead_id] = await harness.pooled(1)
    response = await harness.claim(agent_id)
    assert response.status_code == 200, response.text
    return lead_id


async def call(harness: Harness, lead_id: str, agent_id: str, *, started_at: datetime, duration: int) -> None:
    await harness.send("calls.logged.v1", {"call_id": None, "agent_id": agent_id, "lead_id": lead_id,
                                           "started_at": started_at.isoformat(), "duration_seconds": duration,
                                           "connected": True})


async def ask(harness: Harness, lead_id: str, agent_id: str, *, actor: str | None = None) -> httpx.Response:
    return await harness.http.post(f"/v1/leads/{lead_id}/deal-mark", json={"agent_id": agent_id, "note": "签约中"},
                                   headers=harness.as_actor(actor or agent_id))


async def decide(harness: Harness, lead_id: str, request_id: str, actor: str, decision: str = "approved"
                 ) -> httpx.Response:
    return await harness.http.post(f"/v1/leads/{lead_id}/deal-mark/decision",
                                   json={"request_id": request_id, "decision": decision},
                                   headers=harness.as_actor(actor))


async def policy(harness: Harness, **fields: Any) -> None:
    response = await harness.http.put("/v1/config/policy", json={
        "reclaim_rules": [{"not_processed_days": 3, "not_converted_days": 10}], **fields})
    assert response.status_code == 200, response.text


async def floor(harness: Harness) -> None:
    await harness.agent("a1", team_id="t1")
    await harness.agent("s1", team_id="t1", role="supervisor")
    await harness.agent("s2", team_id="t2", role="supervisor")


async def reclaimed_kinds(harness: Harness) -> list[tuple[str, str]]:
    await harness.relay()
    return [(e["data"]["lead_id"], e["data"]["kind"]) for e in harness.of("allocation.reclaimed.v1")]


# ---- the deal-in-progress mark -------------------------------------------------------------------------------


async def test_an_agent_setting_the_mark_itself_keeps_nothing(harness: Harness) -> None:
    await floor(harness)
    await policy(harness)
    lead_id = await held(harness, "a1")
    since = (await harness.lead(lead_id))["held_since"]
    # over HTTP, the old way: a stage change with the flag
    response = await harness.http.post(f"/v1/leads/{lead_id}/stage", json={"stage_percent": 70,
                                                                            "deal_in_progress": True},
                                       headers=harness.as_actor("a1"))
    assert response.status_code == 200, response.text
    assert (response.json()["deal_in_progress"], response.json()["deal_mark"]["status"]) == (False, "pending")
    # and through a CRM's event, again: still one request waiting, nothing protected
    await harness.send("leads.stage-changed.v1", {"lead_id": lead_id, "stage_percent": 70, "agent_id": "a1",
                                                  "deal_in_progress": True})
    await harness.relay()
    assert len(harness.of("allocation.deal-mark-requested.v1")) == 1
    # the agent cannot approve its own request: the route is the supervisor's, and so is the rule
    request_id = (await harness.lead(lead_id))["deal_mark"]["request_id"]
    response = await decide(harness, lead_id, request_id, "a1")
    assert response.status_code == 403, response.text
    assert (await harness.lead(lead_id))["deal_mark"]["status"] == "pending"
    sweep = await harness.leads.sweep_tenant(harness.tenant, now=since + timedelta(days=3, minutes=1))
    assert sweep["reclaimed"] == 1
    assert await reclaimed_kinds(harness) == [(lead_id, "not_processed")]


async def test_only_the_holders_team_supervisor_approves_and_the_mark_then_protects_until_it_expires(
        harness: Harness) -> None:
    await floor(harness)
    await policy(harness, deal_mark_days=5)
    lead_id = await held(harness, "a1")
    since = (await harness.lead(lead_id))["held_since"]
    response = await ask(harness, lead_id, "a1")
    assert response.status_code == 200, response.text
    request_id = response.json()["deal_mark"]["request_id"]
    await harness.relay()
    [requested] = harness.of("allocation.deal-mark-requested.v1")
    assert (requested["data"]["agent_id"], requested["data"]["supervisors"]) == ("a1", ["s1"])
    assert (await ask(harness, lead_id, "a1")).json()["code"] == "deal_mark_pending"  # one at a time
    # another team's supervisor may not decide it
    response = await decide(harness, lead_id, request_id, "s2")
    assert response.status_code == 403 and response.json()["code"] == "outside_your_team", response.text
    response = await decide(harness, lead_id, request_id, "s1")
    assert response.status_code == 200, response.text
    view = response.json()
    assert (view["deal_in_progress"], view["deal_mark"]["status"], view["deal_mark"]["decided_by"]) == (
        True, "approved", "s1")
    expires = datetime.fromisoformat(view["deal_mark"]["expires_at"])
    assert expires - datetime.now(UTC) > timedelta(days=4, hours=23)
    assert (await decide(harness, lead_id, request_id, "s1")).json()["code"] == "no_pending_request"  # decided
    await harness.relay()
    [decided] = harness.of("allocation.deal-mark-decided.v1")
    assert (decided["data"]["decision"], decided["data"]["agent_id"]) == ("approved", "a1")
    # past every deadline but within the mark: kept (warned before the expiry); past the expiry: reclaimed
    sweep = harness.leads.sweep_tenant
    assert (await sweep(harness.tenant, now=since + timedelta(days=4)))["reclaimed"] == 0
    assert (await sweep(harness.tenant, now=expires - timedelta(minutes=1)))["reclaimed"] == 0
    assert (await harness.lead(lead_id))["holder"] == "a1"
    assert (await sweep(harness.tenant, now=expires + timedelta(minutes=1)))["reclaimed"] == 1
    assert await reclaimed_kinds(harness) == [(lead_id, "not_processed")]
    lead = await harness.lead(lead_id)
    assert (lead["status"], lead["deal_mark"], lead["deal_in_progress"]) == ("pooled", None, False)


async def test_asking_again_after_the_mark_expired_needs_approval_again(harness: Harness) -> None:
    await floor(harness)
    await policy(harness, deal_mark_days=1.5 / 86_400)  # 1.5 seconds
    lead_id = await held(harness, "a1")
    since = (await harness.lead(lead_id))["held_since"]
    request_id = (await ask(harness, lead_id, "a1")).json()["deal_mark"]["request_id"]
    assert (await decide(harness, lead_id, request_id, "s1")).status_code == 200
    response = await ask(harness, lead_id, "a1")
    assert response.status_code == 409 and response.json()["code"] == "deal_mark_in_force"
    await asyncio.sleep(2)
    response = await ask(harness, lead_id, "a1")  # expired: the agent re-sets it
    assert response.status_code == 200, response.text
    assert (response.json()["deal_in_progress"], response.json()["deal_mark"]["status"]) == (False, "pending")
    assert (await harness.leads.sweep_tenant(harness.tenant, now=since + timedelta(days=3, minutes=1)))[
        "reclaimed"] == 1
    assert await reclaimed_kinds(harness) == [(lead_id, "not_processed")]


async def test_a_refused_request_protects_nothing_and_the_next_holder_inherits_no_mark(harness: Harness) -> None:
    await floor(harness)
    await harness.agent("a2", team_id="t1")
    await policy(harness)
    lead_id = await held(harness, "a1")
    request_id = (await ask(harness, lead_id, "a1")).json()["deal_mark"]["request_id"]
    response = await decide(harness, lead_id, request_id, "s1", "refused")
    assert (response.json()["deal_in_progress"], response.json()["deal_mark"]["status"]) == (False, "refused")
    await ask(harness, lead_id, "a1")
    request_id = (await harness.lead(lead_id))["deal_mark"]["request_id"]
    assert (await decide(harness, lead_id, request_id, "s1")).status_code == 200
    # returned while approved: the mark was this hold's, not the lead's
    response = await harness.http.post(f"/v1/leads/{lead_id}/return", json={"agent_id": "a1", "reason": "x"},
                                       headers=harness.as_actor("a1"))
    assert response.status_code == 200, response.text
    assert (await harness.claim("a2", tier_id="abandoned-1")).status_code == 200
    lead = await harness.lead(lead_id)
    assert (lead["holder"], lead["deal_mark"], lead["deal_in_progress"]) == ("a2", None, False)


# ---- processed means worked ----------------------------------------------------------------------------------


async def test_many_short_calls_do_not_process_a_lead_one_effective_call_does(harness: Harness) -> None:
    await floor(harness)
    await policy(harness)
    busy, worked = await held(harness, "a1"), await held(harness, "a1")
    since = (await harness.lead(busy))["held_since"]
    for n in range(12):  # dialled again and again, hung up after 10 s
        await call(harness, busy, "a1", started_at=since + timedelta(minutes=n + 1), duration=10)
    await call(harness, worked, "a1", started_at=since + timedelta(minutes=1), duration=59)
    await call(harness, worked, "a1", started_at=since + timedelta(minutes=5), duration=60)
    lead = await harness.lead(busy)
    assert (lead["call_count"], lead["awaiting_first_call"]) == (12, True)
    view = (await harness.http.get(f"/v1/leads/{busy}", headers=harness.as_actor("a1"))).json()
    assert (view["reclaim"]["kind"], view["reclaim"]["unless"]) == ("not_processed", "call")
    sweep = await harness.leads.sweep_tenant(harness.tenant, now=since + timedelta(days=3, minutes=1))
    assert sweep["reclaimed"] == 1
    assert await reclaimed_kinds(harness) == [(busy, "not_processed")]
    assert (await harness.lead(worked))["holder"] == "a1"


# ---- dialled on ten consecutive days -------------------------------------------------------------------------


async def test_a_lead_dialled_ten_days_running_without_converting_drops_out_of_the_list(harness: Harness) -> None:
    await floor(harness)
    await policy(harness)
    streak, gap, moved = await held(harness, "a1"), await held(harness, "a1"), await held(harness, "a1")
    since = (await harness.lead(streak))["held_since"]
    for day in range(10):  # even with effective calls every day
        when = since + timedelta(days=day, minutes=1)
        await call(harness, streak, "a1", started_at=when, duration=120)
        if day != 5:
            await call(harness, gap, "a1", started_at=when, duration=120)
        await call(harness, moved, "a1", started_at=when, duration=120)
        if day == 7:  # the stage moved forward on day 8: progress, the streak starts again
            response = await harness.http.post(f"/v1/leads/{moved}/stage", json={"stage_percent": 30},
                                               headers=harness.as_actor("a1"))
            assert response.status_code == 200, response.text
    lead = await harness.lead(streak)
    assert lead["dial_streak_at"] is not None and len(lead["dial_days"]) == 10
    view = (await harness.http.get("/v1/agents/a1/leads", headers=harness.as_actor("a1"))).json()
    clocks = {item["lead_id"]: item["reclaim"] for item in view["items"]}
    assert clocks[streak]["kind"] == "dialled_without_converting"
    # the sweep runs on day 10 (the calls above are dated over ten days from the hold's start)
    sweep = await harness.leads.sweep_tenant(harness.tenant, now=since + timedelta(days=9, hours=1))
    assert sweep["reclaimed"] == 1
    assert await reclaimed_kinds(harness) == [(streak, "dialled_without_converting")]
    history = (await harness.http.get(f"/v1/leads/{streak}/history", headers=harness.as_actor("s1"))).json()
    assert history["entries"][-1]["reclaim_kind"] == "dialled_without_converting"
    held_now = (await harness.http.get("/v1/agents/a1/leads", headers=harness.as_actor("a1"))).json()["items"]
    assert sorted(item["lead_id"] for item in held_now) == sorted([gap, moved])
