"""The call-center day simulator (`make demo`): its plan is a pure function of the seed, and a small day
played against the services on the real broker adds up in the metrics service."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from typing import Any

from rich.console import Console

from telesales_contracts import BY_NAME
from telesales_tools import calls_plan
from telesales_tools import scenario as sc
from telesales_tools.demo import Options, play
from telesales_tools.platform import Endpoints, event_bytes
from telesales_tools.report import lead_steps

DAY = date(2026, 11, 26)


def sent_bytes(plan: sc.Scenario) -> list[bytes]:
    """What the outside systems of the plan publish, byte for byte (times and ids included)."""
    return [event_bytes("leads.received.v1", lead.data, tenant="t", source="/demo/web", time=lead.at,
                        event_id=lead.event_id)[1] for lead in plan.leads]


def test_the_same_seed_plans_the_same_day_and_another_seed_another() -> None:
    first, again = sc.build(11, agents=30, leads=300, day=DAY), sc.build(11, agents=30, leads=300, day=DAY)
    assert first == again
    assert sent_bytes(first) == sent_bytes(again)
    other = sc.build(12, agents=30, leads=300, day=DAY)
    assert sent_bytes(other) != sent_bytes(first)


def test_the_plan_is_a_realistic_day() -> None:
    plan = sc.build(5, agents=200, day=DAY)
    expected = plan.expected()
    assert expected["published"] == len(plan.leads) == 200 * 12 + expected["redelivered"]
    assert expected["new"] == len(plan.customers) and expected["rejected"] > 0 and expected["merged"] > 0
    assert sorted({a.grade for a in plan.agents}) == list(sc.GRADES) and len(plan.teams) == 20
    # only the overnight backlog (and a redelivery: the same event again) is older than the shift
    assert all(plan.clock.at(0) <= lead.at for lead in plan.leads if lead.tick > 0 and lead.kind != "redelivery")
    assert all(0 <= lead.tick < plan.clock.ticks for lead in plan.leads)
    assert [lead.tick for lead in plan.leads] == sorted(lead.tick for lead in plan.leads)
    for lead in plan.leads:  # every message satisfies the contract of leads.received.v1
        BY_NAME["leads.received.v1"].data_model.model_validate(lead.data)
    repeats = [lead for lead in plan.leads if lead.kind == "repeat"]
    assert all(lead.phone_e164 in plan.customers for lead in repeats)
    assert sum(not t.passes_review for t in plan.tips) == 1 and plan.shoppers


def test_the_day_starts_after_now_on_the_floor_clock() -> None:
    assert sc.shift_day_after(datetime(2026, 11, 25, 23, 0, tzinfo=UTC)) == date(2026, 11, 26)  # 07:00 in Shanghai
    assert sc.shift_day_after(datetime(2026, 11, 25, 2, 0, tzinfo=UTC)) == date(2026, 11, 26)  # 10:00 in Shanghai


def test_agents_weak_at_objections_end_more_calls_there_and_lower_grades_are_weaker() -> None:
    plan = sc.build(5, agents=200, day=DAY)
    weak = {a.agent_id: calls_plan.weak_stage(plan.seed, a) for a in plan.agents}
    assert weak == {a.agent_id: calls_plan.weak_stage(plan.seed, a) for a in plan.agents}  # a function of the seed
    share = {g: sum(bool(weak[a.agent_id]) for a in plan.agents if a.grade == g) /
             sum(a.grade == g for a in plan.agents) for g in sc.GRADES}
    assert share["A"] == 0 < share["C"] < share["E"], share

    def objections(stage: str | None) -> int:
        r = sc.rng(1, "calls")
        return sum(calls_plan.call_ending(seconds=120, step_before=0, advanced_to=None, weak=stage, r=r)
                   == ("objection_handling", "no_progress") for _ in range(2000))
    assert objections("objection_handling") > 2 * objections(None) > 0
    r = sc.rng(1, "one")
    assert calls_plan.call_ending(seconds=30, step_before=2, advanced_to=None, weak=None, r=r) == ("opening",
                                                                                                    "no_progress")
    assert calls_plan.call_ending(seconds=200, step_before=1, advanced_to=2, weak=None, r=r) == (
        "objection_handling", "progressed")  # an agreed visit is won past the objections
    agent = next(a for a in plan.agents if a.grade == "C")
    assert calls_plan.advance_chance(agent, "objection_handling", 2) < calls_plan.advance_chance(agent, None, 2)


async def test_a_small_day_adds_up_in_metrics(lead_intake: Any, allocator: Any, ledger: Any, marketplace: Any,
                                              metrics: Any, infra: Any) -> None:
    endpoints = Endpoints(infra.kafka_bootstrap, {"lead-intake": lead_intake.base_url,
                                                  "allocator": allocator.base_url, "ledger": ledger.base_url,
                                                  "marketplace": marketplace.base_url, "metrics": metrics.base_url})
    console = Console(file=io.StringIO(), width=160)
    options = Options(seed=3, agents=20, leads=150, minutes=0.5, tips=6, metrics_wait_seconds=45)
    result = await play(options, endpoints, console)
    output = console.file.getvalue()  # type: ignore[attr-defined]
    print(output)  # the progress and the summary, for `pytest -s`
    assert "Lead funnel" in output and "Calls" in output and "Marketplace" in output, output

    expected, sent, funnels = result["plan"].expected(), result["sent"], result["funnels"]
    steps = lead_steps(funnels["leads"])
    counts = [steps[step] for step in ("total", *sc.STEPS)]
    assert counts == sorted(counts, reverse=True), steps  # a funnel never widens
    # every lead message but the redeliveries is counted once: new leads and junk in the funnel, repeats merged
    assert steps["total"] == expected["new"] + expected["rejected"], (steps, expected)
    assert funnels["leads"]["rejected"] == expected["rejected"]
    assert funnels["pool"]["merged"] == expected["merged"]
    assert funnels["pool"]["claimed"] == sent["leads claimed"] > 0
    assert funnels["calls"]["outbound"] == sent["calls"] > 0
    assert funnels["calls"]["connected"] == sent["connected"]
    assert funnels["pool"]["won"] == sent.get("won", 0)
    # a lead is paid once its win is confirmed (the supervisor confirms each), not when the agent declares it
    assert steps["paid"] == funnels["pool"]["won_confirmed"] == sent.get("wins confirmed", 0), (steps, sent)
    # the wins the supervisor rejected (the customer did not pay) are counted apart, and paid nothing
    assert funnels["pool"]["win_rejected"] == sent.get("wins rejected", 0), (funnels["pool"], sent)
    assert sent.get("won", 0) == sent.get("wins confirmed", 0) + sent.get("wins rejected", 0), sent
    market = funnels["marketplace"]["counts"]
    assert market["purchases"] >= 1 and market["tips_approved"] == 5 and market["tips_rejected"] == 1

    # the struggle push fired by itself on calls that ended at an objection, and the agents followed it up
    assert "Struggle push" in output and "The floor's rules" in output, output
    assert sent["calls stalled at an objection"] > 0
    assert market["struggle_pushes"] > 0 and market["struggle:none"] > 0, market
    pushed = [sent.get(name, 0) for name in ("pushes read", "pushed tips bought", "pushed tips learned")]
    assert market["struggle_pushes"] >= pushed[0] > 0 and pushed == sorted(pushed, reverse=True), (market, sent)
    # a complaint (held lead) and an operator's listing (pooled lead) closed their leads; later dials refused
    listings = result["listings"]
    assert sorted(item.source for item in listings) == ["complaint", "operator"], listings
    assert all(item.status == "do_not_call" for item in listings), listings
    assert sent["do-not-call leads closed: held"] == sent["do-not-call leads closed: pooled"] == 1, sent
    assert sent["do-not-call: dials tried after listing"] == 2 and not sent.get("do-not-call: dials allowed after "
                                                                                 "listing"), sent
    assert sent["dials refused: do_not_call"] >= 2, sent
    assert sent["dials refused"] == sum(v for k, v in sent.items() if k.startswith("dials refused: ")), sent
    # push on arrival: MBA leads reach the first team's desks with nobody claiming them
    assert sent["arrival rules"] == 1 and sent["leads pushed to desks"] > 0, sent
