"""Wins count when confirmed, and the rules built on them, on the real MongoDB and Redis: each test tries to
walk around a rule. (Rejected wins: test_win_rejections.py.) An agent's own win raises neither its grade nor what it may claim next week; an order
from the CRM (leads.outcome.v1) or the winner's supervisor confirms it, a supervisor of another team cannot;
a small purchase puts nobody in the buyer pool (进取池); whether A is "top N AND >= threshold" or "top N OR
>= threshold" is the tenant's grading setting, and the grade opens or closes a tier the next week."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from allocator import grading
from allocator_support import Harness
from telesales_testkit.harness import CLOUDEVENTS_CONTENT_TYPE, cloudevent

PROBLEM = "application/problem+json"
TIERS = [{"tier_id": "all", "name": "every pooled lead"}, {"tier_id": "a-only", "name": "for A", "grades": ["A"]}]


async def declare(harness: Harness, agent_id: str, amount_fen: int, *, tier: str = "all", **lead: Any) -> str:
    """A lead claimed by `agent_id` and declared won by it (成单 over HTTP, as the agent)."""
    [lead_id] = await harness.pooled(1, **lead)
    claimed = await harness.claim(agent_id, tier)
    assert [item["lead_id"] for item in claimed.json()["leads"]] == [lead_id], claimed.text
    response = await harness.http.post(f"/v1/leads/{lead_id}/win", json={"agent_id": agent_id, "amount_fen": amount_fen},
                                       headers=harness.as_actor(agent_id))
    assert response.status_code == 200, response.text
    assert response.json()["win"]["state"] == "unconfirmed"
    return lead_id


async def order(harness: Harness, **data: Any) -> str:
    """An order from the CRM: a won leads.outcome.v1 from outside the platform."""
    return await harness.send("leads.outcome.v1", {"outcome": "won", **data})


async def confirm(harness: Harness, lead_id: str, supervisor: str, **body: Any) -> httpx.Response:
    return await harness.http.post(f"/v1/leads/{lead_id}/win/confirmation", json=body,
                                   headers=harness.as_actor(supervisor))


async def into_week(harness: Harness, week: str, lead_ids: list[str]) -> None:
    """Date the wins (declared and confirmed) inside `week`, as if they happened then."""
    start, _ = grading.week_bounds(week, harness.leads.tz)
    await harness.store.leads.update_many(
        {"tenant_id": harness.tenant, "_id": {"$in": lead_ids}},
        [{"$set": {"won_at": start + timedelta(days=1),
                   "win_confirmed_at": {"$cond": ["$win_confirmed", start + timedelta(days=2), None]}}}])


async def grade(harness: Harness, week: str) -> dict[str, str]:
    response = await harness.http.post(f"/v1/gradings/{week}")
    assert response.status_code == 200 and response.json()["graded"] is True, response.text
    return {a["agent_id"]: a["grade"] for a in (await harness.http.get("/v1/agents")).json()["items"]
            if a["role"] == "agent"}


async def may_open(harness: Harness, agent_id: str, tier_id: str) -> bool:
    tiers = (await harness.http.get("/v1/tiers", params={"agent_id": agent_id})).json()
    return {t["tier_id"]: t["may_open"] for t in tiers}[tier_id]


def weeks_ago(harness: Harness, weeks: int) -> str:
    return grading.iso_week((datetime.now(UTC).astimezone(harness.leads.tz) - timedelta(weeks=weeks)).date())


async def test_a_self_declared_win_raises_neither_the_grade_nor_the_tier_next_week(harness: Harness) -> None:
    assert (await harness.http.put("/v1/config/tiers", json=TIERS)).status_code == 200
    top_one = {"a_top_n": 1, "a_min_sales_fen": None, "b_share": 0, "c_share": 0, "d_share": 0, "e_promote_share": 0}
    assert (await harness.http.put("/v1/config/grading", json=top_one)).status_code == 200
    await harness.agent("boaster")
    await harness.agent("seller")
    boasted = await declare(harness, "boaster", 10_000_000)  # 100,000 yuan, says the agent
    sold = await declare(harness, "seller", 10_000)
    await order(harness, lead_id=sold, amount_fen=10_000, order_ref="SO-1")  # the CRM took the order
    await harness.relay()
    assert (await harness.lead(boasted))["win_confirmed"] is False
    assert (await harness.lead(sold))["win_confirmed"] is True
    last_week = weeks_ago(harness, 1)
    await into_week(harness, last_week, [boasted, sold])

    assert await grade(harness, last_week) == {"boaster": "E", "seller": "A"}
    await harness.relay()
    graded = {e["data"]["agent_id"]: e["data"] for e in harness.of("agents.graded.v1")}
    assert (graded["boaster"]["sales_fen"], graded["boaster"]["deals"]) == (0, 0)
    assert (graded["seller"]["sales_fen"], graded["seller"]["deals"]) == (10_000, 1)
    # this week the grade decides what each may claim
    await harness.pooled(2)
    assert (await may_open(harness, "boaster", "a-only"), await may_open(harness, "seller", "a-only")) == (False, True)
    refused = await harness.claim("boaster", "a-only")
    assert refused.status_code == 403 and refused.json()["code"] == "grade_not_allowed"
    assert (await harness.claim("seller", "a-only")).json()["claimed"] == 1


async def test_only_the_winners_supervisor_confirms_and_the_page_says_which(harness: Harness) -> None:
    await harness.agent("a1", team_id="ta")
    await harness.agent("sup-a", team_id="ta", role="supervisor")
    await harness.agent("sup-b", team_id="tb", role="supervisor")
    await harness.agent("b1", team_id="tb")
    lead_id = await declare(harness, "a1", 500_000, tier="fresh")
    # the agent itself, a supervisor of another team, and an outcome that claims to be ours: none confirms
    assert (await confirm(harness, lead_id, "a1")).status_code == 403
    other_team = await confirm(harness, lead_id, "sup-b", order_ref="SO-forged")
    assert other_team.status_code == 403 and other_team.headers["content-type"] == PROBLEM
    assert other_team.json()["code"] == "outside_your_team"
    echo = cloudevent("leads.outcome.v1", harness.tenant, {"lead_id": lead_id, "outcome": "won", "amount_fen": 1},
                      event_id="echo-1", time=harness.event_time, source=harness.leads.settings.source)
    await harness.broker.publish(echo, topic="leads.outcome.v1", headers={"content-type": CLOUDEVENTS_CONTENT_TYPE})
    page = (await harness.http.get(f"/v1/leads/{lead_id}", headers=harness.as_actor("sup-a"))).json()
    assert (page["win"]["state"], page["win"]["won_by"], page["buyer"]) == ("unconfirmed", "a1", False)

    confirmed = await confirm(harness, lead_id, "sup-a", order_ref="SO-42")
    assert confirmed.status_code == 200, confirmed.text
    win = confirmed.json()["win"]
    assert (win["state"], win["confirmed_by"], win["confirmer"], win["order_ref"], win["amount_fen"]) == (
        "confirmed", "supervisor", "sup-a", "SO-42", 500_000)
    assert confirmed.json()["buyer"] is True  # 5,000 yuan: over the default threshold of 2,000
    again = await confirm(harness, lead_id, "sup-a")
    assert again.status_code == 409 and again.json()["code"] == "already_confirmed"
    history = (await harness.http.get(f"/v1/leads/{lead_id}/history", headers=harness.as_actor("sup-a"))).json()
    assert [(e["kind"], e["agent_id"], e.get("via")) for e in history["entries"]][-2:] == [
        ("won", "a1", None), ("win_confirmed", "sup-a", "supervisor")]
    await harness.relay()
    [event] = harness.of("allocation.win-confirmed.v1")
    assert event["data"] | {"won_at": None, "confirmed_at": None} == {
        "lead_id": lead_id, "agent_id": "a1", "team_id": "ta", "business_line": "education", "amount_fen": 500_000,
        "declared_amount_fen": 500_000, "confirmed_by": "supervisor", "confirmer": "sup-a", "order_ref": "SO-42",
        "won_at": None, "confirmed_at": None}
    [held] = await harness.pooled(1)  # nothing to confirm on a lead not won, by its own supervisor either
    assert (await harness.claim("b1", "fresh")).json()["claimed"] == 1
    not_won = await confirm(harness, held, "sup-b")
    assert not_won.status_code == 409 and not_won.json()["code"] == "not_won"


async def test_an_order_confirms_once_and_a_small_purchase_makes_no_buyer(harness: Harness) -> None:
    await harness.agent("a1")
    refs = [{"source_system": "crm", "external_id": "C-9"}]
    declared = await declare(harness, "a1", 5_000_000, tier="fresh", external_refs=refs)
    # the CRM names the lead by its own id, and the order's amount is what counts: 500 yuan
    event_id = await order(harness, source_system="crm", external_id="C-9", amount_fen=50_000, order_ref="SO-9")
    lead = await harness.lead(declared)
    assert (lead["win_confirmed"], lead["won_amount_fen"], lead["purchases_fen"], lead["buyer"]) == (
        True, 50_000, 50_000, False)
    await harness.send("leads.outcome.v1", {"outcome": "won", "lead_id": declared, "amount_fen": 50_000},
                       event_id=event_id)  # redelivered
    await order(harness, lead_id=declared, amount_fen=50_000, order_ref="SO-9")  # sent again under a new id
    assert (await harness.lead(declared))["purchases_fen"] == 50_000
    # an order for a lead its holder had not declared yet: won for the holder, confirmed, a buyer at 3,000 yuan
    [still_held] = await harness.pooled(1)
    assert (await harness.claim("a1", "fresh")).json()["claimed"] == 1
    await order(harness, lead_id=still_held, amount_fen=300_000, order_ref="P-3")
    lead = await harness.lead(still_held)
    assert (lead["status"], lead["won_by"], lead["win_confirmed"], lead["buyer"]) == ("won", "a1", True, True)
    await harness.relay()
    assert sorted(e["data"]["order_ref"] for e in harness.of("allocation.win-confirmed.v1")) == ["P-3", "SO-9"]
    ours = [e for e in harness.of("leads.outcome.v1") if e["source"] != "/tests"]
    assert ours == []  # neither a declaration nor an order's confirmation: the CRM said both outcomes itself
    # lead-intake's word: bought for 500 yuan is no buyer, for 5,000 yuan is
    [small] = await harness.pooled(1, attributes={"purchased_yuan": "500"})
    [large] = await harness.pooled(1, attributes={"purchased_yuan": "5000"})
    [flag] = await harness.pooled(1, attributes={"buyer": "yes"})  # a purchase of no known amount
    page = (await harness.http.get("/v1/pools/education/leads", params={"tier": "buyer"})).json()
    assert [item["lead_id"] for item in page["items"]] == [large]
    assert {(await harness.lead(x))["buyer"] for x in (small, flag)} == {False}


async def test_an_order_that_confirms_nothing_is_dead_lettered_with_its_reason(harness: Harness) -> None:
    [pooled] = await harness.pooled(1)
    await order(harness, source_system="crm", external_id="NOBODY", amount_fen=100)
    await order(harness, lead_id=pooled, amount_fen=100, order_ref="SO-0")  # nobody won it, nobody holds it
    await harness.send("leads.outcome.v1", {"lead_id": pooled, "outcome": "lost"})  # not an order: nothing
    letters = [(d["data"]["error_type"], d["data"]["original_topic"]) for d in harness.of("platform.dead-lettered.v1")]
    assert letters == [("unknown_lead", "leads.outcome.v1"), ("not_won", "leads.outcome.v1")]
    assert (await harness.lead(pooled))["status"] == "pooled"


async def test_the_tenant_decides_whether_a_needs_top_n_and_or_or_the_amount(harness: Harness) -> None:
    assert (await harness.http.put("/v1/config/tiers", json=TIERS)).status_code == 200
    rule = {"a_top_n": 1, "a_min_sales_fen": 300_000, "b_share": 0, "c_share": 0, "d_share": 0, "e_promote_share": 0}
    assert (await harness.http.put("/v1/config/grading", json=rule)).status_code == 200
    await harness.agent("x1")
    await harness.agent("x2")
    await harness.agent("sup", role="supervisor")

    async def confirmed_sales(week: str) -> None:
        wins = [await declare(harness, "x1", 250_000), await declare(harness, "x2", 100_000)]  # both under 3,000
        for lead_id in wins:
            assert (await confirm(harness, lead_id, "sup")).status_code == 200
        await into_week(harness, week, wins)

    either_week, both_week = weeks_ago(harness, 2), weeks_ago(harness, 1)
    await confirmed_sales(either_week)
    assert await grade(harness, either_week) == {"x1": "A", "x2": "E"}  # top 1 OR 3,000 yuan
    assert await may_open(harness, "x1", "a-only") is True
    stored = (await harness.http.get("/v1/config/grading")).json()
    both = await harness.http.put("/v1/config/grading", json={**stored["value"], "a_requires": "both"},
                                  headers={"If-Match": str(stored["version"])})
    assert both.status_code == 200, both.text
    await confirmed_sales(both_week)
    assert await grade(harness, both_week) == {"x1": "E", "x2": "E"}  # top 1 AND 3,000 yuan: nobody
    assert await may_open(harness, "x1", "a-only") is False
    refused = await harness.claim("x1", "a-only")
    assert refused.status_code == 403 and refused.json()["code"] == "grade_not_allowed"
    wrong = await harness.http.put("/v1/config/grading", json={**rule, "a_requires": "sometimes"},
                                   headers={"If-Match": str(both.json()["version"])})
    assert wrong.status_code == 422 and wrong.headers["content-type"] == PROBLEM
