"""HTTP request and response bodies of the allocator (event payloads live in contracts/)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, StringConstraints

from telesales_contracts.activity import FunnelStep, SignalKind
from telesales_contracts.allocation import DistributionStrategy, ReclaimKind
from telesales_contracts.consent import ScopeConsent
from telesales_contracts.roster import AgentGrade, Identifier, Role

from .history import HISTORY_LIMIT, EntryKind
from .push_missed import PushMissedView
from .win_views import WinView

Text = Annotated[str, StringConstraints(min_length=1, max_length=500)]


class AgentIn(BaseModel):
    """A roster record (the same fields the HR system sends on agents.changed.v1)."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    role: Role = Role.AGENT
    team_id: Identifier | None = None
    business_line: Annotated[str, StringConstraints(min_length=1, max_length=64)] = "default"
    active: bool = True
    supervisor_id: Identifier | None = None


class AgentPatch(BaseModel):
    """Operator overrides: a grade before the first weekly grading, an agent's ability weight."""

    model_config = ConfigDict(extra="forbid")

    grade: AgentGrade | None = None
    ability: float | None = Field(default=None, gt=0, le=100, description="Relative strength for ability-weighted "
                                  "distribution (1 = average).")


class AgentView(BaseModel):
    agent_id: str
    name: str
    role: str
    team_id: str | None
    business_line: str
    active: bool
    supervisor_id: str | None = None
    grade: str | None
    ability: float
    status: str | None
    status_since: datetime | None
    worked_minutes_today: float
    holding: int | None = Field(default=None, description="Leads held now (single-agent reads only).")


class AgentPage(BaseModel):
    items: list[AgentView]
    next_cursor: str | None


class RowError(BaseModel):
    row: int = Field(description="1-based data row (the CSV header is row 0).")
    error: str


class ImportResult(BaseModel):
    rows: int
    imported: int
    invalid: int
    errors: list[RowError] = Field(description="The first 100 invalid rows.")


class TeamIn(BaseModel):
    """A team and how leads reach it: its route (step one: by the customer's need) and its strategy
    (step two: to which agent)."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    business_line: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    supervisor_id: Identifier | None = None
    strategy: DistributionStrategy = DistributionStrategy.EVEN_BY_OPEN
    ability_share: float = Field(default=0.5, ge=0, le=1, description="ability_weighted: the share split by ability.")
    product_interests: list[Annotated[str, StringConstraints(min_length=1, max_length=200)]] = Field(
        default_factory=list, description="Route: leads with one of these product interests (empty: any).")
    regions: list[Annotated[str, StringConstraints(min_length=1, max_length=200)]] = Field(
        default_factory=list, description="Route: leads whose region starts with one of these (empty: any).")
    priority: int = Field(default=100, description="Route order: lower is tried first.")


class TeamView(TeamIn):
    model_config = ConfigDict(extra="ignore")  # read from the stored document (tenant_id, timestamps)

    team_id: str
    round_robin_cursor: str | None = None


class ConfigView(BaseModel):
    version: int = Field(description="Send it back in If-Match to change this configuration safely.")
    value: Any


class ClaimIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tier_id: Identifier
    count: int = Field(default=1, ge=1, le=1000)


class ReclaimClockView(BaseModel):
    """When a held lead goes back to the pool unless its holder acts (the reclaim sweep's own rule)."""

    kind: ReclaimKind = Field(description="not_processed: no call by the holder since getting it; not_converted: "
                              "the stage has not moved forward.")
    at: datetime = Field(description="When the sweep reclaims it.")
    warn_at: datetime = Field(description="When allocation.reclaim-warning.v1 goes out (reclaim_warning_hours before).")
    unless: Literal["call", "advance_stage"] = Field(
        description="What the holder can do: call (ends the not-processed clock; the not-converted one then "
                    "applies) or advance_stage (moving the stage forward restarts the not-converted clock).")


class HotSignal(BaseModel):
    """The latest moment that mattered on the customer's side (leads.signal.v1), by when it happened."""

    kind: SignalKind
    detail: str | None
    at: datetime = Field(description="When the outside system saw it.")


class ScorePart(BaseModel):
    """One feature's share of the rule score, as lead-intake explained it (leads.qualified.v1)."""

    feature: str
    value: str
    points: float


class ScoreModel(BaseModel):
    """The learned part of the score, when lead-intake blended one in: score = (1 - blend_weight) x rule
    score + blend_weight x 100 x probability_won."""

    probability_won: float
    blend_weight: float
    outcomes_used: int


class DealMarkView(BaseModel):
    request_id: str
    status: Literal["pending", "approved", "refused"]
    agent_id: str = Field(description="The holder who asked.")
    requested_at: datetime
    note: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None
    expires_at: datetime | None = Field(default=None, description="Approved: when it stops protecting the lead.")


class LeadView(BaseModel):
    lead_id: str
    phone: str | None = Field(description="Full for the holder and for supervisors and managers of the line; "
                              "masked otherwise.")
    phone_masked: bool
    masked_reason: Literal["unmask_budget_exceeded", "unmask_budget_unavailable", "masked_dialing_only"] | None = Field(
        default=None, description="Why a caller who may see the number sees it masked: past its hourly budget "
        "of full numbers (ALLOCATOR_UNMASK_BUDGET_PER_HOUR), or the budget could not be checked (it fails "
        "closed); also sent as the X-Masked-Reason header. `masked_dialing_only`: the tenant calls only "
        "through middle numbers (POST /v1/leads/{id}/dial), nobody sees its numbers in full.")
    name: str | None
    company: str | None
    business_line: str
    product_interest: str | None
    region: str | None
    score: int
    lead_grade: str
    pool_id: str
    status: str
    holder: str | None
    held_since: datetime | None
    stage_percent: int
    funnel_step: str | None
    deal_in_progress: bool = Field(description="An approved deal-in-progress mark protects the lead from reclaim "
                                   "now (see `deal_mark`).")
    deal_mark: DealMarkView | None = Field(default=None, description="The hold's deal-in-progress mark: asked "
                                           "for, approved (until when) or refused; null when never asked.")
    call_count: int
    last_call_at: datetime | None
    drop_count: int
    buyer: bool
    dedicated_agent: str | None
    rest_until: datetime | None = Field(description="Resting after too many calls (contact pressure) until then.")
    reclaim: ReclaimClockView | None = Field(
        default=None, description="Held leads: when the lead is reclaimed unless its holder acts (not before an "
        "approved deal-in-progress mark expires); null when not held or no reclaim rule applies.")
    hot: HotSignal | None = Field(
        default=None, description="The latest signal on the lead (whether or not an agent was alerted), however "
        "old: judge recency by `at`.")
    score_parts: list[ScorePart] = Field(default_factory=list, description="The rule score's parts (empty for "
                                         "leads stored before the allocator kept them).")
    score_model: ScoreModel | None = None
    win: WinView | None = Field(default=None, description="Won leads: whether the win is confirmed; held leads "
                                "whose holder's win was rejected: rejected, and why.")
    push_missed: PushMissedView | None = Field(
        default=None, description="Pooled leads the push on arrival could not place: why (they wait to be claimed).")
    consent: list[ScopeConsent] = Field(default_factory=list, description="What the person agreed to be contacted "
                                        "by: the latest statement per scope; empty: none stated.")
    # The answer shows the number and name in full (what the access log and the unmasking budget count).
    _contact_full: bool = PrivateAttr(default=False)

    @property
    def contact_full(self) -> bool:
        return self._contact_full


class HistoryEntry(BaseModel):
    """One thing the allocator knows happened to a lead. Fields a kind does not use are null."""

    kind: EntryKind = Field(description="Holder changes (claimed, assigned: the agent got it; returned, "
                                    "reclaimed, closed, won: the agent lost it), reopened (a closed lead came "
                                    "back), call, stage (a stage move as asked), signal, deal_mark (a "
                                    "deal-in-progress mark asked for or decided), win_confirmed (by an order "
                                    "or the supervisor: `via`), win_rejected (a lost order or the supervisor: "
                                    "`via`; the winner holds the lead again).")
    at: datetime = Field(description="When it happened: a call when it started, a signal when it was seen.")
    agent_id: str | None = None
    via: str | None = Field(default=None, description="claimed: the tier; assigned: the strategy; win_confirmed, "
                            "win_rejected: order or supervisor.")
    order_ref: str | None = None
    reason: str | None = None
    reclaim_kind: ReclaimKind | None = None
    amount_fen: int | None = None
    duration_seconds: int | None = None
    connected: bool | None = None
    stage_percent: int | None = None
    funnel_step: str | None = None
    deal_in_progress: bool | None = None
    signal_kind: SignalKind | None = None
    detail: str | None = None
    deal_mark_status: Literal["pending", "approved", "refused"] | None = None
    expires_at: datetime | None = None


class LeadHistory(BaseModel):
    lead_id: str
    entries: list[HistoryEntry] = Field(description=f"In time order; the last {HISTORY_LIMIT} recorded.")


class ClaimResult(BaseModel):
    requested: int
    granted: int = Field(description="What the holding cap and the refresh quota allowed.")
    claimed: int = Field(description="Leads actually taken (fewer than granted when the pool ran out).")
    holding: int
    holding_cap: int
    quota_left: int
    leads: list[LeadView]


class LeadPage(BaseModel):
    items: list[LeadView]
    next_cursor: str | None


class ReturnIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent_id: Identifier
    reason: Text


class CloseIn(ReturnIn):
    pass


class WinIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent_id: Identifier
    amount_fen: int = Field(gt=0, le=10**12, description="Sale amount in fen (1 yuan = 100 fen).")


class StageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stage_percent: int = Field(ge=0, le=100)
    funnel_step: FunnelStep | None = None
    deal_in_progress: bool | None = Field(default=None, description="true asks the holder's supervisor to mark "
                                          "the lead (as POST /v1/leads/{id}/deal-mark; it protects nothing until "
                                          "approved); false withdraws the mark.")
    agent_id: Identifier | None = Field(default=None, description="When given, the lead must be held by this agent.")
    note: Annotated[str, StringConstraints(max_length=1000)] | None = None


class DealMarkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent_id: Identifier = Field(description="The holder asking.")
    note: Annotated[str, StringConstraints(max_length=1000)] | None = None


class DealMarkDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    decision: Literal["approved", "refused"]
    reason: Annotated[str, StringConstraints(max_length=1000)] | None = None


class DistributionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lead_ids: list[Annotated[str, StringConstraints(min_length=1, max_length=64)]] = Field(min_length=1,
                                                                                           max_length=5000)
    team_id: Identifier | None = Field(default=None, description="Skip step one: every lead goes to this team.")
    strategy: DistributionStrategy | None = Field(default=None, description="Overrides the team's own strategy.")
    target_agent: Identifier | None = Field(default=None, description="For the supervisor strategy.")


class Placement(BaseModel):
    lead_id: str
    agent_id: str
    team_id: str
    strategy: str


class Unplaced(BaseModel):
    lead_id: str
    reason: str


class DistributionResult(BaseModel):
    placed: list[Placement]
    unplaced: list[Unplaced]


class TierView(BaseModel):
    tier_id: str
    name: str
    filter: dict[str, Any]
    grades: list[str]
    min_worked_minutes: int
    pool_ids: list[str]
    may_open: bool | None = Field(default=None, description="With ?agent_id: whether that agent may open it now.")
    why_not: str | None = None


class SweepResult(BaseModel):
    examined: int
    reclaimed: int
    warned: int


class GradingResult(BaseModel):
    week: str
    graded: bool = Field(description="False when the week had been graded before (nothing changed).")
    agents: int
    grades: dict[str, int]


class FairnessRow(BaseModel):
    agent_grade: str
    agents: int
    leads_received: int
    leads_claimed: int
    mean_score: float
    conversions: int
    conversion_rate: float


class FairnessReport(BaseModel):
    since: datetime
    until: datetime
    rows: list[FairnessRow]
