"""Events of the allocator: every change of a lead's holder, reclaim warnings and hot-lead alerts.
The metrics service counts them (接待 received, 分配 assigned, 退回 returned, 回收 reclaimed,
关单 closed, 成单 won)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .activity import SignalKind
from .roster import AgentGrade


class HolderChange(BaseModel):
    """What every holder-change event says: which lead, which agent, where the lead sits."""

    model_config = ConfigDict(extra="ignore")

    lead_id: str
    agent_id: str = Field(description="The agent who got the lead (assigned, claimed) or who lost it.")
    team_id: str | None
    agent_grade: AgentGrade | None = Field(description="The agent's grade when it happened.")
    business_line: str
    pool_id: str = Field(description="The public pool the lead belongs to.")
    score: int = Field(ge=0, le=100)
    lead_grade: Literal["A", "B", "C", "D"]
    at: datetime


class DistributionStrategy(StrEnum):
    SUPERVISOR = "supervisor"  # 主管指定: a supervisor names the agent
    EVEN_BY_OPEN = "even_by_open"  # 平均: to whoever holds the fewest open leads
    BATCH_AVERAGE = "batch_average"  # 批次平均: a batch split evenly across the team
    ROUND_ROBIN = "round_robin"  # 轮询: agents take turns
    ABILITY_WEIGHTED = "ability_weighted"  # 按能力+平均: more to stronger agents, evenly otherwise
    NEVER_PREVIOUS = "never_previous"  # 不重复: never to an agent who held the lead before
    SAME_AGENT = "same_agent"  # 回收后再分配给同一人: back to the agent who held it before the reclaim
    DEDICATED_AGENT = "dedicated_agent"  # the customer's own agent (a hot lead or a returning buyer)


class LeadAssigned(HolderChange):
    """A lead was pushed to an agent (分配)."""

    strategy: DistributionStrategy
    assigned_by: str = Field(description="The supervisor or operator who assigned it, or `system`.")


class LeadClaimed(HolderChange):
    """An agent claimed the lead from a tiered pool (捞取)."""

    tier_id: str


class LeadReturned(HolderChange):
    """The agent gave the lead back (退回): it is in the public pool again."""

    reason: str
    drop_count: int = Field(ge=0, description="Agents who have dropped this lead, this one included (an agent who left drops nothing).")


class ReclaimKind(StrEnum):
    NOT_PROCESSED = "not_processed"  # 未处理回收: no call within N days of assignment
    NOT_CONVERTED = "not_converted"  # 未转化回收: stage did not advance within M days
    # seed 002: dialled by its holder on N consecutive days (policy `dial_streak_days`) without converting
    DIALLED_WITHOUT_CONVERTING = "dialled_without_converting"


class LeadReclaimed(HolderChange):
    """The lead was taken back from its agent (回收) and is in the public pool again."""

    kind: ReclaimKind
    stage_percent: int = Field(ge=0, le=100)
    deadline: datetime
    drop_count: int = Field(ge=1)


class LeadClosed(HolderChange):
    """The agent closed the lead without a sale (关单), or the lead was closed under it because its number
    went on the do-not-call list (`do_not_call`: the agent is told)."""

    reason: str
    do_not_call: bool = Field(default=False, description="Closed because the number is on the do-not-call list "
                              "(a complaint or an operator), not by the agent.")


class LeadWon(HolderChange):
    """The agent won the lead (成单)."""

    amount_fen: int = Field(gt=0, description="Sale amount in fen (1 yuan = 100 fen).")


class WinConfirmed(BaseModel):
    """An agent's win (成单) is confirmed: by an order from the CRM or payment system (leads.outcome.v1 from
    outside the platform) or by the holder's supervisor. Only confirmed wins count toward grades and rankings;
    an agent's own `allocation.won.v1` says the agent declared it."""

    model_config = ConfigDict(extra="ignore")

    lead_id: str
    agent_id: str = Field(description="The agent who won the lead.")
    team_id: str | None = None
    business_line: str
    amount_fen: int = Field(ge=0, description="The confirmed amount in fen (the order's, when it names one).")
    declared_amount_fen: int | None = Field(default=None, description="What the agent declared, if it did.")
    confirmed_by: Literal["order", "supervisor"]
    confirmer: str = Field(description="The supervisor's id, or the system the order came from.")
    order_ref: str | None = None
    won_at: datetime
    confirmed_at: datetime


class WinRejected(BaseModel):
    """An agent's declared, unconfirmed win (成单) was rejected: the outside CRM or payment system said the order
    was lost (a lost leads.outcome.v1), or the winner's supervisor refused it. The win counts toward nothing;
    the lead is held again by the agent who declared it, its reclaim clocks starting again at `rejected_at`."""

    model_config = ConfigDict(extra="ignore")

    lead_id: str
    agent_id: str = Field(description="The agent who declared the win, holding the lead again.")
    team_id: str | None = None
    business_line: str
    pool_id: str | None = Field(default=None, description="The public pool the lead belongs to.")
    declared_amount_fen: int | None = Field(default=None, description="What the agent declared.")
    won_at: datetime | None = Field(default=None, description="When the agent declared the win.")
    rejected_by: Literal["order", "supervisor"] = Field(description="order: the CRM or payment system said the "
                                                                    "order was lost; supervisor: the winner's.")
    rejecter: str = Field(description="The supervisor's id, or the system the lost outcome came from.")
    reason: str = Field(max_length=500)
    order_ref: str | None = None
    rejected_at: datetime


class ReclaimWarning(BaseModel):
    """The lead will be reclaimed from its agent at `reclaim_at` unless it is worked."""

    model_config = ConfigDict(extra="ignore")

    lead_id: str
    agent_id: str
    kind: ReclaimKind
    reclaim_at: datetime
    stage_percent: int = Field(ge=0, le=100)


class DealMarkRequested(BaseModel):
    """An agent asked that a lead it holds be marked `deal_in_progress` (a deal is being closed), which
    would protect it from reclaim for a while; until a supervisor approves, it protects nothing."""

    model_config = ConfigDict(extra="ignore")

    lead_id: str
    request_id: str
    agent_id: str = Field(description="The holder who asked.")
    team_id: str | None
    business_line: str
    supervisors: list[str] = Field(description="Who may decide: the supervisors of the holder's team.")
    note: str | None = None
    requested_at: datetime


class DealMarkDecided(BaseModel):
    """The holder's supervisor approved or refused a `deal_in_progress` request. An approved mark protects
    the lead from reclaim until `expires_at`; then the reclaim clocks apply again."""

    model_config = ConfigDict(extra="ignore")

    lead_id: str
    request_id: str
    agent_id: str = Field(description="The holder who asked.")
    decision: Literal["approved", "refused"]
    decided_by: str
    reason: str | None = None
    expires_at: datetime | None = Field(description="When an approved mark stops protecting; null when refused.")
    decided_at: datetime


class HotLead(BaseModel):
    """A moment that matters happened on a lead: its agent should call now."""

    model_config = ConfigDict(extra="ignore")

    lead_id: str
    agent_id: str
    routed: Literal["holder", "dedicated_agent"] = Field(
        description="holder: the agent already held the lead; dedicated_agent: it was just assigned to them.")
    kind: SignalKind
    detail: str | None
    occurred_at: datetime = Field(description="When the outside system saw it (the signal's time).")
    signal_event_id: str
