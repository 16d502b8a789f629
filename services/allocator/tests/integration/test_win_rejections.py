"""A declared win that is not confirmed can be rejected, on the real MongoDB and Kafka: a lost order from the
CRM (leads.outcome.v1) or the winner's supervisor puts the lead back in the winner's hands, its reclaim clocks
started again, and says so (allocation.win-rejected.v1). Each test tries to walk around the rule: the agent
rejecting or confirming its own win, a supervisor of another team, an outcome replayed, a lost order after a
confirmation, an order after a rejection. Lead-intake's scoring hears a win only once it is confirmed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from allocator_support import Harness

PROBLEM = "application/problem+json"


async def declare(harness: Harness, agent_id: str, amount_fen: int, *, tier: str = "fresh", **lead: Any) -> str:
    """A lead claimed by `agent_id` and declared won by it (成单 over HTTP, as the agent)."""
    [lead_id] = await harness.pooled(1, **lead)
    claimed = await harness.claim(agent_id, tier)
    assert [item["lead_id"] for item in claimed.json()["leads"]] == [lead_id], claimed.text
    response = await harness.http.post(f"/v1/leads/{lead_id}/win", json={"agent_id": agent_id, "amount_fen": amount_fen},
                                       headers=harness.as_actor(agent_id))
    assert response.status_code == 200 and response.json()["win"]["state"] == "unconfirmed", response.text
    return lead_id


async def order(harness: Harness, **data: Any) -> str:
    """An order from the CRM: a won leads.outcome.v1 from outside the platform."""
    return await harness.send("leads.outcome.v1", {"outcome": "won", **data})


async def confirm(harness: Harness, lead_id: str, supervisor: str, **body: Any) -> httpx.Response:
    return await harness.http.post(f"/v1/leads/{lead_id}/win/confirmation", json=body,
                                   headers=harness.as_actor(supervisor))


async def reject(harness: Harness, lead_id: str, actor: str, **body: Any) -> httpx.Response:
    return await harness.http.post(f"/v1/leads/{lead_id}/win/rejection", json={"reason": "no payment", **body},
                                   headers=harness.as_actor(actor))


async def lost(harness: Harness, *, event_id: str | None = None, **data: Any) -> str:
    """The CRM says the order was lost: a lost leads.outcome.v1 from outside the platform."""
    return await harness.send("leads.outcome.v1", {"outcome": "lost", **data}, event_id=event_id)


async def inbox_status(harness: Harness, event_id: str) -> str | None:
    answer = await harness.store.inbox.outcome(harness.tenant, event_id)
    return None if answer is None else answer.get("status")


async def test_the_crms_lost_order_rejects_a_declared_win_once_and_the_agent_holds_the_lead_again(
        harness: Harness) -> None:
    await harness.agent("a1", team_id="ta")
    refs = [{"source_system": "crm", "external_id": "C-77"}]
    lead_id = await declare(harness, "a1", 800_000, tier="fresh", external_refs=refs)
    declared = await harness.lead(lead_id)
    assert (declared["status"], declared["funnel_step"]) == ("won", "paid")
    before = datetime.now(UTC)
    event_id = await lost(harness, source_system="crm", external_id="C-77", order_ref="SO-77")
    assert await inbox_status(harness, event_id) == "win_rejected"
    lead = await harness.lead(lead_id)
    assert (lead["status"], lead["holder"], lead["holder_team"]) == ("held", "a1", "ta")
    assert lead["held_since"].replace(tzinfo=UTC) >= before - timedelta(seconds=1)  # the reclaim clock restarts
    assert (lead["funnel_step"], lead["stage_percent"], lead["dedicated_agent"]) == (None, 0, None)  # put back
    assert "won_by" not in lead and "win_confirmed" not in lead and lead["purchases_fen"] == 0
    held = (await harness.http.get("/v1/agents/a1/leads", headers=harness.as_actor("a1"))).json()
    assert [item["lead_id"] for item in held["items"]] == [lead_id]
    page = (await harness.http.get(f"/v1/leads/{lead_id}", headers=harness.as_actor("a1"))).json()
    assert (page["win"]["state"], page["win"]["rejected_by"], page["win"]["rejecter"], page["win"]["order_ref"]) == (
        "rejected", "order", "crm", "SO-77")
    assert page["reclaim"] is not None  # held again: the reclaim clocks apply
    history = (await harness.http.get(f"/v1/leads/{lead_id}/history", headers=harness.as_actor("a1"))).json()
    assert [(e["kind"], e.get("via")) for e in history["entries"]][-2:] == [("won", None), ("win_rejected", "order")]

    # the same outcome delivered again, and sent again under a new id: nothing more happens
    await lost(harness, event_id=event_id, source_system="crm", external_id="C-77")
    again = await lost(harness, lead_id=lead_id, order_ref="SO-77")
    assert await inbox_status(harness, again) == "not_an_order"  # no declared win any more: as before
    await harness.relay()
    [event] = harness.of("allocation.win-rejected.v1")
    assert event["data"] | {"won_at": None, "rejected_at": None} == {
        "lead_id": lead_id, "agent_id": "a1", "team_id": "ta", "business_line": "education", "pool_id": "education",
        "declared_amount_fen": 800_000, "won_at": None, "rejected_by": "order", "rejecter": "crm",
        "reason": "crm says the order was lost", "order_ref": "SO-77", "rejected_at": None}
    assert [e for e in harness.of("leads.outcome.v1") if e["source"] != "/tests"] == []  # lead-intake heard no win

    # an order after the rejection: the lead is held, so the order wins it for its holder, confirmed at once
    await order(harness, lead_id=lead_id, amount_fen=300_000, order_ref="SO-78")
    lead = await harness.lead(lead_id)
    assert (lead["status"], lead["won_by"], lead["win_confirmed"], lead["purchases_fen"]) == ("won", "a1", True, 300_000)
    assert lead["win_rejection"] is None  # the page shows the win, not the old rejection


async def test_a_lost_order_for_a_confirmed_win_changes_nothing_and_says_so(harness: Harness) -> None:
    await harness.agent("a1")
    lead_id = await declare(harness, "a1", 400_000, tier="fresh")
    await order(harness, lead_id=lead_id, amount_fen=400_000, order_ref="SO-5")
    event_id = await lost(harness, lead_id=lead_id, order_ref="SO-5")
    assert await inbox_status(harness, event_id) == "lost_after_confirmed_win"
    lead = await harness.lead(lead_id)
    assert (lead["status"], lead["win_confirmed"], lead["purchases_fen"]) == ("won", True, 400_000)
    await harness.relay()
    assert harness.of("allocation.win-rejected.v1") == [] and harness.of("platform.dead-lettered.v1") == []
    # a lost outcome for a lead nobody won, or nobody knows, changes nothing either, as before
    [pooled] = await harness.pooled(1)
    for data in ({"lead_id": pooled}, {"source_system": "crm", "external_id": "NOBODY"}):
        assert await inbox_status(harness, await lost(harness, **data)) == "not_an_order"
    assert (await harness.lead(pooled))["status"] == "pooled"
    assert harness.of("platform.dead-lettered.v1") == []


async def test_only_the_winners_supervisor_rejects_and_a_confirmation_teaches_lead_intake(harness: Harness) -> None:
    await harness.agent("a1", team_id="ta")
    await harness.agent("sup-a", team_id="ta", role="supervisor")
    await harness.agent("sup-b", team_id="tb", role="supervisor")
    lead_id = await declare(harness, "a1", 600_000, tier="fresh")
    # the agent can neither reject nor confirm its own win; a supervisor of another team cannot either
    for refused in (await reject(harness, lead_id, "a1"), await confirm(harness, lead_id, "a1")):
        assert refused.status_code == 403 and refused.json()["code"] == "forbidden_role", refused.text
    other = await reject(harness, lead_id, "sup-b")
    assert other.status_code == 403 and other.headers["content-type"] == PROBLEM
    assert other.json()["code"] == "outside_your_team"
    empty = await reject(harness, lead_id, "sup-a", reason="")
    assert empty.status_code == 422 and empty.headers["content-type"] == PROBLEM
    assert (await harness.lead(lead_id))["status"] == "won"

    rejected = await reject(harness, lead_id, "sup-a", reason="the customer cancelled")
    assert rejected.status_code == 200, rejected.text
    body = rejected.json()
    assert (body["status"], body["holder"], body["win"]["state"], body["win"]["reason"]) == (
        "held", "a1", "rejected", "the customer cancelled")
    twice = await reject(harness, lead_id, "sup-a")
    assert twice.status_code == 409 and twice.json()["code"] == "not_won"
    await harness.relay()
    assert [e["data"]["rejected_by"] for e in harness.of("allocation.win-rejected.v1")] == ["supervisor"]
    assert [e for e in harness.of("leads.outcome.v1") if e["source"] != "/tests"] == []

    # declared again, then confirmed by the supervisor: now, and only now, lead-intake hears the win
    response = await harness.http.post(f"/v1/leads/{lead_id}/win", json={"agent_id": "a1", "amount_fen": 600_000},
                                       headers=harness.as_actor("a1"))
    assert response.status_code == 200 and response.json()["win"]["state"] == "unconfirmed"
    await harness.relay()
    assert [e for e in harness.of("leads.outcome.v1") if e["source"] != "/tests"] == []
    assert (await confirm(harness, lead_id, "sup-a")).status_code == 200
    late = await reject(harness, lead_id, "sup-a")  # a confirmed win is not rejected
    assert late.status_code == 409 and late.json()["code"] == "already_confirmed"
    await harness.relay()
    [outcome] = [e for e in harness.of("leads.outcome.v1") if e["source"] != "/tests"]
    assert (outcome["data"]["lead_id"], outcome["data"]["outcome"], outcome["data"]["amount_fen"]) == (
        lead_id, "won", 600_000)
    # our own won outcome comes back to us: it is not an order, nothing changes
    assert (await harness.lead(lead_id))["purchases_fen"] == 600_000


async def test_a_confirmation_and_a_rejection_at_once_cannot_both_hold(harness: Harness) -> None:
    """The supervisor confirms while the CRM's lost order arrives (or a second supervisor rejects): one conditional
    write wins, the other finds the win decided; never a confirmed win whose lead is also held again."""
    await harness.agent("a1", team_id="ta")
    await harness.agent("sup-a", team_id="ta", role="supervisor")
    await harness.agent("sup-a2", team_id="ta", role="supervisor")
    for round_ in range(3):
        lead_id = await declare(harness, "a1", 100_000 + round_)
        confirmed, rejected = await asyncio.gather(confirm(harness, lead_id, "sup-a"),
                                                   reject(harness, lead_id, "sup-a2"))
        assert sorted((confirmed.status_code, rejected.status_code)) == [200, 409], (confirmed.text, rejected.text)
        lead = await harness.lead(lead_id)
        if confirmed.status_code == 200:
            assert (lead["status"], lead["win_confirmed"], lead["purchases_fen"]) == ("won", True, 100_000 + round_)
        else:
            assert (lead["status"], lead["holder"], lead["purchases_fen"]) == ("held", "a1", 0)
            assert (await confirm(harness, lead_id, "sup-a")).json()["code"] == "not_won"
            await harness.http.post(f"/v1/leads/{lead_id}/return", json={"agent_id": "a1", "reason": "next round"},
                                    headers=harness.as_actor("a1"))
