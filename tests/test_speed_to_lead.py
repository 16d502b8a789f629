"""The speed-to-lead benchmark's pure parts (bench/speed-to-lead/): the open-loop schedule, following each
lead through the stages, the checks that catch a lost, doubled or misdelivered lead, and the figures. No I/O."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "speed-to-lead"
sys.path.insert(0, str(BENCH))

from s2l_floor import LeadMaker, routing_rules  # noqa: E402
from s2l_handlers import handler_counters, handler_use  # noqa: E402
from s2l_report import render  # noqa: E402
from s2l_screens import parse_block  # noqa: E402
from s2l_timeline import (  # noqa: E402
    Sending,
    Timeline,
    half_of_saturation,
    holding_cap_needed,
    problems_of,
    schedule,
    slowest_stage,
    stage_figures,
)


def test_the_schedule_is_fixed_in_advance() -> None:
    assert schedule(100.0, 4.0, 5) == [100.0, 100.25, 100.5, 100.75, 101.0]
    assert schedule(0.0, 200.0, 0) == []
    with pytest.raises(ValueError):
        schedule(0.0, 0.0, 3)


def followed(timeline: Timeline, n: int, *, scheduled: float, sent: float, agent: str = "agent-00001",
             phase: str = "floor") -> None:
    """Lead n through every stage: qualified +0.1 s, pooled +0.2, pushed +0.3, shown +0.4 after `scheduled`."""
    timeline.sent(Sending(f"ev-{n}", phase, scheduled, sent))
    timeline.qualified(received_event_id=f"ev-{n}", lead_id=f"lead-{n}", at=scheduled + 0.1)
    timeline.pooled(lead_id=f"lead-{n}", at=scheduled + 0.2)
    timeline.pushed(event_id=f"as-{n}", lead_id=f"lead-{n}", agent=agent, assigned_by="system", at=scheduled + 0.3)
    timeline.shown(agent=agent, lead_id=f"lead-{n}", at=scheduled + 0.4)


def test_a_lead_every_stage_saw_once_has_no_problem_and_its_latency_counts_from_its_schedule() -> None:
    timeline = Timeline()
    followed(timeline, 1, scheduled=10.0, sent=10.5)  # sent late: the queue it met still counts
    figures = stage_figures(timeline.phase("floor"))
    assert problems_of(timeline.phase("floor")) == {}
    assert [round(figures[s]["latency"]["p99_ms"]) for s in ("qualified", "pooled", "pushed", "shown")] == \
        [100, 200, 300, 400]
    assert round(figures["send_lag"]["max_ms"]) == 500


def test_a_redelivered_event_is_not_a_second_push_but_a_second_assignment_is() -> None:
    timeline = Timeline()
    followed(timeline, 1, scheduled=0.0, sent=0.0)
    timeline.pushed(event_id="as-1", lead_id="lead-1", agent="agent-00001", assigned_by="system", at=0.35)
    assert problems_of(timeline.phase("floor")) == {}
    assert timeline.redelivered["pushed"] == 1
    timeline.pushed(event_id="as-1b", lead_id="lead-1", agent="agent-00002", assigned_by="system", at=0.5)
    found = problems_of(timeline.phase("floor"))
    assert found["pushed 2 times"] == 1
    assert found["notification shown to another agent than the lead's"] == 1


@pytest.mark.parametrize(("break_it", "problem"), [
    (lambda t: None, "not qualified"),
    (lambda t: t.qualified(received_event_id="ev-1", lead_id="lead-1", at=1.0), "not pooled"),
])
def test_a_lead_lost_at_intake_or_before_its_pool_is_a_problem(break_it, problem) -> None:  # type: ignore[no-untyped-def]
    timeline = Timeline()
    timeline.sent(Sending("ev-1", "floor", 0.0, 0.0))
    break_it(timeline)
    assert problem in problems_of(timeline.phase("floor"))


def test_notifications_missing_doubled_misdelivered_or_pushed_by_a_person_are_problems() -> None:
    timeline = Timeline()
    for n in range(4):
        timeline.sent(Sending(f"ev-{n}", "floor", 0.0, 0.0))
        timeline.qualified(received_event_id=f"ev-{n}", lead_id=f"lead-{n}", at=0.1)
        timeline.pooled(lead_id=f"lead-{n}", at=0.2)
        timeline.pushed(event_id=f"as-{n}", lead_id=f"lead-{n}", agent="agent-a",
                        assigned_by="supervisor-1" if n == 3 else "system", at=0.3)
    timeline.shown(agent="agent-a", lead_id="lead-1", at=0.4)
    timeline.shown(agent="agent-a", lead_id="lead-1", at=0.5)
    timeline.shown(agent="agent-b", lead_id="lead-2", at=0.4)
    timeline.shown(agent="agent-a", lead_id="lead-3", at=0.4)
    timeline.shown(agent="agent-a", lead_id="someone-elses", at=0.4)
    assert problems_of(timeline.phase("floor")) == {
        "notification not shown": 1, "notification shown 2 times": 1,
        "notification shown to another agent than the lead's": 1, "pushed by someone else than the system": 1}
    assert timeline.strays["shown"] == 1


def test_one_received_lead_qualified_as_two_leads_is_a_problem() -> None:
    timeline = Timeline()
    timeline.sent(Sending("ev-1", "floor", 0.0, 0.0))
    timeline.qualified(received_event_id="ev-1", lead_id="lead-1", at=0.1)
    timeline.qualified(received_event_id="ev-1", lead_id="lead-1", at=0.2)  # read again: the same lead
    assert timeline.redelivered["qualified"] == 1
    timeline.qualified(received_event_id="ev-1", lead_id="lead-2", at=0.2)
    assert problems_of(timeline.phase("floor")) == {"qualified as 2 leads": 1}


def test_throughput_per_stage_and_the_slowest_one() -> None:
    timeline = Timeline()
    for n in range(101):  # sent over 1 s; the last shown 2 s after the first send
        timeline.sent(Sending(f"ev-{n}", "saturation", n / 100, n / 100))
        timeline.qualified(received_event_id=f"ev-{n}", lead_id=f"lead-{n}", at=0.1 + n / 100)
        timeline.pooled(lead_id=f"lead-{n}", at=0.2 + n / 100)
        timeline.pushed(event_id=f"as-{n}", lead_id=f"lead-{n}", agent="a", assigned_by="system", at=0.3 + n / 50)
        timeline.shown(agent="a", lead_id=f"lead-{n}", at=0.4 + n / 50)
    figures = stage_figures(timeline.phase("saturation"))
    assert figures["shown"]["throughput_per_s"] == pytest.approx(101 / 2.4)
    assert [round(figures[s]["behind_s"], 2) for s in ("qualified", "pooled", "pushed", "shown")] == \
        [0.1, 0.1, 1.1, 0.1]
    assert slowest_stage(figures) == "pushed"
    assert figures["sent_per_s"] == pytest.approx(101)
    assert stage_figures([]) == {}


def test_half_of_saturation_and_the_holding_cap() -> None:
    assert half_of_saturation(1000, 10.0, 12.0) == 250.0
    with pytest.raises(ValueError):
        half_of_saturation(1000, 10.0, 9.0)
    assert holding_cap_needed(1000, 200, 200) == 200
    assert holding_cap_needed(100_000, 200, 200) == 1020


def test_the_generated_leads_are_new_people_keyed_by_the_sources_reference() -> None:
    from telesales_contracts.topics import LEADS_RECEIVED

    leads = LeadMaker("bench-t", teams=3, seed=1).make(500)
    events = [json.loads(lead.payload) for lead in leads]
    phones = {e["data"]["phone"].replace(" ", "").removeprefix("+86") for e in events}
    assert len(phones) == 500 and len({e["id"] for e in events}) == 500
    assert all(lead.key.decode() == e["data"]["external_id"] for lead, e in zip(leads, events, strict=True))
    assert {e["data"]["business_line"] for e in events} == {"line-000", "line-001", "line-002"}
    for lead in leads[:50]:
        LEADS_RECEIVED.parse(lead.payload)


def test_the_routing_rules_push_each_teams_line_on_arrival() -> None:
    from pydantic import TypeAdapter

    from allocator.domain import RoutingRule

    rules = TypeAdapter(list[RoutingRule]).validate_python(routing_rules(2, "round_robin"))
    assert [(r.pool_id, r.business_line, r.on_arrival.team_id if r.on_arrival else None) for r in rules] == [
        ("push-000", "line-000", "team-000"), ("push-001", "line-001", "team-001")]


def test_an_sse_block_gives_its_seq_and_notification() -> None:
    block = b'id: 7\nevent: notification\ndata: {"kind": "lead_assigned", "subject": {"lead_id": "x"}}'
    assert parse_block(block) == (7, {"kind": "lead_assigned", "subject": {"lead_id": "x"}})
    assert parse_block(b": heartbeat") is None


def test_the_report_renders_a_run_that_lost_nothing() -> None:
    timeline = Timeline()
    for n, phase in enumerate(("saturation", "floor", "half")):
        followed(timeline, n, scheduled=1.0, sent=1.0, phase=phase)
    cpu = {"pct_of_one_core": {"allocator": 10.0}, "machine_busy_pct": 50.0, "machine_cores": 2}
    phases = {p: {"leads": 1, "rate_per_s": None, "cpu": cpu, "stages": stage_figures(timeline.phase(p)),
                  "problems": {}} for p in ("saturation", "floor", "half")}
    text = render({"run": "r", "git": {"commit": "c"}, "cpu_count": 2, "agents": 2, "teams": 1,
                   "strategy": "round_robin", "connected": 2, "connect_failed": 0, "phases": phases,
                   "saturation_per_s": math.nan, "slowest_stage": "?", "target_p99_ms": 1000.0, "target_met": True,
                   "memory_rss_bytes": {"idle": {"allocator": 2**20}}, "strays": {}, "redelivered": {},
                   "stream_errors": [], "warnings": ["DISTURBED: x"]})
    shown = next(line for line in text.splitlines() if line.startswith("| notification read on the agent's"))
    assert shown.startswith("| notification read on the agent's SSE stream | 1 | 400 / 400 / 400 |")
    assert shown.endswith("| +0.10 s |")
    assert "400 ms, met" in text and "note: DISTURBED: x" in text


def test_the_handler_figures_come_from_the_services_own_metrics() -> None:
    text = "\n".join([
        'telesales_handler_duration_seconds_count{service="allocator",topic="leads.qualified.v1"} 10.0',
        'telesales_handler_duration_seconds_sum{service="allocator",topic="leads.qualified.v1"} 2.0',
        'telesales_handler_duration_seconds_count{service="allocator",topic="agents.changed.v1"} 99.0',
        'telesales_dead_letters_total{service="allocator",topic="x",error_type="unknown_agent"} 1.0',
        'allocator_push_locks_held_seconds_bucket{le="0.1"} 7.0',
        'allocator_push_locks_held_seconds_bucket{le="+Inf"} 9.0',
        'allocator_push_locks_held_seconds_count 9.0',
        'allocator_push_locks_held_seconds_sum 0.9', ""])
    before = {"calls": 4.0, "seconds": 0.5, "dead_letters": 0.0, "locks": 4.0, "locked_seconds": 0.4,
              "locks_over_100ms": 1.0}
    after = handler_counters(text, "leads.qualified.v1")
    assert after == {"calls": 10.0, "seconds": 2.0, "dead_letters": 1.0, "locks": 9.0, "locked_seconds": 0.9,
                     "locks_over_100ms": 2.0}
    assert handler_use(before, after, leads=300, wall_s=3.0) == pytest.approx({
        "batches": 6.0, "leads_per_batch": 50.0, "ms_per_batch": 250.0, "busy_pct": 50.0, "dead_letters": 1.0,
        "distributions": 5.0, "ms_locked_per_distribution": 100.0, "locked_over_100ms": 1.0})
    no_pushes = {**after, "locks": 4.0, "locked_seconds": 0.4, "locks_over_100ms": 1.0}
    assert "distributions" not in handler_use(before, no_pushes, leads=300, wall_s=3.0)


def test_an_assignment_read_before_its_qualification_counts_once_its_lead_is_known() -> None:
    """One reader fetches both topics: a fast push can come back before the lead's qualification."""
    timeline = Timeline()
    timeline.sent(Sending("ev-1", "floor", 0.0, 0.0))
    timeline.pushed(event_id="as-1", lead_id="lead-1", agent="agent-a", assigned_by="system", at=0.3)
    timeline.pooled(lead_id="lead-1", at=0.2)
    assert timeline.strays == {"pushed": 1, "pooled": 1}  # not known yet: a stray if it never comes
    timeline.qualified(received_event_id="ev-1", lead_id="lead-1", at=0.1)
    timeline.shown(agent="agent-a", lead_id="lead-1", at=0.4)
    assert timeline.strays == {}
    assert problems_of(timeline.phase("floor")) == {}
    assert round(stage_figures(timeline.phase("floor"))["pushed"]["latency"]["p99_ms"]) == 300
