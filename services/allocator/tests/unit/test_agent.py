"""An agent as the lead rules see it (domain/agent.py), read from its roster record (store/roster.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from allocator.domain import AllocationPolicy
from allocator.store.roster import agent_of

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_a_new_agent_has_the_policys_new_agent_grade_and_its_cap() -> None:
    policy = AllocationPolicy(new_agent_grade="D", holding_cap=200, holding_cap_by_grade={"D": 50, "A": 300})
    new = agent_of({"agent_id": "a1", "grade": None, "team_id": "t1"})
    graded = agent_of({"agent_id": "a2", "grade": "A", "active": False, "ability": 2.5})
    assert (new.grade_under(policy), new.holding_cap(policy), new.ability, new.active) == ("D", 50, 1.0, True)
    assert (graded.holding_cap(policy), graded.ability, graded.active) == (300, 2.5, False)
    facts = new.facts(policy)
    assert (facts.grade, facts.team_id, facts.role, facts.business_line) == ("D", "t1", "agent", "default")


def test_time_worked_today_is_the_larger_of_time_logged_in_and_talk_time() -> None:
    now = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
    day = now.astimezone(SHANGHAI).date().isoformat()
    logged_in = agent_of({"agent_id": "a1", "status": "logged_in", "status_since": now - timedelta(hours=1),
                          "logged_seconds": {day: 1800.0}, "talk_seconds": {day: 600.0}})
    dialer_only = agent_of({"agent_id": "a2", "talk_seconds": {day: 5400.0}})
    assert logged_in.worked_minutes_today(now, SHANGHAI) == 90
    assert dialer_only.worked_minutes_today(now, SHANGHAI) == 90
