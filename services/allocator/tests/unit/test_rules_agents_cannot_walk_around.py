"""Rules of the Lead aggregate an agent must not walk around: the deal-in-progress mark needs its
supervisor's approval and expires; only an effective call (>= 60 s) processes a lead; a lead dialled on ten
consecutive days without converting drops out of the holder's list. Pure: the aggregate and the writes it
compiles to."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from allocator.domain import AllocationPolicy, DomainError, longest_dial_streak
from allocator.domain.changes import AdvanceStage, SetDealMark
from allocator.domain.lead import HELD, Lead
from allocator.store.lead_writes import write_of
from telesales_contracts.activity import CallLogged, LeadStageChanged
from telesales_contracts.topics import ALLOCATION_DEAL_MARK_DECIDED, ALLOCATION_DEAL_MARK_REQUESTED

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
SINCE = NOW - timedelta(days=2)
TZ = ZoneInfo("Asia/Shanghai")
POLICY = AllocationPolicy(deal_mark_days=5)


def held_lead(**fields: object) -> Lead:
    base = Lead(lead_id="l1", tenant_id="t", status=HELD, business_line="education", pool_id="education", score=70,
                lead_grade="B", holder="a1", holder_team="t1", holder_grade="B", held_since=SINCE, progress_at=SINCE)
    return replace(base, **fields)  # type: ignore[arg-type]


def with_mark(change: SetDealMark, lead: Lead | None = None) -> Lead:
    return replace(lead or held_lead(), deal_mark=dict(change.mark))


# ---- the deal-in-progress mark ----------------------------------------------------------------------------


def test_asking_for_the_mark_makes_a_pending_request_for_the_teams_supervisors_only() -> None:
    decision = held_lead().request_deal_mark("a1", supervisors=["s1", "a1"], note="签约中", at=NOW)
    change = decision.change
    assert isinstance(change, SetDealMark)
    assert (change.mark["status"], change.mark["agent_id"], change.previous_request) == ("pending", "a1", None)
    [event] = decision.events
    assert event.topic is ALLOCATION_DEAL_MARK_REQUESTED
    assert event.data.supervisors == ["s1"] and event.data.team_id == "t1"  # type: ignore[attr-defined]
    query, update = write_of(held_lead(), change)
    # only on the same hold and while the mark is still the one judged; it protects nothing yet
    assert query == {"_id": "l1", "tenant_id": "t", "status": HELD, "holder": "a1", "held_since": SINCE,
                     "deal_mark.request_id": None}
    assert update["$set"]["deal_in_progress"] is False  # type: ignore[call-overload]


def test_only_the_holder_asks_and_one_request_at_a_time() -> None:
    with pytest.raises(DomainError) as caught:
        held_lead().request_deal_mark("a2", supervisors=[], note=None, at=NOW)
    assert caught.value.code == "not_held"
    pending = with_mark(held_lead().request_deal_mark("a1", supervisors=[], note=None, at=NOW).change)  # type: ignore[arg-type]
    with pytest.raises(DomainError) as caught:
        pending.request_deal_mark("a1", supervisors=[], note=None, at=NOW)
    assert caught.value.code == "deal_mark_pending"


def test_the_holder_cannot_approve_its_own_request_and_a_stale_request_is_no_request() -> None:
    pending = with_mark(held_lead().request_deal_mark("a1", supervisors=[], note=None, at=NOW).change)  # type: ignore[arg-type]
    request_id = pending.deal_mark["request_id"]  # type: ignore[index]
    with pytest.raises(DomainError) as caught:
        pending.decide_deal_mark(request_id, decided_by="a1", approve=True, reason=None, policy=POLICY, at=NOW)
    assert caught.value.code == "own_request"
    for lead, rid in ((pending, "another"), (held_lead(), request_id), (replace(pending, status="pooled"), request_id)):
        with pytest.raises(DomainError) as caught:
            lead.decide_deal_mark(rid, decided_by="s1", approve=True, reason=None, policy=POLICY, at=NOW)
        assert caught.value.code == "no_pending_request"


def test_an_approved_mark_lasts_the_policys_days_then_asking_again_needs_approval_again() -> None:
    pending = with_mark(held_lead().request_deal_mark("a1", supervisors=["s1"], note=None, at=NOW).change)  # type: ignore[arg-type]
    request_id = pending.deal_mark["request_id"]  # type: ignore[index]
    decision = pending.decide_deal_mark(request_id, decided_by="s1", approve=True, reason="ok", policy=POLICY, at=NOW)
    change = decision.change
    assert isinstance(change, SetDealMark)
    assert (change.mark["status"], change.mark["expires_at"]) == ("approved", NOW + timedelta(days=5))
    [event] = decision.events
    assert event.topic is ALLOCATION_DEAL_MARK_DECIDED
    assert (event.data.decision, event.data.agent_id) == ("approved", "a1")  # type: ignore[attr-defined]
    query, update = write_of(pending, change)
    assert (query["deal_mark.request_id"], query["deal_mark.status"]) == (request_id, "pending")
    assert update["$set"]["deal_in_progress"] is True  # type: ignore[call-overload]
    approved = with_mark(change, pending)
    with pytest.raises(DomainError) as caught:  # in force: nothing to ask
        approved.request_deal_mark("a1", supervisors=[], note=None, at=NOW + timedelta(days=4))
    assert caught.value.code == "deal_mark_in_force"
    again = approved.request_deal_mark("a1", supervisors=["s1"], note=None, at=NOW + timedelta(days=5, seconds=1))
    assert again.change.mark["status"] == "pending"  # type: ignore[union-attr]
    assert again.change.previous_request == request_id  # type: ignore[union-attr]


def test_a_refused_request_protects_nothing_and_may_be_asked_again() -> None:
    pending = with_mark(held_lead().request_deal_mark("a1", supervisors=[], note=None, at=NOW).change)  # type: ignore[arg-type]
    decision = pending.decide_deal_mark(pending.deal_mark["request_id"], decided_by="s1", approve=False,  # type: ignore[index]
                                        reason="no contract yet", policy=POLICY, at=NOW)
    assert (decision.change.mark["status"], decision.change.mark["expires_at"]) == ("refused", None)  # type: ignore[union-attr]
    refused = with_mark(decision.change, pending)  # type: ignore[arg-type]
    assert refused.request_deal_mark("a1", supervisors=[], note=None, at=NOW).change.mark["status"] == "pending"  # type: ignore[union-attr]


def test_a_stage_change_cannot_set_the_mark_only_withdraw_it() -> None:
    set_it = Lead.stage_move(LeadStageChanged(lead_id="l1", stage_percent=70, deal_in_progress=True), at=NOW)
    withdraw = Lead.stage_move(LeadStageChanged(lead_id="l1", stage_percent=70, deal_in_progress=False), at=NOW)
    assert isinstance(set_it, AdvanceStage) and set_it.deal_in_progress is None
    assert set_it.entry["deal_in_progress"] is True  # said, and kept in the history
    _, pipeline = write_of(held_lead(), set_it)
    assert "deal_mark" not in pipeline[0]["$set"] and "deal_in_progress" not in pipeline[0]["$set"]  # type: ignore[index]
    _, pipeline = write_of(held_lead(), withdraw)
    assert (pipeline[0]["$set"]["deal_mark"], pipeline[0]["$set"]["deal_in_progress"]) == (None, False)  # type: ignore[index]


# ---- processed means worked ---------------------------------------------------------------------------------


def call(agent_id: str, at: datetime, seconds: int = 60) -> CallLogged:
    return CallLogged(agent_id=agent_id, lead_id="l1", started_at=at, duration_seconds=seconds, connected=True)


def test_only_an_effective_call_of_the_holder_processes_a_lead() -> None:
    short = held_lead().record_calls([call("a1", NOW - timedelta(minutes=m), 10) for m in range(20)], POLICY,
                                     at=NOW, tz=TZ)
    assert short.holder_called is False  # twenty 10-s calls are no work
    assert held_lead().record_calls([call("a1", NOW, 59)], POLICY, at=NOW, tz=TZ).holder_called is False
    assert held_lead().record_calls([call("a1", NOW, 60)], POLICY, at=NOW, tz=TZ).holder_called is True
    assert held_lead().record_calls([call("a9", NOW, 600)], POLICY, at=NOW, tz=TZ).holder_called is False
    lenient = AllocationPolicy(effective_call_seconds=5)
    assert held_lead().record_calls([call("a1", NOW, 10)], lenient, at=NOW, tz=TZ).holder_called is True


# ---- dialled on ten consecutive days ------------------------------------------------------------------------


def test_the_longest_run_of_consecutive_days_counts() -> None:
    assert longest_dial_streak([]) == 0
    assert longest_dial_streak(["2026-11-01", "2026-11-02", "2026-11-04", "2026-11-05", "2026-11-06"]) == 3
    assert longest_dial_streak(["2026-11-30", "2026-12-01", "2026-11-30"]) == 2


def test_the_tenth_consecutive_dial_day_reaches_the_streak_in_local_days() -> None:
    start = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    lead = held_lead(held_since=start, progress_at=start)
    for day in range(9):
        step = lead.record_calls([call("a1", start + timedelta(days=day), 10)], POLICY, at=start, tz=TZ)
        assert step.dial_streak_at is None
        lead = replace(lead, dial_days=step.dial_days or lead.dial_days)
    assert len(lead.dial_days) == 9
    tenth_at = start + timedelta(days=9)
    tenth = lead.record_calls([call("a1", tenth_at, 300)], POLICY, at=tenth_at, tz=TZ)
    assert tenth.dial_streak_at == tenth_at
    # calls by others, or before the last stage advance, are not the holder's dialling
    others = lead.record_calls([call("a9", tenth_at)], POLICY, at=tenth_at, tz=TZ)
    assert others.dial_days is None and others.dial_streak_at is None
    advanced = replace(lead, dial_days=(), progress_at=tenth_at + timedelta(hours=1))
    assert advanced.record_calls([call("a1", tenth_at)], POLICY, at=tenth_at, tz=TZ).dial_days is None


def test_a_gap_day_breaks_the_streak_and_the_rule_may_be_off() -> None:
    start = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
    days = tuple(f"2026-11-{d:02d}" for d in (1, 2, 3, 4, 5, 7, 8, 9, 10))
    lead = held_lead(held_since=start, progress_at=start, dial_days=days)
    at = datetime(2026, 11, 11, 2, 0, tzinfo=UTC)
    assert lead.record_calls([call("a1", at)], POLICY, at=at, tz=TZ).dial_streak_at is None  # 5 days, then 5
    filled = lead.record_calls([call("a1", datetime(2026, 11, 6, 2, 0, tzinfo=UTC))], POLICY, at=at, tz=TZ)
    assert filled.dial_streak_at == at
    off = AllocationPolicy(dial_streak_days=None)
    assert lead.record_calls([call("a1", datetime(2026, 11, 6, 2, tzinfo=UTC))], off, at=at, tz=TZ).dial_streak_at is None


def test_a_forward_stage_move_starts_the_streak_again_and_a_new_hold_inherits_nothing() -> None:
    move = Lead.stage_move(LeadStageChanged(lead_id="l1", stage_percent=30), at=NOW)
    _, pipeline = write_of(held_lead(), move)
    fields = pipeline[0]["$set"]  # type: ignore[index]
    assert fields["dial_days"]["$cond"][1] == [] and fields["dial_streak_at"]["$cond"][1] is None
    released = write_of(held_lead(), held_lead().give_back("a1", reason="x", at=NOW).change)[1]
    assert {k: released["$set"][k] for k in ("deal_mark", "deal_in_progress", "dial_days", "dial_streak_at")} == {  # type: ignore[call-overload]
        "deal_mark": None, "deal_in_progress": False, "dial_days": [], "dial_streak_at": None}
