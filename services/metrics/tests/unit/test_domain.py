"""The pure counting rules of metrics, one by one (no I/O)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from metrics import domain
from metrics.domain import ALL, Batch, CounterKey, Fact, Rules, World
from metrics.events import CONSUMED_TOPICS
from metrics_support import (
    Event,
    agent,
    allocated,
    call,
    daily_active,
    holder,
    learned,
    posted,
    qualified,
    reclaimed,
    stage,
    visited,
    win_confirmed,
)
from telesales_contracts import BY_NAME

TZ = ZoneInfo("Asia/Shanghai")
RULES = Rules(TZ)
DAY = "2026-11-24"


def fact(event: Event, envelope_time: str = f"{DAY}T10:00:00+08:00", tenant: str = "t") -> Fact:
    topic, data = event
    model = BY_NAME[topic].data_model.model_validate(data)
    time = datetime.fromisoformat(envelope_time)
    return Fact(topic, tenant, f"id-{id(data)}", domain.fact_time(topic, model, time), model)


def run(*events: Event | tuple[Event, str], world: World | None = None) -> tuple[dict[CounterKey, Counter[str]], World]:
    world = world or World()
    facts = [fact(*e) if isinstance(e[1], str) else fact(e) for e in events]  # type: ignore[arg-type]
    return Batch(RULES, {"t": world}).apply(facts), world


def counts(increments: dict[CounterKey, Counter[str]], family: str, period: str = ALL, **labels: str) -> Counter[str]:
    """The increments of a family and period, summed over the labels not given."""
    out: Counter[str] = Counter()
    for key, c in increments.items():
        if key.family == family and key.period == period and all(key.dims.get(k) == v for k, v in labels.items()):
            out.update(c)
    return out


def at(hhmm: str, day: str = DAY) -> str:
    return f"{day}T{hhmm}:00+08:00"


def test_every_consumed_topic_has_a_rule() -> None:
    assert Batch.consumed() == {t.name for t in CONSUMED_TOPICS}


def test_reaching_a_step_counts_it_and_the_steps_before_once() -> None:
    increments, world = run(qualified("L1", at("09:00")), (stage("L1", "agreed_visit", agent="a1"), at("10:00")),
                            (stage("L1", "intent", agent="a1"), at("11:00")),
                            (stage("L1", "agreed_visit", agent="a1"), at("12:00")))
    funnel = counts(increments, "funnel")
    assert {s: funnel[s] for s in domain.LEAD_STEPS} == {"total": 1, "valid": 1, "intent": 1, "agreed_visit": 1,
                                                         "actual_visit": 0, "plan": 0, "paid": 0}
    assert counts(increments, "agent", DAY, agent="a1") == Counter(valid=1, intent=1, agreed_visit=1)
    assert world.leads["L1"].steps == 0b1111


def test_a_stage_change_without_a_funnel_step_counts_nothing() -> None:
    increments, _ = run((stage("L1", None, agent="a1", percent=10), at("10:00")))
    assert not counts(increments, "funnel")


def test_calls_are_classified_by_connection_and_length() -> None:
    increments, _ = run(agent("a1", "mba"), call("L1", "a1", at("10:00"), 59), call("L1", "a1", at("10:05"), 60),
                        call("L1", "a1", at("10:10"), 179), call("L1", "a1", at("10:15"), 180),
                        call("L1", "a1", at("10:20"), 900, connected=False))
    team = counts(increments, "calls", team="mba")
    assert {k: team[k] for k in domain.CALL_FIELDS} == {"outbound": 5, "connected": 4, "effective": 3, "deep": 1,
                                                       "talk_seconds": 478, "multi_effective_leads": 1}
    assert team["duration:60"] == 2 and team["duration:180"] == 2 and team["duration_sum"] == 478


def test_a_lead_with_several_effective_calls_is_counted_once() -> None:
    increments, world = run(*(call("L1", "a1", at(f"1{n}:00"), 120) for n in range(4)))
    assert counts(increments, "calls")["multi_effective_leads"] == 1
    assert world.leads["L1"].effective == 2


def test_processing_first_pass_repeat_and_time_to_first_call() -> None:
    increments, world = run(
        agent("a1", "mba"), agent("b1", "emba"), qualified("L1", at("08:00")),
        holder("assigned", "L1", "a1", at("09:00")),
        call("L1", "b1", at("09:10"), 30),  # not the holder: no processing
        call("L1", "a1", at("09:30"), 0, connected=False), call("L1", "a1", at("09:40"), 90),
        holder("returned", "L1", "a1", at("10:00")),
        holder("claimed", "L1", "b1", at("11:00"), team="emba"), call("L1", "b1", at("13:00"), 70))
    pool = counts(increments, "pool")
    assert (pool["processed_first"], pool["processed_repeat"], pool["assigned"], pool["claimed"]) == (1, 1, 1, 1)
    mba, emba = counts(increments, "calls", team="mba"), counts(increments, "calls", team="emba")
    assert (mba["first_call:1800"], mba["first_call_sum"]) == (1, 1800)
    assert (emba["first_call:14400"], emba["first_call_sum"]) == (1, 7200)  # claimed 11:00, called 13:00
    assert world.leads["L1"].holder == "b1" and world.leads["L1"].holders == 2


def test_only_an_effective_call_of_the_holder_processes_a_lead_as_the_allocator_judges_it() -> None:
    short = [call("L1", "a1", at(f"09:{10 + n}"), 20) for n in range(12)]  # twelve 20-s calls work nothing
    increments, world = run(agent("a1", "mba"), holder("assigned", "L1", "a1", at("09:00")), *short)
    assert counts(increments, "pool")["processed_first"] == 0 and not world.leads["L1"].processed
    assert counts(increments, "calls", team="mba")["first_call:900"] == 1  # the first dial still times the lead
    increments, world = run(call("L1", "a1", at("10:00"), RULES.effective_call_seconds), world=world)
    assert counts(increments, "pool")["processed_first"] == 1 and world.leads["L1"].processed
    assert not any(k.startswith("first_call") for k in counts(increments, "calls"))  # timed once per holding


def test_a_call_before_the_holding_started_does_not_process_it() -> None:
    increments, _ = run(holder("assigned", "L1", "a1", at("10:00")), call("L1", "a1", at("09:00"), 90))
    assert counts(increments, "pool")["processed_first"] == 0


def test_an_older_holder_change_does_not_replace_a_newer_one() -> None:
    _, world = run(holder("claimed", "L1", "b1", at("11:00"), team="emba"), holder("assigned", "L1", "a1", at("09:00")))
    lead = world.leads["L1"]
    assert (lead.holder, lead.team, lead.holders) == ("b1", "emba", 2)


def test_a_declared_win_counts_the_holders_and_only_its_confirmation_pays_the_funnel() -> None:
    events = [qualified("L1", at("08:00")), holder("assigned", "L1", "a1", at("09:00")),
              holder("returned", "L1", "a1", at("10:00")), holder("claimed", "L1", "a2", at("11:00")),
              holder("won", "L1", "a2", at("12:00"))]
    increments, _ = run(*events)
    pool = counts(increments, "pool")
    assert (pool["won"], pool["won_holders:2"], pool["won_holders_sum"]) == (1, 1, 2)
    assert counts(increments, "funnel")["paid"] == 0  # declared: the lead is not paid yet
    assert (counts(increments, "agent", DAY, agent="a2")["won"], counts(increments, "agent", DAY, agent="a2")["paid"]) == (0, 0)
    confirmed = win_confirmed("L1", "a2", at("15:00"), by="supervisor")
    increments, _ = run(*events, confirmed)
    assert counts(increments, "funnel")["paid"] == 1
    mine = counts(increments, "agent", DAY, agent="a2")
    assert (mine["paid"], mine["won"]) == (1, 1)


def test_a_rejected_win_pays_nothing_and_its_agent_holds_the_lead_again() -> None:
    rejected = ("allocation.win-rejected.v1", {
        "lead_id": "L1", "agent_id": "a1", "team_id": "mba", "business_line": "education", "pool_id": "education",
        "declared_amount_fen": 1_000_000, "won_at": at("12:00"), "rejected_by": "order", "rejecter": "crm",
        "reason": "lost", "order_ref": None, "rejected_at": at("13:00")})
    increments, world = run(qualified("L1", at("08:00")), holder("claimed", "L1", "a1", at("09:00")),
                            holder("won", "L1", "a1", at("12:00")), rejected)
    pool = counts(increments, "pool")
    assert (pool["won"], pool["won_confirmed"], pool["win_rejected"]) == (1, 0, 1)
    assert counts(increments, "funnel")["paid"] == 0
    assert "leads.outcome.v1" not in Batch.consumed()  # an outcome on the wire pays nothing by itself either
    assert (world.leads["L1"].holder, world.leads["L1"].team) == ("a1", "mba")
    # the stage the agent reaches next credits it, under its team, as any holder's
    increments, _ = run(stage("L1", "intent"), world=world)
    assert counts(increments, "agent", DAY, agent="a1")["intent"] == 1


def test_only_a_confirmed_win_counts_for_the_agent_on_the_day_it_was_confirmed() -> None:
    declared = holder("won", "L1", "a1", at("12:00"))
    confirmed = ("allocation.win-confirmed.v1", {
        "lead_id": "L1", "agent_id": "a1", "team_id": "mba", "business_line": "education", "amount_fen": 400_000,
        "declared_amount_fen": 1_000_000, "confirmed_by": "order", "confirmer": "crm", "order_ref": "SO-1",
        "won_at": at("12:00"), "confirmed_at": at("15:00")})
    increments, _ = run(qualified("L1", at("08:00")), holder("claimed", "L1", "a1", at("09:00")), declared, confirmed)
    mine = counts(increments, "agent", DAY, agent="a1")
    assert (mine["won"], mine["won_fen"]) == (1, 400_000)  # the order's amount, not the declared one
    pool = counts(increments, "pool")
    assert (pool["won"], pool["won_confirmed"], pool["won_confirmed_fen"], pool["won_fen"]) == (
        1, 1, 400_000, 1_000_000)
    unconfirmed, _ = run(qualified("L2", at("08:00")), holder("claimed", "L2", "a2", at("09:00")),
                         holder("won", "L2", "a2", at("12:00")))
    assert counts(unconfirmed, "agent", DAY, agent="a2")["won"] == 0


def test_an_event_counts_in_the_day_of_its_own_time_in_the_floors_time_zone() -> None:
    # 23:30 on the 24th in Shanghai is 15:30 UTC; 00:30 on the 25th there is 16:30 UTC on the 24th.
    increments, _ = run(call("L1", "a1", "2026-11-24T15:30:00+00:00", 70), call("L1", "a1", "2026-11-24T16:30:00Z", 70),
                        (stage("L1", "valid", agent="a1"), "2026-11-23T12:00:00+08:00"))
    assert counts(increments, "calls", "2026-11-24")["outbound"] == 1
    assert counts(increments, "calls", "2026-11-25")["outbound"] == 1
    assert counts(increments, "funnel", "2026-11-23")["valid"] == 1
    assert counts(increments, "calls")["outbound"] == 2


def test_an_older_roster_record_is_ignored() -> None:
    _, world = run((agent("a1", "new-team"), at("12:00")), (agent("a1", "old-team"), at("09:00")))
    assert world.agents["a1"].team == "new-team"


def test_families_are_kept_per_day_and_all_time_as_declared() -> None:
    increments, _ = run(call("L1", "a1", at("10:00"), 70), visited("u1", "tip-1", at("10:00")))
    periods = {(k.family, k.period) for k in increments}
    assert {("calls", DAY), ("calls", ALL), ("agent", DAY), ("tip", ALL), ("market", DAY), ("market", ALL)} <= periods
    assert ("agent", ALL) not in periods and ("tip", DAY) not in periods


def test_users_count_at_a_step_once_and_relearn_only_by_learning_after_a_reclaim() -> None:
    increments, world = run(visited("u1", "tip-1", at("09:00")), visited("u1", "tip-2", at("09:10")),
                            daily_active("u1", at("09:00")), reclaimed("u1", at("12:00")),
                            learned("u1", "tip-1", at("11:00")), daily_active("u1", at("09:00", "2026-11-25")),
                            visited("u1", "tip-2", at("09:05", "2026-11-25")),
                            learned("u1", "tip-2", at("10:00", "2026-11-26"), done=False))
    market = counts(increments, "market")
    assert (market["users:visit"], market["tip_users:visited"], market["visits"]) == (1, 2, 3)
    assert (market["users_reclaimed"], market["users_relearned"], market["reclaimed_relearned"]) == (1, 1, 1)
    # Coming back to visit is not re-learning; the learning report of the 26th is.
    assert counts(increments, "market", "2026-11-25")["users_relearned"] == 0
    assert counts(increments, "market", "2026-11-26")["users_relearned"] == 1
    # The cohort: counted on the day the user was reclaimed.
    assert counts(increments, "market", DAY)["reclaimed_relearned"] == 1
    assert world.agents["u1"].cohort == "learner"


def test_accounts_holding_coins_move_with_allocations_purchases_and_reclaims() -> None:
    increments, world = run(allocated("u1", at("09:00")), allocated("u2", at("09:00")),
                            posted("u1", at("10:00"), balance=0), posted("u2", at("10:00"), balance=40),
                            reclaimed("u2", at("12:00")), allocated("u1", at("08:00")))  # older: ignored
    assert counts(increments, "market")["holders"] == 0
    assert not world.users["u1"].holding and not world.users["u2"].holding


def test_funnel_rows_give_step_to_step_rates_and_rates_over_total() -> None:
    rows = domain.funnel_rows({"total": 10, "valid": 5, "intent": 0, "agreed_visit": 0}, domain.LEAD_STEPS[:4])
    assert [(r["count"], r["rate_from_previous"], r["rate_over_total"]) for r in rows] == [
        (10, None, 1.0), (5, 0.5, 0.5), (0, 0.0, 0.0), (0, None, 0.0)]
    assert domain.funnel_rows({}, ("total", "valid"))[1]["rate_over_total"] is None


def test_agent_rates_leave_out_what_cannot_be_divided() -> None:
    assert domain.agent_rates({"outbound": 4, "effective": 1, "valid": 0, "intent": 2}) == {"connect_60s": 0.25,
                                                                                           "visit": 0.0}


def test_histograms_are_cumulative_with_count_and_sum() -> None:
    c: dict[str, Any] = {"won_holders:1": 2, "won_holders:3": 1, "won_holders:inf": 1, "won_holders_sum": 17}
    buckets, count, total = domain.histogram(c, "won_holders", domain.HOLDER_BUCKETS)
    assert buckets[0] == ("1.0", 2) and buckets[2] == ("3.0", 3) and buckets[-1] == ("+Inf", 4)
    assert (count, total) == (4, 17)


def test_do_not_call_closures_and_list_changes_are_counted_apart_from_agents_closing() -> None:
    one, two = {"phone_bidx": "AAAAAAAAAAAAAAAAAAAA01"}, {"phone_bidx": "AAAAAAAAAAAAAAAAAAAA02"}
    listed = ("leads.do-not-call.v1", {**one, "listed": True, "source": "complaint", "lead_id": "L1",
                                       "changed_at": at("10:00")})
    by_operator = ("leads.do-not-call.v1", {**two, "listed": True, "source": "operator", "changed_at": at("10:05")})
    removed = ("leads.do-not-call.v1", {**two, "listed": False, "source": "operator", "changed_at": at("11:00")})
    increments, _ = run(holder("assigned", "L1", "a1", at("09:00")), holder("assigned", "L2", "a1", at("09:00")),
                        listed, holder("closed", "L1", "a1", at("10:00"), reason="do not call", do_not_call=True),
                        holder("closed", "L2", "a1", at("10:30")), by_operator, removed)
    pool = counts(increments, "pool", DAY, team="mba")
    assert (pool["closed"], pool["closed_do_not_call"]) == (1, 1)  # the agent's 关单 is not the list's
    assert counts(increments, "floor", DAY) == Counter({"do_not_call:listed:complaint": 1,
                                                        "do_not_call:listed:operator": 1,
                                                        "do_not_call:removed:operator": 1})
