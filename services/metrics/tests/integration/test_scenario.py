"""A scripted day on the floor, sent through the real handlers (in-memory broker, real MongoDB): the
funnels, call indicators, pool operations, marketplace funnels and training cohorts the API and /metrics
give must equal the values computed by hand below."""

from __future__ import annotations

import json
from typing import Any

from metrics.schemas import AgentIndicators
from metrics_support import (
    DAY,
    Event,
    Harness,
    agent,
    allocated,
    at,
    bought,
    call,
    daily_active,
    deep_learner,
    forwarded,
    holder,
    learned,
    posted,
    qualified,
    rated,
    reclaimed,
    rejected,
    stage,
    tip_reviewed,
    visited,
    win_confirmed,
)

NEXT_DAY = "2026-11-25"


def scenario() -> list[tuple[Event, str]]:
    """(event, envelope time) in the order they are published. Times are minutes after 09:00 on DAY.

    Leads: L1, L2, L4 education, L3 finance; L2 from IM, the others from search ads; one junk lead.
    Agents: a1, a2 in team mba, b1 in team emba. L1 goes all the way and is won by a1 (the CRM's order
    confirms it); L2 is claimed by a1,
    called without connecting, reaches valid and is reclaimed; L3 is assigned to b1 and reaches intent; L4
    is assigned to a2, called (no answer), returned, claimed by b1 and called again (effective, repeat pass).
    Marketplace: a1 visits, buys, learns, rates, forwards and rewatches tip-1 and is flagged a deep learner
    at 13:00; a2 visits tip-1 and tip-2 and buys tip-1; b1 visits tip-2, has its coins reclaimed at 12:00 and
    comes back the next day, learning part of tip-2 (re-learning). Two tips approved, one rejected."""
    m = at
    events: list[tuple[Event, float]] = [
        (agent("a1", "mba"), 0), (agent("a2", "mba"), 0), (agent("b1", "emba", "finance"), 0),
        (qualified("L1", m(0)), 0), (qualified("L2", m(5), channel="im"), 5),
        (qualified("L3", m(10), business_line="finance"), 10), (qualified("L4", m(15)), 15), (rejected(m(20)), 20),
        (allocated("a1", m(0)), 0), (allocated("a2", m(0)), 0), (allocated("b1", m(0)), 0),
        (tip_reviewed("tip-1", m(1)), 1), (tip_reviewed("tip-2", m(2)), 2),
        (tip_reviewed("tip-3", m(3), "rejected"), 3),
        (holder("assigned", "L1", "a1", m(30)), 30), (holder("claimed", "L2", "a1", m(40)), 40),
        (holder("assigned", "L3", "b1", m(45), team="emba", business_line="finance"), 45),
        (holder("assigned", "L4", "a2", m(50)), 50),
        (visited("a1", "tip-1", m(30)), 30), (daily_active("a1", m(30)), 30), (bought("a1", "tip-1", m(31)), 31),
        (visited("a2", "tip-1", m(40)), 40), (daily_active("a2", m(40)), 40), (visited("a2", "tip-2", m(45)), 45),
        (bought("a2", "tip-1", m(50)), 50), (posted("a1", m(31), balance=70), 31),
        (learned("a1", "tip-1", m(58)), 58), (learned("a2", "tip-1", m(59), done=False), 59),
        (call("L1", "a1", m(60), 75), 60), (stage("L1", "valid", agent="a1"), 65),
        (call("L2", "a1", m(90), 0, connected=False), 90), (stage("L2", "valid", agent="a1"), 95),
        (call("L3", "b1", m(60), 30), 60), (stage("L3", "intent", agent="b1", percent=30), 70),
        (rated("a1", "tip-1", m(70)), 70), (forwarded("a1", "tip-1", m(80)), 80), (visited("b1", "tip-2", m(120)), 120),
        (call("L1", "a1", m(120), 200), 120), (stage("L1", "intent", agent="a1"), 125),
        (stage("L1", "agreed_visit", agent="a1"), 130), (learned("a1", "tip-1", m(180), rewatch=True), 180),
        (reclaimed("b1", m(180)), 180), (deep_learner("a1", m(240)), 240),
        (stage("L1", "actual_visit", agent="a1", percent=60), 300), (stage("L1", "plan", agent="a1", percent=60), 330),
        (holder("won", "L1", "a1", m(360)), 360), (win_confirmed("L1", "a1", m(370)), 370),  # the CRM's order
        (call("L4", "a2", m(390), 20, connected=False), 390), (holder("returned", "L4", "a2", m(420)), 420),
        (holder("claimed", "L4", "b1", m(450), team="emba"), 450), (call("L4", "b1", m(480), 65), 480),
        (holder("reclaimed", "L2", "a1", m(540), kind="not_converted"), 540),
        (daily_active("b1", f"{NEXT_DAY}T09:00:00+08:00"), 24 * 60),
        (learned("b1", "tip-2", f"{NEXT_DAY}T09:05:00+08:00", done=False), 24 * 60 + 5),
    ]
    return [(event, m(minutes)) for event, minutes in events]


async def play(harness: Harness) -> None:
    for event, time in scenario():
        await harness.emit(event, time=time)


def steps(row: dict[str, Any]) -> dict[str, int]:
    return {s["step"]: s["count"] for s in row["steps"]}


async def test_the_lead_funnel_equals_the_hand_computed_one(harness: Harness) -> None:
    await play(harness)

    assert await harness.funnel() == {"": {"total": 5, "valid": 3, "intent": 2, "agreed_visit": 1,
                                           "actual_visit": 1, "plan": 1, "paid": 1}}
    assert await harness.funnel(by="business_line") == {
        "education": {"total": 4, "valid": 2, "intent": 1, "agreed_visit": 1, "actual_visit": 1, "plan": 1, "paid": 1},
        "finance": {"total": 1, "valid": 1, "intent": 1, "agreed_visit": 0, "actual_visit": 0, "plan": 0, "paid": 0}}
    assert await harness.funnel(by="channel") == {
        "im": {"total": 1, "valid": 1, "intent": 0, "agreed_visit": 0, "actual_visit": 0, "plan": 0, "paid": 0},
        "search_ads_seo": {"total": 4, "valid": 2, "intent": 2, "agreed_visit": 1, "actual_visit": 1, "plan": 1,
                           "paid": 1}}
    assert await harness.funnel(by="team") == {
        "emba": {"total": 0, "valid": 1, "intent": 1, "agreed_visit": 0, "actual_visit": 0, "plan": 0, "paid": 0},
        "mba": {"total": 0, "valid": 2, "intent": 1, "agreed_visit": 1, "actual_visit": 1, "plan": 1, "paid": 1},
        "none": {"total": 5, "valid": 0, "intent": 0, "agreed_visit": 0, "actual_visit": 0, "plan": 0, "paid": 0}}

    body = await harness.get("/v1/funnels/leads", **{"from": DAY, "to": DAY})
    (row,) = body["rows"]
    assert (row["received"], row["rejected"]) == (4, 1)
    intent = next(s for s in row["steps"] if s["step"] == "intent")
    assert (intent["rate_from_previous"], intent["rate_over_total"]) == (0.666667, 0.4)
    # A team's rates over total are over the leads it received: mba received L1, L2 and L4 (its second
    # holding of L4 by b1 is emba's, but a lead counts as received once, by the team that got it first).
    teams = (await harness.get("/v1/funnels/leads", **{"from": DAY, "to": DAY, "by": "team"}))["rows"]
    mba = next(r for r in teams if r["group"] == {"team": "mba"})
    assert mba["received"] == 3
    assert next(s for s in mba["steps"] if s["step"] == "valid")["rate_over_total"] == 0.666667

    week = await harness.get("/v1/funnels/leads", **{"from": "2026-11-23", "to": "2026-11-29", "period": "week"})
    assert [(r["period"], steps(r)["total"]) for r in week["rows"]] == [("2026-W48", 5)]


async def test_calls_pool_and_agents_equal_the_hand_computed_values(harness: Harness) -> None:
    await play(harness)

    calls = (await harness.get("/v1/funnels/calls", **{"from": DAY, "to": DAY, "by": "team"}))["rows"]
    by_team = {r["group"]["team"]: r for r in calls}
    mba, emba = by_team["mba"], by_team["emba"]
    assert {k: mba[k] for k in ("outbound", "connected", "effective", "deep", "talk_seconds",
                                "multi_effective_leads", "first_calls")} == {
        "outbound": 4, "connected": 2, "effective": 2, "deep": 1, "talk_seconds": 275, "multi_effective_leads": 1,
        "first_calls": 3}
    assert mba["avg_first_call_seconds"] == (1800 + 3000 + 20400) / 3
    assert {k: emba[k] for k in ("outbound", "connected", "effective", "deep", "talk_seconds", "first_calls")} == {
        "outbound": 2, "connected": 2, "effective": 1, "deep": 0, "talk_seconds": 95, "first_calls": 2}
    assert mba["effective_rate"] == 0.5

    pool = (await harness.get("/v1/funnels/pool", **{"from": DAY, "to": DAY, "by": "business_line"}))["rows"]
    education = next(r for r in pool if r["group"] == {"business_line": "education"})
    assert {k: education[k] for k in ("created", "assigned", "claimed", "received", "returned",
                                      "reclaimed_not_processed", "reclaimed_not_converted", "reclaimed", "closed",
                                      "won", "holdings", "processed", "processed_first_pass", "processed_repeat")} == {
        "created": 3, "assigned": 2, "claimed": 2, "received": 7, "returned": 1, "reclaimed_not_processed": 0,
        "reclaimed_not_converted": 1, "reclaimed": 1, "closed": 0, "won": 1, "holdings": 4, "processed": 2,
        "processed_first_pass": 1, "processed_repeat": 1}
    # worked by an effective call: L1 (75 s) and L4 by b1 (65 s); L2's and L4's first holdings were only dialled
    assert (education["processing_rate"], education["first_pass_share"]) == (0.5, 0.5)
    assert education["holders_before_won"]["1"] == 1 and education["avg_holders_before_won"] == 1.0

    a1 = await harness.get("/v1/agents/a1/indicators", **{"from": DAY, "to": DAY})
    # its OpenAPI document declares this body field for field (no coercion, nothing missing or extra)
    assert AgentIndicators.model_validate_json(json.dumps(a1), strict=True).model_dump(
        mode="json", by_alias=True, exclude_unset=True) == a1
    totals = a1["totals"]
    assert {k: totals[k] for k in ("outbound", "connected", "effective", "deep", "talk_seconds", "received",
                                   "processed", "valid", "intent", "agreed_visit", "actual_visit", "plan", "paid",
                                   "won")} == {
        "outbound": 3, "connected": 2, "effective": 2, "deep": 1, "talk_seconds": 275, "received": 2,
        "processed": 1, "valid": 2, "intent": 1, "agreed_visit": 1, "actual_visit": 1, "plan": 1, "paid": 1, "won": 1}
    assert (a1["team_id"], a1["cohort"], a1["team_agents"]) == ("mba", "deep", 2)
    assert a1["rates"] == {"agent": {"connect_60s": 0.666667, "intent": 0.5, "visit": 1.0, "plan": 1.0},
                           "team": {"connect_60s": 0.5, "intent": 0.5, "visit": 1.0, "plan": 1.0}}
    # The team (mba: a1 and a2) over the same day: the calls the team's call funnel counts, its rates, funnel
    # step by step, and the per-agent averages "My day" compares the agent with.
    team = a1["team"]
    assert (team["team_id"], team["agents"]) == ("mba", 2)
    assert {k: team["totals"][k] for k in ("outbound", "connected", "effective", "deep", "talk_seconds")} == {
        k: mba[k] for k in ("outbound", "connected", "effective", "deep", "talk_seconds")}
    assert (team["totals"]["connect_rate"], team["totals"]["effective_rate"], team["totals"]["deep_rate"]) == (
        0.5, 0.5, 0.25)
    assert (team["per_agent"]["outbound"], team["per_agent"]["effective"]) == (2.0, 1.0)
    team_steps = {row["step"]: row for row in team["funnel"]}
    assert team_steps["intent"]["rate_from_previous"] == a1["rates"]["team"]["intent"]
    mine = {row["step"]: row for row in a1["funnel"]}
    assert [(step, mine[step]["count"]) for step in mine] == [
        ("valid", 2), ("intent", 1), ("agreed_visit", 1), ("actual_visit", 1), ("plan", 1), ("paid", 1)]
    assert (mine["intent"]["rate_from_previous"], mine["paid"]["rate_over_total"]) == (0.5, 0.5)

    csv = await harness.http.get("/v1/agents/a1/indicators", params={"from": DAY, "to": DAY, "format": "csv"})
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    header, row = csv.content.decode("utf-8-sig").splitlines()
    assert dict(zip(header.split(","), row.split(","), strict=True))["outbound"] == "3"


async def test_marketplace_and_training_equal_the_hand_computed_values(harness: Harness) -> None:
    await play(harness)

    market = await harness.get("/v1/funnels/marketplace", **{"from": DAY, "to": NEXT_DAY})
    day, next_day = market["rows"]
    assert steps({"steps": day["users"]}) == {"visit": 3, "buy": 2, "learn": 1, "rate": 1, "forward": 1}
    tips = day["tips"]
    assert {k: tips[k] for k in ("visited", "bought", "learned", "rewatched", "rated", "forwarded")} == {
        "visited": 4, "bought": 2, "learned": 1, "rewatched": 1, "rated": 1, "forwarded": 1}
    assert (tips["review_pass_rate"], tips["purchase_rate"], tips["learning_rate"], tips["forward_rate"],
            tips["rewatch_rate"]) == (0.666667, 0.5, 0.5, 1.0, 1.0)
    # a1, a2 and b1 got coins; b1's were reclaimed: two hold coins at the end of the day; a1 and a2 were
    # active: 2 of the 3 users the coins were allocated to; the next day b1 alone: 1 of 3.
    assert (day["counts"]["daily_active"], day["accounts_holding_coins"], day["users_allocated"],
            day["daily_active_rate"]) == (2, 2, 3, 0.666667)
    assert (next_day["counts"]["daily_active"], next_day["users_allocated"], next_day["daily_active_rate"]) == (
        1, 3, 0.333333)
    # b1, reclaimed on the first day, learned again the next: the first day's cohort re-learned 1 of 1.
    assert (day["users_reclaimed"], day["users_relearned"], day["reclaimed_relearned"], day["relearn_rate"]) == (
        1, 0, 1, 1.0)
    assert (next_day["users_relearned"], next_day["relearn_rate"]) == (1, None)
    assert market["all_time"]["relearn_rate"] == 1.0

    training = {r["cohort"]: r for r in (await harness.get("/v1/funnels/training",
                                                           **{"from": DAY, "to": DAY}))["rows"]}
    # Counted in the cohort the agent was in when it happened: a1 learned at 09:58 and was flagged deep at
    # 13:00; a2 and b1 never learned.
    assert (training["learner"]["outbound"], training["learner"]["valid"], training["learner"]["intent"]) == (3, 2, 1)
    assert (training["deep"]["actual_visit"], training["deep"]["won"], training["deep"]["agents"]) == (1, 1, 1)
    assert (training["none"]["received"], training["none"]["outbound"], training["none"]["agents"]) == (5, 3, 2)

    tip_rows = {r["tip_id"]: r for r in (await harness.get("/v1/funnels/tips"))["rows"]}
    assert (tip_rows["tip-1"]["purchases"], tip_rows["tip-1"]["visited"], tip_rows["tip-1"]["title"]) == (
        2, 2, "客户嫌贵怎么办")


async def test_one_batch_counts_what_the_events_one_by_one_count(harness: Harness) -> None:
    """The whole scenario handed over in one batch (one transaction) gives the same funnels."""
    deliveries = [harness.delivery(event, time=time) for event, time in reversed(scenario())]
    assert await harness.metrics.handle(deliveries) == len(deliveries)
    assert await harness.funnel(by="business_line") == {
        "education": {"total": 4, "valid": 2, "intent": 1, "agreed_visit": 1, "actual_visit": 1, "plan": 1, "paid": 1},
        "finance": {"total": 1, "valid": 1, "intent": 1, "agreed_visit": 0, "actual_visit": 0, "plan": 0, "paid": 0}}
    a1 = await harness.get("/v1/agents/a1/indicators", **{"from": DAY, "to": DAY})
    assert (a1["totals"]["outbound"], a1["totals"]["processed"], a1["totals"]["won"]) == (3, 1, 1)


async def test_a_win_its_agent_declared_counts_toward_no_ranking_until_it_is_confirmed(harness: Harness) -> None:
    """The walk-around: a2 declares a big win nobody confirms, b1 a small one the supervisor confirms. The
    agents' indicators (what rankings compare) count only the confirmed one, on the day it was confirmed."""
    m = at
    await harness.emit(agent("a2", "mba"), agent("b1", "emba"), qualified("L8", m(0)), qualified("L9", m(0)))
    await harness.emit(holder("claimed", "L8", "a2", m(10)), holder("claimed", "L9", "b1", m(10), team="emba"))
    await harness.emit(holder("won", "L8", "a2", m(60), amount_fen=90_000_000),
                       holder("won", "L9", "b1", m(60), team="emba", amount_fen=20_000))
    a2 = await harness.get("/v1/agents/a2/indicators", **{"from": DAY, "to": DAY})
    assert (a2["totals"]["won"], a2["totals"]["won_fen"], a2["totals"]["conversion_rate"]) == (0, 0, 0.0)
    await harness.emit(win_confirmed("L9", "b1", f"{NEXT_DAY}T10:00:00+08:00", amount_fen=20_000, team="emba",
                                     by="supervisor"))
    b1_day = await harness.get("/v1/agents/b1/indicators", **{"from": DAY, "to": DAY})
    b1_next = await harness.get("/v1/agents/b1/indicators", **{"from": NEXT_DAY, "to": NEXT_DAY})
    assert (b1_day["totals"]["won"], b1_next["totals"]["won"], b1_next["totals"]["won_fen"]) == (0, 1, 20_000)
    pool = {row["group"].get("team"): row for row in (await harness.get(
        "/v1/funnels/pool", **{"from": DAY, "to": NEXT_DAY, "by": "team", "period": "range"}))["rows"]}
    assert (pool["mba"]["won"], pool["mba"]["won_confirmed"]) == (1, 0)  # left the pool, counts for nobody
    assert (pool["emba"]["won_confirmed"], pool["emba"]["won_confirmed_amount_fen"]) == (1, 20_000)
    # only the confirmed win reached paid in the funnel; the declared one waits, then the CRM says it was lost
    funnel = {row["group"].get("team"): row for row in (await harness.get(
        "/v1/funnels/leads", **{"from": DAY, "to": NEXT_DAY, "by": "team", "period": "range"}))["rows"]}
    paid = {team: next(s["count"] for s in row["steps"] if s["step"] == "paid") for team, row in funnel.items()}
    assert (paid.get("mba", 0), paid["emba"]) == (0, 1)
    await harness.emit(("allocation.win-rejected.v1", {
        "lead_id": "L8", "agent_id": "a2", "team_id": "mba", "business_line": "education", "pool_id": "education",
        "declared_amount_fen": 90_000_000, "won_at": m(60), "rejected_by": "order", "rejecter": "crm",
        "reason": "lost", "order_ref": None, "rejected_at": m(90)}))
    pool = {row["group"].get("team"): row for row in (await harness.get(
        "/v1/funnels/pool", **{"from": DAY, "to": NEXT_DAY, "by": "team", "period": "range"}))["rows"]}
    assert (pool["mba"]["won"], pool["mba"]["won_confirmed"], pool["mba"]["win_rejected"]) == (1, 0, 1)
    a2 = await harness.get("/v1/agents/a2/indicators", **{"from": DAY, "to": NEXT_DAY})
    assert (a2["totals"]["won"], a2["totals"]["won_fen"]) == (0, 0)


async def test_prometheus_exposes_the_scenario(harness: Harness) -> None:
    await play(harness)
    await harness.emit(("leads.do-not-call.v1", {"phone_bidx": "AAAAAAAAAAAAAAAAAAAA01", "listed": True,
                                                  "source": "complaint", "changed_at": at(30)}))
    samples = await harness.scrape()

    assert samples["telesales_funnel_leads_by_business_line_total{business_line=education,step=total}"] == 4
    assert samples["telesales_funnel_leads_by_channel_total{channel=search_ads_seo,step=intent}"] == 2
    assert samples["telesales_funnel_leads_by_team_total{step=received,team=mba}"] == 3
    assert samples["telesales_leads_rejected_total{business_line=education}"] == 1
    assert samples["telesales_calls_total{team=mba}"] == 4
    assert samples["telesales_calls_effective_total{team=emba}"] == 1
    assert samples["telesales_leads_multiple_effective_calls_total{team=mba}"] == 1
    assert samples["telesales_call_duration_seconds_bucket{le=60.0,team=mba}"] == 0
    assert samples["telesales_call_duration_seconds_bucket{le=120.0,team=mba}"] == 1
    assert samples["telesales_call_duration_seconds_count{team=mba}"] == 2
    assert samples["telesales_call_duration_seconds_sum{team=mba}"] == 275
    assert samples["telesales_lead_first_call_delay_seconds_count{team=emba}"] == 2
    assert samples["telesales_pool_operations_total{business_line=education,operation=returned,team=mba}"] == 1
    assert samples["telesales_pool_holdings_processed_total{business_line=education,pass=repeat,team=emba}"] == 1
    assert samples["telesales_pool_holders_before_won_bucket{business_line=education,le=1.0}"] == 1
    assert samples["telesales_market_users_total{step=buy}"] == 2
    assert samples["telesales_market_tip_users_total{step=rewatched}"] == 1
    assert samples["telesales_market_accounts_holding_coins{}"] == 2
    assert samples["telesales_market_users_relearned_total{}"] == 1
    assert samples["telesales_training_cohort_indicators_total{cohort=deep,indicator=won}"] == 1
    assert samples["telesales_training_cohort_agents{cohort=none}"] == 2
    assert samples["telesales_do_not_call_changes_total{change=listed,source=complaint}"] == 1
    assert not any(name.startswith("telesales_funnel_leads_by_team") and "agent" in name for name in samples)
