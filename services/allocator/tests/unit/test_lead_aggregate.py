"""The Lead aggregate (domain/lead.py): what can happen to a lead, decided without I/O, and the
conditional writes the store compiles its changes into (store/lead_writes.py, pure too)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from allocator.domain import AgentFacts, AllocationPolicy, DomainError, ReclaimSchedule
from allocator.domain.changes import AdvanceStage, Close, RecordCalls, Release, SameHold, StopCalls, Touch, Warn, Win
from allocator.domain.lead import CLOSED, HELD, POOLED, Lead, funnel_step_after
from allocator.store.lead_writes import lead_of, write_of
from telesales_contracts.activity import CallLogged, FunnelStep, LeadSignal, LeadStageChanged
from telesales_contracts.allocation import DistributionStrategy, ReclaimKind
from telesales_contracts.topics import (
    ALLOCATION_ASSIGNED,
    ALLOCATION_CLOSED,
    ALLOCATION_HOT_LEAD,
    ALLOCATION_RECLAIM_WARNING,
    ALLOCATION_RECLAIMED,
    ALLOCATION_RETURNED,
    ALLOCATION_WON,
    LEADS_OUTCOME,
)

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
SINCE = NOW - timedelta(days=2)


def held_lead(**fields: object) -> Lead:
    base = Lead(lead_id="l1", tenant_id="t", status=HELD, business_line="education", pool_id="education", score=70,
                lead_grade="B", holder="a1", holder_team="t1", holder_grade="B", held_since=SINCE)
    return replace(base, **fields)  # type: ignore[arg-type]


def pooled_lead(**fields: object) -> Lead:
    return held_lead(**{"status": POOLED, "holder": None, "holder_team": None, "holder_grade": None,
                        "held_since": None, **fields})


# ---- holding ------------------------------------------------------------------------------------------------


def test_only_the_holder_may_give_a_lead_back_close_or_win_it() -> None:
    lead = held_lead()
    for act in (lambda: lead.give_back("a2", reason="x", at=NOW), lambda: lead.close("a2", reason="x", at=NOW),
                lambda: lead.win("a2", amount_fen=1, at=NOW),
                lambda: pooled_lead().give_back("a1", reason="x", at=NOW)):
        with pytest.raises(DomainError) as caught:
            act()
        assert caught.value.code == "not_held"


def test_giving_back_is_a_drop_counted_once_per_agent_and_announced_with_the_count() -> None:
    decision = held_lead(dropped_by=("a0",)).give_back("a1", reason="wrong number", at=NOW)
    change = decision.change
    assert isinstance(change, Release)
    assert (change.counts_as_drop, change.dropped_by, change.condition) == (True, ("a0", "a1"), SameHold("a1", SINCE))
    [event] = decision.events
    assert event.topic is ALLOCATION_RETURNED
    data = event.data
    assert (data.drop_count, data.team_id, data.agent_grade) == (2, "t1", "B")  # type: ignore[attr-defined]
    again = held_lead(dropped_by=("a1",)).give_back("a1", reason="again", at=NOW).change
    assert isinstance(again, Release) and again.dropped_by == ("a1",)


def test_an_agent_who_leaves_releases_its_leads_without_a_drop() -> None:
    change = held_lead().leave_with_agent(reason="agent_left", at=NOW).change
    assert isinstance(change, Release)
    assert (change.agent_id, change.counts_as_drop, change.dropped_by) == ("a1", False, ())
    query, update = write_of(held_lead(), change)
    assert isinstance(update, dict) and "drops" not in update["$push"]  # only the history is pushed


def test_closing_announces_the_outcome_to_lead_intake_and_a_declared_win_does_not() -> None:
    refs = ({"source_system": "crm", "external_id": "C-1"},)
    closed = held_lead(external_refs=refs).close("a1", reason="no budget", at=NOW)
    assert isinstance(closed.change, Close)
    assert [e.topic for e in closed.events] == [ALLOCATION_CLOSED, LEADS_OUTCOME]
    assert closed.events[1].data.outcome == "lost"  # type: ignore[attr-defined]
    won = held_lead().win("a1", amount_fen=99_00, at=NOW)
    assert isinstance(won.change, Win) and won.change.team_id == "t1"
    # lead-intake's scoring learns a win once it is confirmed (domain/wins.py), never from the declaration
    assert [e.topic for e in won.events] == [ALLOCATION_WON]
    _, update = write_of(held_lead(), won.change)
    assert isinstance(update, dict)
    # declared, not confirmed: the person is not a buyer and has bought nothing yet (domain/wins.py confirms)
    assert update["$set"]["dedicated_agent"] == "a1" and update["$set"]["win_confirmed"] is False
    assert "buyer" not in update["$set"] and "$inc" not in update


def test_every_act_on_a_hold_is_written_only_while_the_hold_is_the_one_judged() -> None:
    lead = held_lead()
    for decision in (lead.give_back("a1", reason="x", at=NOW), lead.close("a1", reason="x", at=NOW),
                     lead.win("a1", amount_fen=1, at=NOW)):
        query, _ = write_of(lead, decision.change)
        assert query == {"_id": "l1", "tenant_id": "t", "status": HELD, "holder": "a1", "held_since": SINCE}


def test_a_push_takes_a_lead_only_from_the_statuses_it_names() -> None:
    agent = AgentFacts(agent_id="a2", active=True, role="agent", grade="A", business_line="education", team_id="t2")
    decision = pooled_lead().assign(agent, strategy=DistributionStrategy.ROUND_ROBIN, assigned_by="s1", at=NOW)
    [event] = decision.events
    assert event.topic is ALLOCATION_ASSIGNED
    assert (event.data.team_id, event.data.agent_grade) == ("t2", "A")  # type: ignore[attr-defined]
    query, update = write_of(pooled_lead(), decision.change)
    assert query == {"_id": "l1", "tenant_id": "t", "status": {"$in": [POOLED]}}
    assert isinstance(update, dict) and update["$set"]["holder"] == "a2" and update["$set"]["held_via"] == "assigned"


# ---- reclaim --------------------------------------------------------------------------------------------------


def schedule(reclaim_in: timedelta, warn_in: timedelta) -> ReclaimSchedule:
    return ReclaimSchedule(kind=ReclaimKind.NOT_PROCESSED, reclaim_at=NOW + reclaim_in, warn_at=NOW + warn_in)


def test_an_overdue_lead_is_reclaimed_as_a_drop_with_one_event_per_hold() -> None:
    decision = held_lead().judge_overdue(schedule(-timedelta(minutes=1), -timedelta(days=1)), at=NOW)
    assert decision is not None and isinstance(decision.change, Release)
    assert decision.change.reclaimed and decision.change.counts_as_drop
    [event] = decision.events
    assert event.topic is ALLOCATION_RECLAIMED
    again = held_lead().judge_overdue(schedule(-timedelta(minutes=1), -timedelta(days=1)), at=NOW + timedelta(hours=1))
    assert again is not None and again.events[0].event_id == event.event_id  # judged twice: one event
    _, update = write_of(held_lead(), decision.change)
    assert isinstance(update, dict) and update["$set"]["reclaimed_at"] == NOW


def test_a_lead_near_its_deadline_is_warned_once_per_deadline() -> None:
    due = schedule(timedelta(hours=2), -timedelta(hours=1))
    decision = held_lead().judge_overdue(due, at=NOW)
    assert decision is not None and isinstance(decision.change, Warn)
    assert decision.events[0].topic is ALLOCATION_RECLAIM_WARNING
    assert held_lead(warned_for=decision.change.warn_key).judge_overdue(due, at=NOW) is None
    query, _ = write_of(held_lead(), decision.change)
    assert query["warned_for"] is None  # only if nobody warned about it meanwhile
    assert held_lead().judge_overdue(schedule(timedelta(days=2), timedelta(days=1)), at=NOW) is None
    assert due.due(NOW) and not schedule(timedelta(days=2), timedelta(days=1)).due(NOW)  # the sweep skips those


# ---- stages, calls, signals, complaints, touches ----------------------------------------------------------------


def test_the_funnel_step_never_moves_back() -> None:
    steps = [s.value for s in FunnelStep]
    assert funnel_step_after(None, steps[0]) == steps[0]
    assert funnel_step_after(steps[2], steps[1]) == steps[2]
    assert funnel_step_after(steps[1], steps[3]) == steps[3]
    assert funnel_step_after(steps[2], steps[2]) == steps[2]


def test_the_stored_stage_move_keeps_the_same_rule_when_written() -> None:
    steps = [s.value for s in FunnelStep]
    move = Lead.stage_move(LeadStageChanged(lead_id="l1", stage_percent=40, funnel_step=FunnelStep(steps[1])), at=NOW)
    assert isinstance(move, AdvanceStage) and move.step == steps[1]
    query, pipeline = write_of(held_lead(), move)
    assert query == {"_id": "l1", "tenant_id": "t"}
    assert isinstance(pipeline, list)
    condition, then, otherwise = pipeline[0]["$set"]["funnel_step"]["$cond"]
    assert condition == {"$gte": [1, {"$indexOfArray": [steps, "$funnel_step"]}]}
    assert (then, otherwise) == (steps[1], "$funnel_step")


def test_only_the_holder_named_in_a_stage_change_may_make_it() -> None:
    with pytest.raises(DomainError) as caught:
        held_lead().change_stage(LeadStageChanged(lead_id="l1", stage_percent=10, agent_id="a2"), at=NOW)
    assert caught.value.code == "not_held"
    mine = LeadStageChanged(lead_id="l1", stage_percent=10, agent_id="a1")
    assert held_lead().change_stage(mine, at=NOW).percent == 10


def call(agent_id: str, at: datetime, connected: bool = False) -> CallLogged:
    return CallLogged(agent_id=agent_id, lead_id="l1", started_at=at, duration_seconds=60, connected=connected)


def test_calls_stop_the_not_processed_clock_only_when_the_holder_makes_them() -> None:
    policy = AllocationPolicy()
    by_other = held_lead().record_calls([call("a9", NOW)], policy, at=NOW, tz=UTC)
    by_holder = held_lead().record_calls([call("a1", NOW, connected=True)], policy, at=NOW, tz=UTC)
    before_hold = held_lead().record_calls([call("a1", SINCE - timedelta(days=1))], policy, at=NOW, tz=UTC)
    assert isinstance(by_holder, RecordCalls)
    assert (by_other.holder_called, by_holder.holder_called, before_hold.holder_called) == (False, True, False)
    assert (by_other.valid_contact, by_holder.valid_contact) == (False, True)
    assert held_lead(funnel_step="paid").record_calls([call("a1", NOW, True)], policy, at=NOW, tz=UTC).valid_contact is False


def test_too_many_calls_rest_the_lead_but_never_shorten_a_rest() -> None:
    policy = AllocationPolicy(contact_max_calls=2)
    calls = [call("a1", NOW - timedelta(hours=n)) for n in range(3)]
    rested = held_lead().record_calls(calls, policy, at=NOW, tz=UTC)
    assert rested.rest_until is not None and rested.last_call_at == NOW
    longer = held_lead(rest_until=rested.rest_until + timedelta(days=30)).record_calls(calls, policy, at=NOW, tz=UTC)
    assert longer.rest_until is None  # the longer rest stays


def test_a_signal_on_a_held_lead_alerts_its_holder() -> None:
    signal = LeadSignal(lead_id="l1", kind="unpaid_order", occurred_at=NOW)  # type: ignore[arg-type]
    decision = held_lead().alert_holder(signal, signal_event_id="e1", at=NOW)
    [event] = decision.events
    assert event.topic is ALLOCATION_HOT_LEAD and event.data.agent_id == "a1"  # type: ignore[attr-defined]
    _, update = write_of(held_lead(), decision.change)
    assert isinstance(update, dict) and list(update["$max"]["last_signal"]) == ["at", "kind", "detail"]


def test_a_complaint_takes_the_lead_off_every_list_and_closes_a_hold() -> None:
    held = held_lead().complaint("stop calling", at=NOW)
    assert isinstance(held.change, StopCalls) and held.change.last_holder == "a1"
    assert [e.topic for e in held.events] == [ALLOCATION_CLOSED]
    assert pooled_lead().complaint("stop calling", at=NOW).events == ()


def test_a_person_coming_back_reopens_a_closed_lead_but_the_same_record_again_does_not() -> None:
    again = pooled_lead(status=CLOSED).touched([], matched_on="external_ref", at=NOW)
    back = pooled_lead(status=CLOSED).touched([], matched_on="phone", at=NOW)
    assert isinstance(back, Touch)
    assert (again.new_touch, again.reopen, back.new_touch, back.reopen) == (False, False, True, True)
    _, update = write_of(pooled_lead(status=CLOSED), back)
    assert isinstance(update, dict) and update["$set"]["status"] == POOLED and update["$inc"] == {"touches": 1}


def test_a_stored_lead_reads_as_the_aggregate() -> None:
    lead = lead_of({"_id": "l1", "tenant_id": "t", "status": HELD, "holder": "a1", "held_since": SINCE,
                    "dropped_by": ["a0"], "business_line": "education", "pool_id": "p", "score": 5,
                    "lead_grade": "C"})
    assert (lead.holder, lead.dropped_by, lead.pool_id, lead.stage_percent) == ("a1", ("a0",), "p", 0)


def test_a_push_places_only_pooled_leads_that_are_not_resting() -> None:
    assert pooled_lead().why_not_placeable(NOW) is None
    assert held_lead().why_not_placeable(NOW) == "not_pooled (held)"
    assert pooled_lead(rest_until=NOW + timedelta(days=1)).why_not_placeable(NOW) == "resting (contact pressure)"
    assert pooled_lead(rest_until=NOW - timedelta(days=1)).why_not_placeable(NOW) is None
