"""HTTP bodies of the floor running itself: 轮询申领 applications and the measured weights of 能力+平均."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from telesales_contracts.roster import Identifier


class ApplicationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pool_id: Identifier = Field(description="The public pool the agent applies for the next lead of.")


ApplicationStatus = Literal["pending", "served", "refused", "cancelled"]


class ApplicationView(BaseModel):
    application_id: str
    agent_id: str
    pool_id: str
    status: ApplicationStatus = Field(
        description="served: `lead_id` is the agent's now; pending: waiting for a lead its grade opens, served "
                    "in turn when one arrives; refused: not served (`reason`); cancelled: by the agent.")
    applied_at: datetime
    position: int | None = Field(default=None, description="While pending: its place in the pool's turn (1: the "
                                 "next lead it may take is its).")
    lead_id: str | None = None
    reason: str | None = Field(default=None, description="Why refused: `holding_cap_reached`, `refresh_quota_used`, "
                               "`agent_inactive`, `not_an_agent`, or `not_working (<status>)` when the dialer "
                               "reports the agent off or on a break by its turn.")
    decided_at: datetime | None = None


class ApplicationPage(BaseModel):
    items: list[ApplicationView] = Field(description="Newest first.")
    next_cursor: str | None
    pools: list[str] = Field(description="The public pools the agent may apply for a lead of (its line's).")


class AbilityWeightView(BaseModel):
    agent_id: str
    received: int = Field(description="Leads the agent received (claimed or was pushed) in the window.")
    won: int = Field(description="Of those, the ones it won.")
    conversion: float | None = Field(description="won / received; null without leads.")
    weight: float = Field(description="What 能力+平均 weighs the agent by: its conversion, at least the floor; "
                                      "the floor for a new agent.")
    floor_applied: bool


class AbilityWeights(BaseModel):
    team_id: str
    window_days: float
    min_leads: int
    floor: float
    agents: list[AbilityWeightView]
