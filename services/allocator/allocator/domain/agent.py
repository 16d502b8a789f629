"""An agent as the lead rules need it (pure, no I/O): who it is on the roster, its grade, its ability
and the time it worked."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from . import AgentFacts, AllocationPolicy, worked_seconds


@dataclass(frozen=True, slots=True)
class Agent:
    agent_id: str
    active: bool = True
    role: str = "agent"
    grade: str | None = None  # None until its first weekly grading (the policy's new-agent grade applies)
    business_line: str = "default"
    team_id: str | None = None
    ability: float = 1.0
    status: str | None = None
    status_since: datetime | None = None
    logged_seconds: Mapping[str, float] = field(default_factory=dict)  # per local day
    talk_seconds: Mapping[str, float] = field(default_factory=dict)  # per local day

    def grade_under(self, policy: AllocationPolicy) -> str:
        return self.grade or policy.new_agent_grade

    def facts(self, policy: AllocationPolicy) -> AgentFacts:
        """What eligibility needs to know of the agent."""
        return AgentFacts(agent_id=self.agent_id, active=self.active, role=self.role, grade=self.grade_under(policy),
                          business_line=self.business_line, team_id=self.team_id)

    def holding_cap(self, policy: AllocationPolicy) -> int:
        return policy.cap_for(self.grade_under(policy))

    def worked_minutes_today(self, now: datetime, tz: tzinfo) -> float:
        seconds = worked_seconds(now.astimezone(tz).date(), logged=dict(self.logged_seconds), status=self.status,
                                 status_since=self.status_since, talk=dict(self.talk_seconds), now=now, tz=tz)
        return seconds / 60
