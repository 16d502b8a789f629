"""Events about the people on the floor: the roster from the HR system, agent status from the dialer,
and the allocator's weekly grades."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from .envelope import FROM_OUTSIDE, AwareDatetime

Identifier = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$")]
AgentGrade = Literal["A", "B", "C", "D", "E"]
AGENT_GRADES: tuple[str, ...] = ("A", "B", "C", "D", "E")


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    MANAGER = "manager"


class AgentChanged(BaseModel):
    """An agent, supervisor or manager as the HR system knows them: the whole record, not a diff.

    The allocator keeps the latest record by the event's `time`; an older record arriving late is
    ignored."""

    model_config = FROM_OUTSIDE

    agent_id: Identifier
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    role: Role = Role.AGENT
    team_id: Identifier | None = None
    business_line: Annotated[str, StringConstraints(min_length=1, max_length=64)] = "default"
    active: bool = Field(default=True, description="False once the person has left: their leads go back to the pool.")
    supervisor_id: Identifier | None = None


class AgentStatus(StrEnum):
    LOGGED_IN = "logged_in"
    ON_BREAK = "on_break"
    LOGGED_OUT = "logged_out"


class AgentStatusChanged(BaseModel):
    """The dialer saw an agent log in, take a break or log out. Time logged in (not on break) is the
    agent's time worked that day."""

    model_config = FROM_OUTSIDE

    agent_id: Identifier
    status: AgentStatus
    at: AwareDatetime = Field(description="When the status changed, with its offset.")


class AgentGraded(BaseModel):
    """An agent's grade for the coming week, from the last week's sales results."""

    model_config = ConfigDict(extra="ignore")

    agent_id: str
    week: str = Field(description="ISO week graded, e.g. 2026-W47.")
    grade: AgentGrade
    previous_grade: AgentGrade | None
    rank: int = Field(ge=1, description="1 = best sales of the week.")
    agents_ranked: int = Field(ge=1)
    sales_fen: int = Field(ge=0)
    deals: int = Field(ge=0)
    promoted_from_e: bool = Field(default=False, description="Moved up from E as one of E's top share.")
    team_id: str | None = None
