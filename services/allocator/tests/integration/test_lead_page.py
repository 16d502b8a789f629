"""What the agents' console shows of a lead, on the real MongoDB and Redis: the reclaim clock (the
sweep's own rule), the hot marker, the score's parts, and the lead's history (GET /v1/leads/{id}/history)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from allocator_support import Harness

SIGNAL_AT = "2026-11-24T10:00:00+08:00"


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def held(harness: Harness, agent_id: str, count: int = 1, **lead: Any) -> list[str]:
    ids = await harness.pooled(count, **lead)
    response = await harness.claim(agent_id, count=count)
    assert sorted(item["lead_id"] for item in response.json()["leads"]) == sorted(ids), response.text
    return ids


async def act(harness: Harness, lead_id: str, action: str, agent_id: str, **body: Any) -> httpx.Response:
    return await harness.http.post(f"/v1/leads/{lead_id}/{action}", json={"agent_id": agent_id, **body},
                                   headers=harness.as_actor(agent_id))


async def stage(harness: Harness, lead_id: str, actor: str, **body: Any) -> httpx.Response:
    return await harness.http.post(f"/v1/leads/{lead_id}/stage", json=body, headers=harness.as_actor(actor))


async def call(harness: Harness, lead_id: str, agent_id: str, *, started_at: datetime | None = None,
               duration: int = 90, connected: bool = True) -> None:
    await harness.send("calls.logged.v1", {
        "call_id": None, "agent_id": agent_id, "lead_id": lead_id,
        "started_at": (started_at or datetime.now(UTC)).isoformat(), "duration_seconds": duration,
        "connected": connected})


async def view(harness: Harness, lead_id: str, actor: str) -> dict[str, Any]:
    response = await harness.http.get(f"/v1/leads/{lead_id}", headers=harness.as_actor(actor))
    assert response.status_code == 200, response.text
    return response.json()


async def history_of(harness: Harness, lead_id: str, headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    response = await harness.http.get(f"/v1/leads/{lead_id}/history", headers=headers or {})
    assert response.status_code == 200, response.text
    assert response.json()["lead_id"] == lead_id
    return response.json()["entries"]


async def test_a_held_lead_shows_when_it_is_reclaimed_and_what_stops_it(harness: Harness) -> None:
    await harness.agent("a1")
    [lead_id] = await held(harness, "a1")
    lead = await harness.lead(lead_id)
    body = await view(harness, lead_id, "a1")
    # the default policy: 3 days without a call, warned 24 hours before
    assert body["reclaim"]["kind"] == "not_processed" and body["reclaim"]["unless"] == "call"
    assert at(body["reclaim"]["at"]) == lead["held_since"] + timedelta(days=3)
    assert at(body["reclaim"]["warn_at"]) == lead["held_since"] + timedelta(days=2)
    # the sweep judges the same: nothing the day before, reclaimed at the time shown
    assert (await harness.leads.sweep_tenant(harness.tenant, now=at(body["reclaim"]["at"]) - timedelta(
        seconds=1)))["reclaimed"] == 0

    await call(harness, lead_id, "a1")
    [item] = (await harness.http.get("/v1/agents/a1/leads", headers=harness.as_actor("a1"))).json()["items"]
    assert (item["reclaim"]["kind"], item["reclaim"]["unless"]) == ("not_converted", "advance_stage")
    assert at(item["reclaim"]["at"]) == lead["held_since"] + timedelta(days=10)

    response = await stage(harness, lead_id, "a1", stage_percent=30, funnel_step="intent")
    assert response.status_code == 200, response.text
    moved = response.json()["reclaim"]
    assert moved["kind"] == "not_converted" and at(moved["at"]) > lead["held_since"] + timedelta(days=10)

    response = await stage(harness, lead_id, "a1", stage_percent=30, deal_in_progress=True)
    # asked for, not granted: the clock runs on until the supervisor approves
    assert (response.json()["deal_in_progress"], response.json()["deal_mark"]["status"]) == (False, "pending")
    assert response.json()["reclaim"] == moved

    response = await act(harness, lead_id, "return", "a1", reason="不需要")
    assert response.json()["reclaim"] is None  # pooled: nobody's clock


async def test_the_hot_marker_is_the_signal_that_happened_last(harness: Harness) -> None:
    await harness.agent("a1")
    [lead_id] = await held(harness, "a1")
    assert (await view(harness, lead_id, "a1"))["hot"] is None
    await harness.send("leads.signal.v1", {"lead_id": lead_id, "kind": "unpaid_order", "detail": "订单 8812 未支付",
                                           "occurred_at": SIGNAL_AT})
    earlier = (at(SIGNAL_AT) - timedelta(hours=2)).isoformat()
    await harness.send("leads.signal.v1", {"lead_id": lead_id, "kind": "long_browsing", "detail": None,
                                           "occurred_at": earlier})  # arrives late: not the latest
    hot = (await view(harness, lead_id, "a1"))["hot"]
    assert (hot["kind"], hot["detail"], at(hot["at"])) == ("unpaid_order", "订单 8812 未支付", at(SIGNAL_AT))


async def test_the_score_keeps_the_parts_lead_intake_explained(harness: Harness) -> None:
    await harness.agent("a1")
    parts = [{"feature": "channel", "value": "search_ads_seo", "points": 20.0},
             {"feature": "region", "value": "广东", "points": 12.5}]
    model = {"probability_won": 0.31, "blend_weight": 0.5, "outcomes_used": 420, "feature_log_odds": {"a": 0.1}}
    [lead_id] = await held(harness, "a1", score_breakdown=parts, model=model)
    body = await view(harness, lead_id, "a1")
    assert body["score_parts"] == parts
    assert body["score_model"] == {"probability_won": 0.31, "blend_weight": 0.5, "outcomes_used": 420}
    [plain] = await held(harness, "a1")
    assert ((await view(harness, plain, "a1"))["score_parts"], (await view(harness, plain, "a1"))["score_model"]) == (
        [], None)


async def test_a_leads_history_lists_holders_calls_stages_and_signals_in_time_order(harness: Harness) -> None:
    await harness.agent("a1")
    await harness.agent("a2")
    await harness.agent("s1", role="supervisor")
    [lead_id] = await held(harness, "a1")
    called_at = datetime.now(UTC)
    await call(harness, lead_id, "a1", started_at=called_at, duration=75, connected=True)
    assert (await stage(harness, lead_id, "a1", stage_percent=30, funnel_step="intent")).status_code == 200
    await harness.send("leads.signal.v1", {"lead_id": lead_id, "kind": "redemption", "detail": "兑换 1 次",
                                           "occurred_at": SIGNAL_AT})
    mine = await history_of(harness, lead_id, harness.as_actor("a1"))
    assert [e["kind"] for e in mine] == ["signal", "claimed", "call", "stage"]  # the signal happened first
    signal, claimed, called, moved = mine
    assert (signal["signal_kind"], signal["detail"], signal["agent_id"]) == ("redemption", "兑换 1 次", "a1")
    assert (claimed["agent_id"], claimed["via"]) == ("a1", "fresh")
    assert (called["agent_id"], called["duration_seconds"], called["connected"]) == ("a1", 75, True)
    assert (moved["stage_percent"], moved["funnel_step"], moved["agent_id"]) == (30, "intent", "a1")

    response = await harness.http.get(f"/v1/leads/{lead_id}/history", headers=harness.as_actor("a2"))
    assert (response.status_code, response.json()["code"]) == (403, "not_your_lead")

    assert (await act(harness, lead_id, "return", "a1", reason="没有预算")).status_code == 200
    response = await harness.http.get(f"/v1/leads/{lead_id}/history", headers=harness.as_actor("a1"))
    assert response.status_code == 403  # no longer its lead
    assert (await harness.claim("a2", "abandoned-1")).status_code == 200
    await harness.leads.sweep_tenant(harness.tenant, now=datetime.now(UTC) + timedelta(days=4))
    for headers in (harness.as_actor("s1"), harness.as_("operator", "ops")):
        entries = await history_of(harness, lead_id, headers)
        assert [e["kind"] for e in entries][-3:] == ["returned", "claimed", "reclaimed"]
        returned, again, reclaimed = entries[-3:]
        assert (returned["agent_id"], returned["reason"]) == ("a1", "没有预算")
        assert (again["agent_id"], reclaimed["agent_id"], reclaimed["reclaim_kind"]) == ("a2", "a2", "not_processed")

    response = await harness.http.get("/v1/leads/nope/history")
    assert response.status_code == 404


async def test_a_leads_history_records_its_end(harness: Harness) -> None:
    await harness.agent("a1")
    [won, closed] = await held(harness, "a1", count=2)
    assert (await act(harness, won, "win", "a1", amount_fen=99_00)).status_code == 200
    assert (await act(harness, closed, "close", "a1", reason="空号")).status_code == 200
    [*_, last] = await history_of(harness, won)
    assert (last["kind"], last["agent_id"], last["amount_fen"]) == ("won", "a1", 99_00)
    [*_, last] = await history_of(harness, closed)
    assert (last["kind"], last["agent_id"], last["reason"]) == ("closed", "a1", "空号")
