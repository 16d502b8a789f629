"""The reclaim clock a held lead shows (reclaim_clock.py, over domain.reclaim_schedule, the sweep's rule)
and the entries of a lead's history (history.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from allocator import history
from allocator.domain import AllocationPolicy, ReclaimRule
from allocator.reclaim_clock import held_lead_facts, reclaim_clock, schedule_of
from telesales_contracts.allocation import ReclaimKind

HELD_SINCE = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
POLICY = AllocationPolicy(reclaim_rules=[ReclaimRule(not_processed_days=3, not_converted_days=10),
                                         ReclaimRule(pool_id="vip", not_processed_days=1, not_converted_days=None)],
                          reclaim_warning_hours=24)


def held(**fields: Any) -> dict[str, Any]:
    return {"_id": "l1", "status": "held", "holder": "a1", "pool_id": "education", "stage_percent": 0,
            "held_since": HELD_SINCE, "awaiting_first_call": True, "progress_at": HELD_SINCE,
            "deal_in_progress": False, **fields}


def test_an_uncalled_lead_is_reclaimed_for_not_being_processed_unless_the_holder_calls() -> None:
    clock = reclaim_clock(held(), POLICY)
    assert clock is not None
    assert (clock.kind, clock.at, clock.unless) == (ReclaimKind.NOT_PROCESSED, HELD_SINCE + timedelta(days=3), "call")
    assert clock.warn_at == clock.at - timedelta(hours=24)


def test_once_called_the_clock_is_the_stage_and_moving_it_forward_restarts_it() -> None:
    called = reclaim_clock(held(awaiting_first_call=False), POLICY)
    assert called is not None
    assert (called.kind, called.at, called.unless) == (ReclaimKind.NOT_CONVERTED, HELD_SINCE + timedelta(days=10),
                                                       "advance_stage")
    advanced = reclaim_clock(held(awaiting_first_call=False, progress_at=HELD_SINCE + timedelta(days=4)), POLICY)
    assert advanced is not None and advanced.at == HELD_SINCE + timedelta(days=14)


def test_the_most_specific_rule_decides_and_a_rule_may_never_reclaim() -> None:
    vip = reclaim_clock(held(pool_id="vip"), POLICY)
    assert vip is not None and (vip.kind, vip.at) == (ReclaimKind.NOT_PROCESSED, HELD_SINCE + timedelta(days=1))
    assert reclaim_clock(held(pool_id="vip", awaiting_first_call=False), POLICY) is None  # no not-converted rule


def test_no_clock_for_a_lead_not_held() -> None:
    assert reclaim_clock(held(status="pooled", holder=None, held_since=None), POLICY) is None
    assert reclaim_clock(held(status="won"), POLICY) is None


def test_an_approved_deal_mark_holds_the_clock_back_until_it_expires_and_nothing_else_does() -> None:
    expires = HELD_SINCE + timedelta(days=8)
    approved = {"request_id": "r1", "status": "approved", "agent_id": "a1", "requested_at": HELD_SINCE,
                "expires_at": expires}
    held_back = reclaim_clock(held(deal_mark=approved), POLICY)
    assert held_back is not None and (held_back.kind, held_back.at) == (ReclaimKind.NOT_PROCESSED, expires)
    # a deadline after the expiry is not moved; the flag alone (set by an agent, or pending) protects nothing
    later = reclaim_clock(held(deal_mark=approved, awaiting_first_call=False), POLICY)
    assert later is not None and later.at == HELD_SINCE + timedelta(days=10)
    for unprotected in (held(deal_in_progress=True), held(deal_mark={**approved, "status": "pending"}),
                        held(deal_mark={**approved, "status": "refused"})):
        clock = reclaim_clock(unprotected, POLICY)
        assert clock is not None and clock.at == HELD_SINCE + timedelta(days=3)
    exempt_off = POLICY.model_copy(update={"exempt_deals_in_progress": False})
    clock = reclaim_clock(held(deal_mark=approved), exempt_off)
    assert clock is not None and clock.at == HELD_SINCE + timedelta(days=3)


def test_a_reached_dial_streak_reclaims_at_once_unless_the_stage_moves() -> None:
    reached = HELD_SINCE + timedelta(days=9, hours=2)
    clock = reclaim_clock(held(awaiting_first_call=False, dial_streak_at=reached), POLICY)
    assert clock is not None
    assert (clock.kind, clock.at, clock.unless) == (ReclaimKind.DIALLED_WITHOUT_CONVERTING, reached, "advance_stage")
    off = POLICY.model_copy(update={"dial_streak_days": None})
    clock = reclaim_clock(held(awaiting_first_call=False, dial_streak_at=reached), off)
    assert clock is not None and clock.kind is ReclaimKind.NOT_CONVERTED


def test_the_clock_is_the_sweeps_own_schedule() -> None:
    for lead in (held(), held(awaiting_first_call=False), held(pool_id="vip"), held(stage_percent=45)):
        schedule, clock = schedule_of(lead, POLICY), reclaim_clock(lead, POLICY)
        assert schedule is not None and clock is not None
        assert (clock.kind, clock.at, clock.warn_at) == (schedule.kind, schedule.reclaim_at, schedule.warn_at)
    assert held_lead_facts(held(status="closed")) is None


def test_history_entries_say_only_what_they_know() -> None:
    at = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    assert history.holder_change("returned", "a1", at, reason="没有需求") == {
        "kind": "returned", "at": at, "agent_id": "a1", "reason": "没有需求"}
    assert history.call(agent_id="a1", started_at=at, duration_seconds=75, connected=True) == {
        "kind": "call", "at": at, "agent_id": "a1", "duration_seconds": 75, "connected": True}


def test_history_is_appended_with_the_update_and_bounded() -> None:
    at = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    entry = history.reopened(at)
    update = history.with_history({"$set": {"x": 1}, "$push": {"drops": {"agent_id": "a1"}}}, [entry])
    assert update == {"$set": {"x": 1}, "$push": {"drops": {"agent_id": "a1"}, "history": {
        "$each": [entry], "$slice": -history.HISTORY_LIMIT}}}
    assert history.with_history({"$set": {"x": 1}}, []) == {"$set": {"x": 1}}
    other = history.call(agent_id="a2", started_at=at, duration_seconds=0, connected=False)
    both = history.merged(update, history.with_history({"$set": {"y": 2}}, [other]))
    assert both["$push"]["history"]["$each"] == [entry, other]
    assert both["$set"] == {"x": 1, "y": 2}


def test_history_reads_in_time_order_ties_as_recorded() -> None:
    t = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    recorded = [{"kind": "claimed", "at": t}, {"kind": "call", "at": t - timedelta(minutes=5)},
                {"kind": "stage", "at": t}]
    assert [e["kind"] for e in history.in_time_order(recorded)] == ["call", "claimed", "stage"]
