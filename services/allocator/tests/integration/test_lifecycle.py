"""A held lead's life on the real MongoDB and Redis: return, close and win (退回, 关单, 成单), stage changes
from agents and a CRM, calls and contact pressure, complaints, hot-lead signals, the reclaim sweep
(未处理 / 未转化回收) and an agent leaving."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from allocator_support import Harness

SIGNAL_AT = "2026-11-24T10:00:00+08:00"


async def act(harness: Harness, lead_id: str, action: str, agent_id: str, *, actor: str | None = None,
              **body: Any) -> httpx.Response:
    return await harness.http.post(f"/v1/leads/{lead_id}/{action}", json={"agent_id": agent_id, **body},
                                   headers=harness.as_actor(actor or agent_id))


async def stage(harness: Harness, lead_id: str, actor: str, **body: Any) -> httpx.Response:
    return await harness.http.post(f"/v1/leads/{lead_id}/stage", json=body, headers=harness.as_actor(actor))


async def call(harness: Harness, lead_id: str, agent_id: str, *, started_at: datetime | None = None,
               duration: int = 90, connected: bool = True, event_id: str | None = None) -> str:
    return await harness.send("calls.logged.v1", {
        "call_id": None, "agent_id": agent_id, "lead_id": lead_id,
        "started_at": (started_at or datetime.now(UTC)).isoformat(), "duration_seconds": duration,
        "connected": connected}, event_id=event_id)


async def held(harness: Harness, agent_id: str, count: int = 1, **lead: Any) -> list[str]:
    """`count` new leads claimed by `agent_id` (from the fresh tier, best score first)."""
    ids = await harness.pooled(count, **lead)
    response = await harness.claim(agent_id, count=count)
    assert response.status_code == 200, response.text
    assert sorted(item["lead_id"] for item in response.json()["leads"]) == sorted(ids)
    return ids


def ours(harness: Harness, topic: str) -> list[dict[str, Any]]:
    """Events the allocator emitted (not the ones the test published as an outside system)."""
    return [e for e in harness.of(topic) if e["source"] != "/tests"]


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def holder_data(lead_id: str, agent_id: str = "a1", *, score: int = 60, lead_grade: str = "B",
                team_id: str | None = "t1", agent_grade: str | None = "C", pool_id: str = "education") -> dict[str, Any]:
    return {"lead_id": lead_id, "agent_id": agent_id, "team_id": team_id, "agent_grade": agent_grade,
            "business_line": "education", "pool_id": pool_id, "score": score, "lead_grade": lead_grade, "at": None}


# ---- return, close, win ----------------------------------------------------------------------------------


async def test_returning_a_lead_puts_it_back_in_its_pool_and_counts_the_drop(harness: Harness) -> None:
    await harness.agent("a1")
    [lead_id] = await held(harness, "a1", score=72, grade="A")
    response = await act(harness, lead_id, "return", "a1", reason="客户已报名别家")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["holder"], body["held_since"], body["drop_count"]) == ("pooled", None, None, 1)
    assert body["phone_masked"] is True  # no longer the holder: the number is masked again
    lead = await harness.lead(lead_id)
    assert lead["dropped_by"] == ["a1"] and lead["last_holder"] == "a1"
    assert [d["agent_id"] for d in lead["drops"]] == ["a1"]
    assert (lead["holder_team"], lead["awaiting_first_call"], lead["progress_at"]) == (None, None, None)
    assert await harness.store.held_count(harness.tenant, "a1") == 0
    await harness.relay()
    [event] = harness.of("allocation.returned.v1")
    assert event["data"] | {"at": None} == holder_data(lead_id, score=72, lead_grade="A") | {
        "reason": "客户已报名别家", "drop_count": 1}
    assert event["subject"] == lead_id
    assert harness.of("leads.outcome.v1") == []  # a return is no outcome


async def test_closing_a_lead_ends_it_as_lost(harness: Harness) -> None:
    await harness.agent("a1")
    [lead_id] = await held(harness, "a1")
    response = await act(harness, lead_id, "close", "a1", reason="没有需求")
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["holder"]) == ("closed", None)
    lead = await harness.lead(lead_id)
    assert (lead["closed_by"], lead["close_reason"], lead["last_holder"]) == ("a1", "没有需求", "a1")
    assert lead["drop_count"] == 0  # closing is not dropping
    await harness.relay()
    [closed] = harness.of("allocation.closed.v1")
    assert closed["data"] | {"at": None} == holder_data(lead_id) | {"reason": "没有需求", "do_not_call": False}
    [outcome] = harness.of("leads.outcome.v1")
    assert outcome["data"] == {"lead_id": lead_id, "outcome": "lost", "business_line": "education",
                               "amount_fen": None, "source_system": None, "external_id": None, "external_refs": [],
                               "order_ref": None}
    assert outcome["subject"] == lead_id
    assert harness.of("allocation.won.v1") == []


async def test_winning_a_lead_gives_the_customer_to_the_winner_unconfirmed(harness: Harness) -> None:
    await harness.agent("a1", grade="B")
    [lead_id] = await held(harness, "a1", score=88, grade="A")
    response = await act(harness, lead_id, "win", "a1", amount_fen=1_280_000)
    assert response.status_code == 200, response.text
    body = response.json()
    # declared, not confirmed (test_wins.py): no buyer until an order or the supervisor confirms it
    assert (body["status"], body["holder"], body["buyer"], body["dedicated_agent"]) == ("won", None, False, "a1")
    assert (body["win"]["state"], body["win"]["amount_fen"]) == ("unconfirmed", 1_280_000)
    assert (body["stage_percent"], body["funnel_step"]) == (100, "paid")
    lead = await harness.lead(lead_id)
    assert (lead["won_by"], lead["won_amount_fen"], lead["purchases_fen"], lead["won_team"]) == (
        "a1", 1_280_000, 0, "t1")
    await harness.relay()
    [won] = harness.of("allocation.won.v1")
    assert won["data"] | {"at": None} == holder_data(lead_id, score=88, lead_grade="A", agent_grade="B") | {
        "amount_fen": 1_280_000}
    # lead-intake's scoring hears of the win once it is confirmed (test_win_rejections.py), not now
    assert harness.of("leads.outcome.v1") == []
    assert harness.of("allocation.closed.v1") == []


async def test_acting_on_a_lead_someone_else_holds_is_a_conflict(harness: Harness) -> None:
    await harness.agent("a1")
    await harness.agent("a2")
    [lead_id] = await held(harness, "a1")
    for action, body in (("return", {"reason": "x"}), ("close", {"reason": "x"}), ("win", {"amount_fen": 100})):
        refused = await act(harness, lead_id, action, "a2", **body)
        assert refused.status_code == 409, (action, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["code"] == "not_held"
    lead = await harness.lead(lead_id)
    assert (lead["status"], lead["holder"], lead["drop_count"]) == ("held", "a1", 0)
    # an agent acts only for itself
    assert (await act(harness, lead_id, "close", "a1", actor="a2", reason="x")).status_code == 403
    # once closed, not even its last holder can act on it
    assert (await act(harness, lead_id, "close", "a1", reason="没有需求")).status_code == 200
    again = await act(harness, lead_id, "win", "a1", amount_fen=100)
    assert again.status_code == 409 and again.json()["code"] == "not_held"
    unknown = await act(harness, "no-such-lead", "return", "a1", reason="x")
    assert unknown.status_code == 404 and unknown.json()["code"] == "unknown_lead"
    await harness.relay()
    assert [len(harness.of(t)) for t in ("allocation.returned.v1", "allocation.closed.v1", "allocation.won.v1",
                                         "leads.outcome.v1")] == [0, 1, 0, 1]


# ---- stages ----------------------------------------------------------------------------------------------


async def test_the_holder_sets_a_stage_over_http_and_it_is_announced_exactly_once(harness: Harness) -> None:
    await harness.agent("a1")
    [lead_id] = await held(harness, "a1")
    response = await stage(harness, lead_id, "a1", stage_percent=30, funnel_step="intent", note="想读在职MBA")
    assert response.status_code == 200, response.text
    assert (response.json()["stage_percent"], response.json()["funnel_step"]) == (30, "intent")
    # a CRM corrects it before the HTTP change's event comes back around
    await harness.send("leads.stage-changed.v1", {"lead_id": lead_id, "stage_percent": 20})
    assert (await harness.lead(lead_id))["stage_percent"] == 20
    await harness.relay()  # delivers the HTTP change's event to the allocator's own consumer too
    [event] = ours(harness, "leads.stage-changed.v1")
    assert event["data"] == {"lead_id": lead_id, "stage_percent": 30, "funnel_step": "intent", "agent_id": "a1",
                             "deal_in_progress": None, "note": "想读在职MBA"}
    assert event["subject"] == lead_id
    # skipped by its own consumer: it did not undo the CRM's later correction
    lead = await harness.lead(lead_id)
    assert (lead["stage_percent"], lead["funnel_step"]) == (20, "intent")
    outcome = await harness.store.inbox.outcome(harness.tenant, event["id"])
    assert outcome is not None and outcome["status"] == "stage_changed" and outcome["by"] == "http"


async def test_only_the_holder_or_a_supervisor_changes_a_held_leads_stage(harness: Harness) -> None:
    await harness.agent("a1")
    await harness.agent("a2")
    await harness.agent("boss", role="supervisor", team_id="t1", business_line="education")
    [lead_id] = await held(harness, "a1")
    for body in ({"stage_percent": 50}, {"stage_percent": 50, "agent_id": "a2"}):
        refused = await stage(harness, lead_id, "a2", **body)
        assert refused.status_code == 409, refused.text
        assert refused.json()["code"] == "not_held"
    assert (await stage(harness, lead_id, "a2", stage_percent=50, agent_id="a1")).status_code == 403
    assert (await harness.lead(lead_id))["stage_percent"] == 0
    coached = await stage(harness, lead_id, "boss", stage_percent=40)
    assert coached.status_code == 200 and coached.json()["stage_percent"] == 40
    await harness.relay()
    assert [e["data"]["stage_percent"] for e in ours(harness, "leads.stage-changed.v1")] == [40]


async def test_crm_stage_changes_move_the_funnel_only_forward_and_only_progress_restarts_the_clock(
        harness: Harness) -> None:
    await harness.agent("a1")
    [lead_id] = await held(harness, "a1")
    claimed_at = (await harness.lead(lead_id))["progress_at"]

    async def crm(stage_percent: int, funnel_step: str | None = None) -> dict[str, Any]:
        await harness.send("leads.stage-changed.v1", {"lead_id": lead_id, "stage_percent": stage_percent,
                                                      "funnel_step": funnel_step})
        return await harness.lead(lead_id)

    up = await crm(45, "plan")
    assert (up["stage_percent"], up["funnel_step"]) == (45, "plan")
    assert up["progress_at"] > claimed_at and up["stage_advanced_at"] == up["progress_at"]
    down = await crm(25, "intent")
    assert (down["stage_percent"], down["funnel_step"]) == (25, "plan")  # the stage is corrected, the step is not
    assert (down["progress_at"], down["stage_advanced_at"]) == (up["progress_at"], up["stage_advanced_at"])
    assert down["stage_changed_at"] > up["stage_changed_at"]
    same = await crm(25)
    assert same["progress_at"] == up["progress_at"] and same["funnel_step"] == "plan"
    again = await crm(60, "paid")
    assert (again["stage_percent"], again["funnel_step"]) == (60, "paid")
    assert again["progress_at"] > up["progress_at"]
    # the sweep judges not-converted from the last advance, not from the correction
    await call(harness, lead_id, "a1")
    warned_at = again["progress_at"] + timedelta(days=9, hours=1)
    assert (await harness.leads.sweep_tenant(harness.tenant, now=warned_at))["warned"] == 1
    await harness.relay()
    [warning] = harness.of("allocation.reclaim-warning.v1")
    assert warning["data"]["kind"] == "not_converted" and warning["data"]["stage_percent"] == 60
    assert at(warning["data"]["reclaim_at"]) == again["progress_at"] + timedelta(days=10)


async def test_a_stage_change_of_an_unknown_lead_is_dead_lettered(harness: Harness) -> None:
    await harness.send("leads.stage-changed.v1", {"lead_id": "nobody", "stage_percent": 10})
    [letter] = harness.of("platform.dead-lettered.v1")
    assert (letter["data"]["error_type"], letter["data"]["original_topic"]) == ("unknown_lead",
                                                                               "leads.stage-changed.v1")


# ---- calls -----------------------------------------------------------------------------------------------


async def test_calls_count_and_only_the_holders_call_after_getting_the_lead_clears_awaiting_first_call(
        harness: Harness) -> None:
    await harness.agent("a1")
    await harness.agent("a2")
    [lead_id] = await held(harness, "a1")
    held_since = (await harness.lead(lead_id))["held_since"]
    await call(harness, lead_id, "a2", connected=False)  # someone else's call is no work of the holder
    lead = await harness.lead(lead_id)
    assert (lead["call_count"], lead["awaiting_first_call"], lead["funnel_step"]) == (1, True, None)
    before = held_since - timedelta(hours=2)
    await call(harness, lead_id, "a1", started_at=before, connected=False)  # made before the holder got it
    lead = await harness.lead(lead_id)
    assert (lead["call_count"], lead["awaiting_first_call"]) == (2, True)
    latest = held_since + timedelta(seconds=5)
    await call(harness, lead_id, "a1", started_at=latest, connected=True)
    lead = await harness.lead(lead_id)
    assert (lead["call_count"], lead["awaiting_first_call"], lead["funnel_step"]) == (3, False, "valid")
    assert lead["last_call_at"] == latest.replace(microsecond=latest.microsecond // 1000 * 1000)
    await call(harness, lead_id, "a2", started_at=before + timedelta(minutes=1))  # late report of an old call
    lead = await harness.lead(lead_id)
    assert lead["call_count"] == 4 and lead["last_call_at"] == latest.replace(
        microsecond=latest.microsecond // 1000 * 1000)
    view = (await harness.http.get(f"/v1/leads/{lead_id}", headers=harness.as_actor("a1"))).json()
    assert view["call_count"] == 4


async def test_the_same_call_delivered_twice_counts_once(harness: Harness) -> None:
    await harness.agent("a1")
    [lead_id] = await held(harness, "a1")
    event_id = str(uuid.uuid4())
    started = datetime.now(UTC)
    await call(harness, lead_id, "a1", started_at=started, duration=600, event_id=event_id)
    await call(harness, lead_id, "a1", started_at=started, duration=600, event_id=event_id)
    lead = await harness.lead(lead_id)
    assert lead["call_count"] == 1 and len(lead["recent_calls"]) == 1
    agent = await harness.store.get_agent(harness.tenant, "a1")
    assert sum(agent["talk_seconds"].values()) == 600


async def test_a_call_of_an_unknown_lead_is_dead_lettered(harness: Harness) -> None:
    await harness.agent("a1")
    [lead_id] = await held(harness, "a1")
    await call(harness, "nobody", "a1")
    [letter] = harness.of("platform.dead-lettered.v1")
    assert (letter["data"]["error_type"], letter["data"]["original_topic"]) == ("unknown_lead", "calls.logged.v1")
    assert letter["tenantid"] == harness.tenant
    assert (await harness.lead(lead_id))["call_count"] == 0


async def test_too_many_calls_rest_a_lead_and_claims_skip_it_until_then(harness: Harness) -> None:
    response = await harness.http.put("/v1/config/policy", json={"contact_max_calls": 2, "contact_window_days": 7,
                                                                 "contact_rest_days": 3})
    assert response.status_code == 200, response.text
    await harness.agent("a1")
    await harness.agent("a2")
    [pressed] = await held(harness, "a1", score=90)
    [calm] = await held(harness, "a1", score=50)
    now = datetime.now(UTC)
    for minutes in (30, 20):  # two calls: at the limit, not over it
        await call(harness, pressed, "a1", started_at=now - timedelta(minutes=minutes))
    assert (await harness.lead(pressed))["rest_until"] is None
    before = datetime.now(UTC)
    await call(harness, pressed, "a1")  # the third within the window
    after = datetime.now(UTC)
    rest_until = (await harness.lead(pressed))["rest_until"]
    assert before + timedelta(days=3) - timedelta(milliseconds=1) <= rest_until <= after + timedelta(days=3)
    await call(harness, calm, "a1")
    assert (await harness.lead(calm))["rest_until"] is None
    for lead_id in (pressed, calm):
        assert (await act(harness, lead_id, "return", "a1", reason="打不通")).status_code == 200
    taken = (await harness.claim("a2", "abandoned-1", count=2)).json()
    assert [lead["lead_id"] for lead in taken["leads"]] == [calm]  # the better-scored one rests
    view = (await harness.http.get(f"/v1/leads/{pressed}", headers=harness.as_actor("a2"))).json()
    assert view["status"] == "pooled" and view["rest_until"] is not None


# ---- complaints ------------------------------------------------------------------------------------------


async def test_a_complaint_closes_a_held_lead_for_good(harness: Harness) -> None:
    await harness.agent("a1")
    await harness.agent("a2")
    [lead_id] = await held(harness, "a1", score=65)
    await harness.send("leads.complaint.v1", {"lead_id": lead_id, "reason": "骚扰电话，要求不再来电"})
    lead = await harness.lead(lead_id)
    assert (lead["status"], lead["holder"], lead["last_holder"], lead["complaint"]) == (
        "do_not_call", None, "a1", "骚扰电话，要求不再来电")
    assert await harness.store.held_count(harness.tenant, "a1") == 0
    await harness.relay()
    [closed] = harness.of("allocation.closed.v1")
    assert closed["data"] | {"at": None} == holder_data(lead_id, score=65) | {"reason": "complaint: 骚扰电话，要求不再来电",
                                                                             "do_not_call": True}
    assert closed["data"]["reason"].startswith("complaint")
    # nobody gets it again: not by claiming, not by the agent who had it
    assert (await harness.claim("a2", "fresh")).json()["claimed"] == 0
    refused = await act(harness, lead_id, "return", "a1", reason="x")
    assert refused.status_code == 409 and refused.json()["code"] == "not_held"


async def test_a_complaint_about_a_pooled_lead_takes_it_out_of_the_pool_without_an_event(harness: Harness) -> None:
    await harness.agent("a2")
    [lead_id] = await harness.pooled()
    await harness.send("leads.complaint.v1", {"lead_id": lead_id, "reason": "投诉"})
    assert (await harness.lead(lead_id))["status"] == "do_not_call"
    assert (await harness.claim("a2", "fresh")).json()["claimed"] == 0
    await harness.relay()
    assert harness.of("allocation.closed.v1") == []


# ---- hot-lead signals ------------------------------------------------------------------------------------


async def test_a_signal_on_a_held_lead_alerts_its_holder(harness: Harness) -> None:
    await harness.agent("a1")
    [lead_id] = await held(harness, "a1")
    event_id = await harness.send("leads.signal.v1", {"lead_id": lead_id, "kind": "unpaid_order",
                                                      "detail": "订单 8812 未支付", "occurred_at": SIGNAL_AT})
    await harness.relay()
    [hot] = harness.of("allocation.hot-lead.v1")
    assert hot["data"] | {"occurred_at": None} == {
        "lead_id": lead_id, "agent_id": "a1", "routed": "holder", "kind": "unpaid_order",
        "detail": "订单 8812 未支付", "occurred_at": None, "signal_event_id": event_id}
    assert at(hot["data"]["occurred_at"]) == at(SIGNAL_AT)
    lead = await harness.lead(lead_id)
    assert (lead["status"], lead["holder"], lead["last_signal"]["kind"]) == ("held", "a1", "unpaid_order")
    assert harness.of("allocation.assigned.v1") == []


async def test_a_signal_naming_the_lead_by_phone_reaches_the_holder(harness: Harness) -> None:
    await harness.agent("a1")
    [lead_id] = await held(harness, "a1", phone_e164="+8613800138000")
    await harness.pooled(phone_e164="+8613900139000")  # another lead
    await harness.send("leads.signal.v1", {"phone_e164": "+8613800138000", "kind": "long_browsing",
                                           "occurred_at": SIGNAL_AT})
    await harness.relay()
    [hot] = harness.of("allocation.hot-lead.v1")
    assert (hot["data"]["lead_id"], hot["data"]["agent_id"], hot["data"]["routed"], hot["data"]["kind"]) == (
        lead_id, "a1", "holder", "long_browsing")


async def test_a_signal_on_a_won_lead_hands_it_to_the_customers_dedicated_agent(harness: Harness) -> None:
    await harness.agent("a1", grade="B")
    [lead_id] = await held(harness, "a1")
    assert (await act(harness, lead_id, "win", "a1", amount_fen=500_000)).status_code == 200
    event_id = await harness.send("leads.signal.v1", {"lead_id": lead_id, "kind": "level_up",
                                                      "detail": "会员升级", "occurred_at": SIGNAL_AT})
    lead = await harness.lead(lead_id)
    assert (lead["status"], lead["holder"], lead["held_via"], lead["awaiting_first_call"]) == (
        "held", "a1", "assigned", True)
    await harness.relay()
    [assigned] = harness.of("allocation.assigned.v1")
    assert assigned["data"] | {"at": None} == holder_data(lead_id, agent_grade="B") | {
        "strategy": "dedicated_agent", "assigned_by": "system"}
    [hot] = harness.of("allocation.hot-lead.v1")
    assert (hot["data"]["agent_id"], hot["data"]["routed"], hot["data"]["kind"], hot["data"]["signal_event_id"]) == (
        "a1", "dedicated_agent", "level_up", event_id)
    # the same signal delivered again changes nothing
    await harness.send("leads.signal.v1", {"lead_id": lead_id, "kind": "level_up", "detail": "会员升级",
                                           "occurred_at": SIGNAL_AT}, event_id=event_id)
    await harness.relay()
    assert (len(harness.of("allocation.assigned.v1")), len(harness.of("allocation.hot-lead.v1"))) == (1, 1)


async def test_a_signal_on_a_won_lead_whose_dedicated_agent_left_stays_unassigned(harness: Harness) -> None:
    await harness.agent("a1")
    [lead_id] = await held(harness, "a1")
    assert (await act(harness, lead_id, "win", "a1", amount_fen=100)).status_code == 200
    await harness.agent("a1", active=False)
    await harness.send("leads.signal.v1", {"lead_id": lead_id, "kind": "redemption", "occurred_at": SIGNAL_AT})
    lead = await harness.lead(lead_id)
    assert (lead["status"], lead["holder"], lead["last_signal"]["kind"]) == ("won", None, "redemption")
    await harness.relay()
    assert harness.of("allocation.assigned.v1") == [] and harness.of("allocation.hot-lead.v1") == []


async def test_a_signal_of_an_unknown_lead_is_dead_lettered(harness: Harness) -> None:
    await harness.send("leads.signal.v1", {"lead_id": "nobody", "kind": "unpaid_order", "occurred_at": SIGNAL_AT})
    await harness.send("leads.signal.v1", {"phone_e164": "+8613711112222", "kind": "unpaid_order",
                                           "occurred_at": SIGNAL_AT})
    letters = harness.of("platform.dead-lettered.v1")
    assert [(d["data"]["error_type"], d["data"]["original_topic"]) for d in letters] == [
        ("unknown_lead", "leads.signal.v1")] * 2
    await harness.relay()
    assert harness.of("allocation.hot-lead.v1") == []


# ---- the reclaim sweep -----------------------------------------------------------------------------------


async def test_an_uncalled_lead_is_warned_about_once_then_reclaimed_once(harness: Harness) -> None:
    await harness.agent("a1")
    [lead_id] = await held(harness, "a1", score=77)
    since = (await harness.lead(lead_id))["held_since"]
    deadline = since + timedelta(days=3)  # default: 3 days without a call
    sweep = harness.leads.sweep_tenant
    assert await sweep(harness.tenant, now=since + timedelta(days=1, hours=23)) == {
        "reclaimed": 0, "warned": 0, "examined": 0}
    assert await sweep(harness.tenant, now=since + timedelta(days=2, hours=1)) == {
        "reclaimed": 0, "warned": 1, "examined": 1}
    assert (await sweep(harness.tenant, now=since + timedelta(days=2, hours=12)))["warned"] == 0
    await harness.relay()
    [warning] = harness.of("allocation.reclaim-warning.v1")
    assert warning["data"] | {"reclaim_at": None} == {"lead_id": lead_id, "agent_id": "a1", "kind": "not_processed",
                                                      "reclaim_at": None, "stage_percent": 0}
    assert at(warning["data"]["reclaim_at"]) == deadline
    # two sweeps at once (a takeover between replicas) still reclaim it once
    due = deadline + timedelta(minutes=1)
    await asyncio.gather(sweep(harness.tenant, now=due), sweep(harness.tenant, now=due))
    assert await sweep(harness.tenant, now=due) == {"reclaimed": 0, "warned": 0, "examined": 0}
    lead = await harness.lead(lead_id)
    assert (lead["status"], lead["holder"], lead["drop_count"], lead["dropped_by"]) == ("pooled", None, 1, ["a1"])
    assert lead["reclaimed_at"] == due.replace(microsecond=due.microsecond // 1000 * 1000)
    await harness.relay()
    [reclaimed] = harness.of("allocation.reclaimed.v1")
    assert reclaimed["data"] | {"at": None, "deadline": None} == holder_data(lead_id, score=77) | {
        "kind": "not_processed", "stage_percent": 0, "deadline": None, "drop_count": 1}
    assert at(reclaimed["data"]["deadline"]) == deadline
    assert len(harness.of("allocation.reclaim-warning.v1")) == 1


async def test_a_sweep_in_many_batches_reclaims_every_due_lead_once(harness: Harness, monkeypatch: Any) -> None:
    """A batch is written while the next one is read and judged: every batch still lands, exactly once."""
    monkeypatch.setattr(harness.leads, "settings", harness.leads.settings.model_copy(update={"sweep_batch_size": 2}))
    await harness.agent("a1")
    lead_ids = await held(harness, "a1", 7, score=66)
    since = max([(await harness.lead(lead_id))["held_since"] for lead_id in lead_ids])
    due = since + timedelta(days=3, minutes=1)
    assert await harness.leads.sweep_tenant(harness.tenant, now=due) == {"reclaimed": 7, "warned": 0, "examined": 7}
    assert await harness.leads.sweep_tenant(harness.tenant, now=due) == {"reclaimed": 0, "warned": 0, "examined": 0}
    assert {(await harness.lead(lead_id))["status"] for lead_id in lead_ids} == {"pooled"}  # noqa: C401
    await harness.relay()
    assert sorted(e["data"]["lead_id"] for e in harness.of("allocation.reclaimed.v1")) == sorted(lead_ids)


@pytest.mark.parametrize("after", [timedelta(days=3, minutes=1), timedelta(days=2, hours=1)], ids=["reclaim", "warning"])
async def test_a_lead_that_moves_while_the_sweep_judges_it_is_not_reclaimed_or_warned_on_that_judgement(
        harness: Harness, monkeypatch: Any, after: timedelta) -> None:
    """The sweep reads, judges, then writes: a stage move in between changes the facts the judgement was about,
    so neither its reclaim nor its warning applies (the next sweep judges the lead as it is)."""
    await harness.agent("a1")
    [lead_id] = await held(harness, "a1")
    since = (await harness.lead(lead_id))["held_since"]
    commit, moved = harness.store.commit, []

    async def stage_moves_first(writes: Any, now: datetime, **kwargs: Any) -> int:
        if not moved:  # the sweep's write: the holder moves the stage just before it (its own write comes here too)
            moved.append(True)
            assert (await stage(harness, lead_id, "a1", stage_percent=25)).status_code == 200
        return await commit(writes, now, **kwargs)

    monkeypatch.setattr(harness.store, "commit", stage_moves_first)
    judged = await harness.leads.sweep_tenant(harness.tenant, now=since + after)  # never called: due
    assert moved and judged["reclaimed"] + judged["warned"] == 1
    lead = await harness.lead(lead_id)
    assert (lead["status"], lead["holder"], lead["stage_percent"], lead.get("warned_for")) == ("held", "a1", 25, None)
    await harness.relay()
    assert harness.of("allocation.reclaimed.v1") == harness.of("allocation.reclaim-warning.v1") == []


async def test_a_called_lead_is_reclaimed_when_its_stage_stalls_by_the_rule_of_its_layer(harness: Harness) -> None:
    response = await harness.http.put("/v1/config/policy", json={"reclaim_rules": [
        {"not_processed_days": 3, "not_converted_days": 10},
        {"layer": "need_found", "not_converted_days": 20}]})
    assert response.status_code == 200, response.text
    await harness.agent("a1")
    [lead_id] = await held(harness, "a1")
    since = (await harness.lead(lead_id))["held_since"]
    await call(harness, lead_id, "a1")
    sweep = harness.leads.sweep_tenant
    assert (await sweep(harness.tenant, now=since + timedelta(days=5)))["reclaimed"] == 0  # it was called
    assert (await sweep(harness.tenant, now=since + timedelta(days=9, hours=1)))["warned"] == 1
    # the holder moves it into the need_found layer: a new clock, and that layer's 20 days
    assert (await stage(harness, lead_id, "a1", stage_percent=25)).status_code == 200
    progress = (await harness.lead(lead_id))["progress_at"]
    assert await sweep(harness.tenant, now=since + timedelta(days=10, hours=1)) == {
        "reclaimed": 0, "warned": 0, "examined": 1}
    assert (await sweep(harness.tenant, now=progress + timedelta(days=19, hours=1)))["warned"] == 1  # new deadline
    assert (await sweep(harness.tenant, now=progress + timedelta(days=20, minutes=1)))["reclaimed"] == 1
    await harness.relay()
    assert [(w["data"]["kind"], at(w["data"]["reclaim_at"])) for w in harness.of("allocation.reclaim-warning.v1")] == [
        ("not_converted", since + timedelta(days=10)), ("not_converted", progress + timedelta(days=20))]
    [reclaimed] = harness.of("allocation.reclaimed.v1")
    assert (reclaimed["data"]["kind"], reclaimed["data"]["stage_percent"], reclaimed["data"]["drop_count"]) == (
        "not_converted", 25, 1)
    assert at(reclaimed["data"]["deadline"]) == progress + timedelta(days=20)


async def test_a_pools_own_reclaim_rule_applies_to_its_leads_only(harness: Harness) -> None:
    await harness.http.put("/v1/config/routing", json=[{"pool_id": "vip", "min_score": 90}])
    await harness.http.put("/v1/config/policy", json={"reclaim_rules": [
        {"not_processed_days": 3, "not_converted_days": 10}, {"pool_id": "vip", "not_processed_days": 1}]})
    await harness.agent("a1")
    [vip] = await held(harness, "a1", score=95)
    [plain] = await held(harness, "a1", score=50)
    assert ((await harness.lead(vip))["pool_id"], (await harness.lead(plain))["pool_id"]) == ("vip", "education")
    since = (await harness.lead(plain))["held_since"]
    assert await harness.leads.sweep_tenant(harness.tenant, now=since + timedelta(days=1, hours=12)) == {
        "reclaimed": 1, "warned": 0, "examined": 2}
    assert ((await harness.lead(vip))["status"], (await harness.lead(plain))["status"]) == ("pooled", "held")
    await harness.relay()
    [reclaimed] = harness.of("allocation.reclaimed.v1")
    assert (reclaimed["data"]["lead_id"], reclaimed["data"]["pool_id"], reclaimed["data"]["kind"]) == (
        vip, "vip", "not_processed")


async def test_a_lead_four_agents_dropped_is_in_abandoned_pool_2(harness: Harness) -> None:
    for agent in ("a1", "a2", "a3", "a4", "a5"):
        await harness.agent(agent)
    [lead_id] = await harness.pooled()
    for agent, tier in (("a1", "fresh"), ("a2", "abandoned-1"), ("a3", "abandoned-1"), ("a4", "abandoned-1")):
        taken = (await harness.claim(agent, tier)).json()
        assert [lead["lead_id"] for lead in taken["leads"]] == [lead_id], (agent, taken)
        result = await harness.leads.sweep_tenant(harness.tenant, now=datetime.now(UTC) + timedelta(days=4))
        assert result["reclaimed"] == 1, agent
    lead = await harness.lead(lead_id)
    assert (lead["drop_count"], lead["dropped_by"]) == (4, ["a1", "a2", "a3", "a4"])
    assert (await harness.http.get("/v1/pools/education/leads", params={"tier": "abandoned-1"})).json()["items"] == []
    page = (await harness.http.get("/v1/pools/education/leads", params={"tier": "abandoned-2"})).json()
    assert [item["lead_id"] for item in page["items"]] == [lead_id]
    assert (await harness.claim("a1", "abandoned-2")).json()["claimed"] == 0  # it dropped it before
    assert [lead["lead_id"] for lead in (await harness.claim("a5", "abandoned-2")).json()["leads"]] == [lead_id]
    await harness.relay()
    assert [e["data"]["drop_count"] for e in harness.of("allocation.reclaimed.v1")] == [1, 2, 3, 4]


async def test_a_sweep_over_http_reclaims_what_is_due_now(harness: Harness) -> None:
    await harness.http.put("/v1/config/policy", json={
        "reclaim_warning_hours": 0, "reclaim_rules": [{"not_processed_days": 0.000001, "not_converted_days": None}]})
    await harness.agent("a1")
    [lead_id] = await held(harness, "a1")
    await asyncio.sleep(0.2)  # 0.000001 days is 86 ms
    response = await harness.http.post("/v1/reclaim-sweeps")
    assert response.status_code == 200, response.text
    assert response.json() == {"examined": 1, "reclaimed": 1, "warned": 0}
    assert (await harness.http.post("/v1/reclaim-sweeps")).json() == {"examined": 0, "reclaimed": 0, "warned": 0}
    assert (await harness.lead(lead_id))["status"] == "pooled"


# ---- an agent leaves -------------------------------------------------------------------------------------


def roster_record(agent_id: str, *, active: bool) -> dict[str, Any]:
    return {"agent_id": agent_id, "name": f"agent {agent_id}", "role": "agent", "team_id": "t1",
            "business_line": "education", "active": active}


async def test_an_agent_who_leaves_gives_every_held_lead_back_without_a_drop(harness: Harness) -> None:
    await harness.agent("a1")
    await harness.agent("a2")
    leads = await held(harness, "a1", 2)
    await harness.send("agents.changed.v1", roster_record("a1", active=False))
    assert (await harness.store.get_agent(harness.tenant, "a1"))["active"] is False
    for lead_id in leads:
        lead = await harness.lead(lead_id)
        assert (lead["status"], lead["holder"], lead["drop_count"], lead["last_holder"]) == ("pooled", None, 0, "a1")
    await harness.relay()
    returned = harness.of("allocation.returned.v1")
    assert sorted(e["data"]["lead_id"] for e in returned) == sorted(leads)
    assert {(e["data"]["agent_id"], e["data"]["reason"], e["data"]["drop_count"]) for e in returned} == {
        ("a1", "agent_left", 0)}
    # not dropped: still fresh for the next agent
    assert (await harness.claim("a2", "fresh", count=2)).json()["claimed"] == 2


async def test_an_out_of_date_departure_does_not_take_leads_from_an_agent_who_is_back(harness: Harness) -> None:
    await harness.agent("a1")
    [lead_id] = await held(harness, "a1")
    await harness.send("agents.changed.v1", roster_record("a1", active=True), time="2026-11-24T10:00:00+08:00")
    # the HR system's older record (the agent left, then was rehired) arrives late
    await harness.send("agents.changed.v1", roster_record("a1", active=False), time="2026-11-20T10:00:00+08:00")
    assert (await harness.store.get_agent(harness.tenant, "a1"))["active"] is True
    lead = await harness.lead(lead_id)
    assert (lead["status"], lead["holder"]) == ("held", "a1")
    await harness.relay()
    assert harness.of("allocation.returned.v1") == []


REF_CRM = {"source_system": "/crm/partner-x", "external_id": "4711"}
REF_WEB = {"source_system": "/web/landing", "external_id": "form-99"}


def merged(lead_id: str, matched_on: str, refs: list[dict[str, str]], touches: int) -> dict[str, Any]:
    touch = {"event_id": str(uuid.uuid4()), "source": "/web/landing", "channel": "im", "channel_raw": None,
             "received_at": datetime.now(UTC).isoformat(), "source_system": refs[-1]["source_system"],
             "external_id": refs[-1]["external_id"]}
    return {"lead_id": lead_id, "matched_on": matched_on, "touch": touch, "touches": touches, "external_refs": refs}


async def test_the_outcome_of_a_lead_carries_every_outside_reference_it_came_with(harness: Harness) -> None:
    """So that each outside system can match the answer to its own record (issue 15)."""
    await harness.agent("a1")
    [lead_id] = await held(harness, "a1", external_refs=[REF_CRM])
    await harness.send("leads.merged.v1", merged(lead_id, "phone", [REF_CRM, REF_WEB], 2))
    assert (await harness.lead(lead_id))["external_refs"] == [REF_CRM, REF_WEB]
    assert (await act(harness, lead_id, "close", "a1", reason="没有需求")).status_code == 200
    await harness.relay()
    [outcome] = ours(harness, "leads.outcome.v1")
    assert outcome["data"]["external_refs"] == [REF_CRM, REF_WEB] and outcome["data"]["lead_id"] == lead_id
    assert outcome["data"]["outcome"] == "lost"


async def test_an_outside_record_sent_again_is_no_new_touch_and_reopens_nothing(harness: Harness) -> None:
    await harness.agent("a1")
    [lead_id] = await held(harness, "a1", external_refs=[REF_CRM])
    assert (await act(harness, lead_id, "close", "a1", reason="没有需求")).status_code == 200
    await harness.send("leads.merged.v1", merged(lead_id, "external_ref", [REF_CRM], 1))
    lead = await harness.lead(lead_id)
    assert (lead["status"], lead["touches"], lead["external_refs"]) == ("closed", 1, [REF_CRM])
    await harness.send("leads.merged.v1", merged(lead_id, "phone", [REF_CRM, REF_WEB], 2))  # a repeat is
    lead = await harness.lead(lead_id)
    assert (lead["status"], lead["touches"]) == ("pooled", 2)
