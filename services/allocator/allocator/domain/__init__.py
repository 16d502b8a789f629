"""The allocator's rules, pure (no I/O): where a qualified lead lands, which tiered pools an agent may
open, how many leads a claim may take, when a held lead is reclaimed (and warned), how contact pressure
rests a lead, how time worked adds up, and how a phone number is masked.

What can happen to one lead is the Lead aggregate (lead.py, its changes in changes.py). Push
distribution strategies live in distribution.py and weekly grading in grading.py (also pure)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from telesales_contracts.activity import FUNNEL_ORDER, STAGE_LAYERS, stage_layer
from telesales_contracts.roster import AGENT_GRADES, AgentGrade
from telesales_runtime.errors import DomainError

from .dialing import PrivacyProviderName
from .reclaim import (
    DEAL_MARK_APPROVED,
    DEAL_MARK_PENDING,
    DEAL_MARK_REFUSED,
    HeldLeadFacts,
    ReclaimSchedule,
    deal_mark_expiry,
    deal_mark_in_force,
    dial_days_after,
    longest_dial_streak,
    reclaim_schedule,
)
from .routing import ArrivalPush, Name, RoutingRule, arrival_push, default_pool_id, matching_rule, route_pool

__all__ = ["ArrivalPush", "Name", "RoutingRule", "arrival_push", "default_pool_id", "matching_rule", "route_pool",
           "DEAL_MARK_APPROVED", "DEAL_MARK_PENDING", "DEAL_MARK_REFUSED", "HeldLeadFacts", "ReclaimSchedule",
           "deal_mark_expiry", "deal_mark_in_force", "dial_days_after", "longest_dial_streak", "reclaim_schedule"]

LAYER_NAMES: tuple[str, ...] = tuple(name for name, _, _ in STAGE_LAYERS)


# ---- tiered pools ---------------------------------------------------------------------------------------


class TierFilter(BaseModel):
    """Which pooled leads a tier shows. Unset conditions do not filter."""

    model_config = ConfigDict(extra="forbid")

    never_dialed: bool | None = Field(default=None, description="true: only leads nobody has called yet.")
    min_drops: int | None = Field(default=None, ge=0, description="Dropped (returned or reclaimed) by at least "
                                  "this many agents.")
    max_drops: int | None = Field(default=None, ge=0)
    buyer: bool | None = Field(default=None, description="true: only people who bought before.")
    min_score: int | None = Field(default=None, ge=0, le=100)

    @model_validator(mode="after")
    def _drop_range(self) -> TierFilter:
        if self.min_drops is not None and self.max_drops is not None and self.min_drops > self.max_drops:
            raise ValueError("min_drops must not exceed max_drops")
        return self

    def matches(self, lead: PooledLeadFacts) -> bool:
        if self.never_dialed is not None and (lead.call_count == 0) != self.never_dialed:
            return False
        if self.min_drops is not None and lead.drop_count < self.min_drops:
            return False
        if self.max_drops is not None and lead.drop_count > self.max_drops:
            return False
        if self.buyer is not None and lead.buyer != self.buyer:
            return False
        return self.min_score is None or lead.score >= self.min_score


class Tier(BaseModel):
    """A pool agents claim from: a filter over the public pools and who may open it."""

    model_config = ConfigDict(extra="forbid")

    tier_id: Name
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    filter: TierFilter = Field(default_factory=TierFilter)
    grades: list[AgentGrade] = Field(default_factory=lambda: list(AGENT_GRADES), min_length=1,
                                     description="Agent grades that may open it.")
    min_worked_minutes: int = Field(default=0, ge=0, le=24 * 60,
                                    description="Opens only after this much time worked today.")
    pool_ids: list[Name] = Field(default_factory=list, description="Public pools it draws from; empty: the pools "
                                 "of the agent's business line.")


@dataclass(frozen=True, slots=True)
class PooledLeadFacts:
    score: int
    call_count: int
    drop_count: int
    buyer: bool


def default_tiers(high_intent_score: int = 80) -> list[Tier]:
    """The practice this product comes from (seed 002): fresh leads never dialed; abandoned pool 1
    (dropped by 1-3 agents); abandoned pool 2 (by more than 3); the buyer pool (bought before: intent and
    money), open to grades A and B after 3.5 hours worked; high-intent leads for the better grades."""
    return [
        Tier(tier_id="fresh", name="新名单 fresh, never dialed", filter=TierFilter(never_dialed=True, max_drops=0)),
        Tier(tier_id="abandoned-1", name="放弃1号池 dropped by 1-3 agents", filter=TierFilter(min_drops=1, max_drops=3)),
        Tier(tier_id="abandoned-2", name="放弃2号池 dropped by more than 3", filter=TierFilter(min_drops=4)),
        Tier(tier_id="buyer", name="进取池 bought before", filter=TierFilter(buyer=True), grades=["A", "B"],
             min_worked_minutes=210),
        Tier(tier_id="high-intent", name="高意向 high intent", filter=TierFilter(min_score=high_intent_score),
             grades=["A", "B", "C"]),
    ]


@dataclass(frozen=True, slots=True)
class AgentFacts:
    """What eligibility needs to know about an agent."""

    agent_id: str
    active: bool
    role: str
    grade: str
    business_line: str
    team_id: str | None


def check_may_open(tier: Tier, agent: AgentFacts, worked_minutes_today: float) -> None:
    """Raise DomainError unless the agent may open the tier now."""
    if not agent.active:
        raise DomainError("agent_inactive", f"agent {agent.agent_id} is not active")
    if agent.role != "agent":
        raise DomainError("not_an_agent", f"{agent.agent_id} is a {agent.role}; only agents hold leads")
    if agent.grade not in tier.grades:
        raise DomainError("grade_not_allowed", f"tier {tier.tier_id} opens for grades {''.join(tier.grades)}; "
                                               f"agent {agent.agent_id} is grade {agent.grade}")
    if worked_minutes_today < tier.min_worked_minutes:
        raise DomainError("not_enough_time_worked",
                          f"tier {tier.tier_id} opens after {tier.min_worked_minutes} minutes worked today; "
                          f"agent {agent.agent_id} has worked {int(worked_minutes_today)}")


def tier_pool_ids(tier: Tier, agent: AgentFacts, pools_of_line: Iterable[str]) -> list[str]:
    """The public pools a claim from `tier` by `agent` draws from."""
    return list(tier.pool_ids) if tier.pool_ids else sorted(set(pools_of_line) | {default_pool_id(agent.business_line)})


# ---- the allocation policy ------------------------------------------------------------------------------


class ReclaimRule(BaseModel):
    """Days a held lead may go without a call (not processed) or without its stage advancing (not
    converted) before it is reclaimed; for one pool and/or one stage layer, or as the default."""

    model_config = ConfigDict(extra="forbid")

    pool_id: Name | None = None
    layer: Literal["verified_contact", "need_found", "plan_and_payment_date", "contract_and_deposit",
                   "paid_in_full"] | None = None
    not_processed_days: float | None = Field(default=3, gt=0, description="None: never reclaimed for this.")
    not_converted_days: float | None = Field(default=10, gt=0, description="None: never reclaimed for this.")

    def specificity(self) -> int:
        return (2 if self.pool_id is not None else 0) + (1 if self.layer is not None else 0)


class AllocationPolicy(BaseModel):
    """Per-tenant rules of holding, claiming, reclaim and contact pressure (operators edit it over HTTP)."""

    model_config = ConfigDict(extra="forbid")

    holding_cap: int = Field(default=200, ge=1, le=100_000, description="Most leads an agent holds at once.")
    holding_cap_by_grade: dict[AgentGrade, Annotated[int, Field(ge=1, le=100_000)]] = Field(
        default_factory=dict, description="Overrides of holding_cap per agent grade.")
    claim_max_per_request: int = Field(default=50, ge=1, le=1000)
    refresh_quota: int = Field(default=100, ge=0, description="Leads an agent may claim per quota period.")
    refresh_quota_by_grade: dict[AgentGrade, Annotated[int, Field(ge=0)]] = Field(default_factory=dict)
    refresh_period: Literal["day", "week"] = "day"
    reclaim_cooldown_days: float | None = Field(
        default=None, gt=0, description="How long an agent may not claim a lead it dropped; None: never again.")
    reclaim_rules: list[ReclaimRule] = Field(default_factory=lambda: [ReclaimRule()], min_length=1)
    reclaim_warning_hours: float = Field(default=24, ge=0, description="Warn this long before a reclaim.")
    exempt_deals_in_progress: bool = Field(default=True, description="A lead with a deal-in-progress mark its "
                                           "holder's supervisor approved is not reclaimed while the mark lasts.")
    deal_mark_days: float = Field(default=7, gt=0, description="How long an approved deal-in-progress mark "
                                  "lasts; then the reclaim clocks apply again (asking again needs approval again).")
    effective_call_seconds: int = Field(default=60, ge=0, description="A call by the holder this long or longer "
                                        "processes the lead (stops the not-processed clock); shorter ones do not.")
    dial_streak_days: int | None = Field(default=10, ge=2, le=60, description="A lead its holder dialled on this "
                                         "many consecutive days without converting is reclaimed; None: never.")
    contact_max_calls: int = Field(default=6, ge=1, description="More calls than this within contact_window_days "
                                   "(across agents) rest the lead.")
    contact_window_days: float = Field(default=7, gt=0)
    contact_rest_days: float = Field(default=7, gt=0, description="How long a lead rests after too many calls.")
    high_intent_score: int = Field(default=80, ge=0, le=100)
    new_agent_grade: AgentGrade = Field(default="C", description="Grade of an agent until the first weekly grading.")
    ability_window_days: float = Field(default=28, gt=0, le=366, description="The 能力+平均 strategy weighs "
                                       "agents by their conversion (wins / leads received) over this many days.")
    ability_min_leads: int = Field(default=10, ge=1, description="An agent who received fewer leads than this "
                                   "in the window is new: it weighs `ability_floor`.")
    ability_floor: float = Field(default=0.05, gt=0, le=1, description="The weight of a new agent, and the "
                                 "least any agent weighs (a zero conversion would get nothing).")
    buyer_min_purchase_fen: int = Field(default=200_000, ge=0, description="进取池: a person is a buyer (the buyer "
                                        "tier) once confirmed purchases reach this many fen (seed 002: several "
                                        "thousand yuan), not on any purchase.")
    unmask_budget_per_hour: int | None = Field(default=None, ge=0, le=100_000, description="Full phone numbers "
                                               "and names one user may see per hour in this tenant; None: the "
                                               "service's ALLOCATOR_UNMASK_BUDGET_PER_HOUR.")
    # Calls without the number (domain/dialing.py): the tenant's number-privacy provider, and whether it is the
    # only way to call (then no answer shows the tenant's numbers in full).
    number_privacy: PrivacyProviderName = Field(default="none", description="The number-privacy provider an "
                                                "allowed dial binds a middle number with (AXB 隐私号); none: the "
                                                "agent dials the number itself.")
    masked_dialing_only: bool = Field(default=False, description="Calls only through the provider's middle "
                                      "numbers: nobody is shown the tenant's customer numbers in full.")
    privacy_binding_seconds: int = Field(default=300, ge=30, le=3600, description="How long a middle number "
                                         "stays bound to a customer after an allowed dial.")
    personal_data_retention_days: float | None = Field(
        default=None, gt=0, le=36_500, description="Personal data of a lead closed (lost or do-not-call) longer "
        "than this is erased everywhere, as on a person's request (erasure.py); None: kept.")

    @model_validator(mode="after")
    def _has_default_rule(self) -> AllocationPolicy:
        if not any(r.pool_id is None and r.layer is None for r in self.reclaim_rules):
            raise ValueError("reclaim_rules needs a default rule (no pool_id, no layer)")
        if self.masked_dialing_only and self.number_privacy == "none":
            raise ValueError("masked_dialing_only needs a number_privacy provider (simulated or http)")
        return self

    def cap_for(self, grade: str) -> int:
        return self.holding_cap_by_grade.get(grade, self.holding_cap)  # type: ignore[call-overload]

    def quota_for(self, grade: str) -> int:
        return self.refresh_quota_by_grade.get(grade, self.refresh_quota)  # type: ignore[call-overload]

    def reclaim_rule(self, pool_id: str, stage_percent: int) -> ReclaimRule:
        layer = stage_layer(stage_percent)
        fitting = [r for r in self.reclaim_rules if r.pool_id in (None, pool_id) and r.layer in (None, layer)]
        return max(fitting, key=ReclaimRule.specificity)


def is_buyer(purchases_fen: int, policy: AllocationPolicy) -> bool:
    """进取池: bought for at least the tenant's threshold (a small purchase does not make a buyer)."""
    return purchases_fen > 0 and purchases_fen >= policy.buyer_min_purchase_fen


def purchases_in_attributes(attributes: Mapping[str, str] | None) -> int:
    """What lead-intake's attributes say the person bought for, in fen: `purchases_fen`, or `purchased_yuan`
    (a bare "buyer: yes" names no amount, so it counts nothing). 0 when absent or unreadable."""
    values = attributes or {}
    for name, fen_per_unit in (("purchases_fen", 1), ("purchased_yuan", 100)):
        raw = (values.get(name) or "").strip().replace(",", "")
        try:
            amount = Decimal(raw) * fen_per_unit
        except InvalidOperation:
            continue
        if amount.is_finite():
            return max(0, int(amount))
    return 0


def claim_grant(requested: int, *, held: int, cap: int, claimed_this_period: int, quota: int) -> int:
    """How many leads a claim may take: what was asked, within the holding cap and the refresh quota."""
    if requested < 1:
        raise DomainError("invalid_count", "ask for at least one lead")
    if held >= cap:
        raise DomainError("holding_cap_reached", f"the agent holds {held} leads; the cap is {cap}")
    if claimed_this_period >= quota:
        raise DomainError("refresh_quota_used", f"the agent has claimed {claimed_this_period} leads this period; "
                                                f"the quota is {quota}")
    return min(requested, cap - held, quota - claimed_this_period)


def dropped_recently(drops: Sequence[Mapping[str, Any]], dropped_by: Sequence[str], agent_id: str,
                     cooldown_days: float | None, now: datetime) -> bool:
    """Whether the agent may not claim a lead it dropped: never again (no cooldown), or not within the
    cooldown since its last drop of it."""
    if cooldown_days is None:
        return agent_id in dropped_by
    cutoff = now - timedelta(days=cooldown_days)
    return any(d.get("agent_id") == agent_id and d.get("at") is not None and d["at"] > cutoff for d in drops)


def quota_period(now: datetime, period: str, tz: tzinfo) -> tuple[str, datetime]:
    """(key, end) of the refresh-quota period that contains `now` in the tenant's time zone."""
    local = now.astimezone(tz)
    if period == "day":
        start = datetime(local.year, local.month, local.day, tzinfo=tz)
        return local.date().isoformat(), start + timedelta(days=1)
    year, week, weekday = local.isocalendar()
    start = datetime(local.year, local.month, local.day, tzinfo=tz) - timedelta(days=weekday - 1)
    return f"{year}-W{week:02d}", start + timedelta(days=7)


# ---- contact pressure -----------------------------------------------------------------------------------


def contact_pressure(call_times: Sequence[datetime], now: datetime, policy: AllocationPolicy
                     ) -> tuple[list[datetime], datetime | None]:
    """(the calls still inside the window, the time the lead rests until or None). A lead called more
    than `contact_max_calls` times within `contact_window_days`, by any agents, rests."""
    window_start = now - timedelta(days=policy.contact_window_days)
    recent = sorted(t for t in call_times if t >= window_start)
    if len(recent) > policy.contact_max_calls:
        return recent, now + timedelta(days=policy.contact_rest_days)
    return recent, None


# ---- time worked ----------------------------------------------------------------------------------------


def split_by_day(start: datetime, end: datetime, tz: tzinfo) -> dict[str, float]:
    """Seconds between start and end, per local calendar day (a shift over midnight counts on both days)."""
    out: dict[str, float] = {}
    if end <= start:
        return out
    # in UTC: datetimes of one zone subtract as wall-clock times, which is an hour off over a DST change
    cursor = start.astimezone(UTC)
    end_utc = end.astimezone(UTC)
    while cursor < end_utc:
        local = cursor.astimezone(tz)
        next_midnight = (datetime(local.year, local.month, local.day, tzinfo=tz) + timedelta(days=1)).astimezone(UTC)
        stop = min(next_midnight, end_utc)
        day = local.date().isoformat()
        out[day] = out.get(day, 0.0) + (stop - cursor).total_seconds()
        cursor = stop
    return out


def worked_seconds(day: date, *, logged: dict[str, float], status: str | None, status_since: datetime | None,
                   talk: dict[str, float], now: datetime, tz: tzinfo) -> float:
    """Time worked on `day`: time logged in (from status events, including the running session) or, for a
    dialer that sends no status, the talk time of its calls; whichever is larger."""
    key = day.isoformat()
    logged_in = logged.get(key, 0.0)
    if status == "logged_in" and status_since is not None:
        logged_in += split_by_day(status_since, now, tz).get(key, 0.0)
    return max(logged_in, talk.get(key, 0.0))


# ---- stages ---------------------------------------------------------------------------------------------


def funnel_step_after(current: str | None, requested: str) -> str:
    """The funnel step never moves back: a late or repeated event cannot undo progress."""
    order = [step.value for step in FUNNEL_ORDER]
    current_index = order.index(current) if current in order else -1
    return requested if order.index(requested) >= current_index else current  # type: ignore[return-value]


def stage_advanced(old_stage: int, new_stage: int) -> bool:
    """Only moving forward restarts the not-converted clock; corrections backwards do not."""
    return new_stage > old_stage


# ---- privacy --------------------------------------------------------------------------------------------


def may_see_number(viewer: AgentFacts | None, *, holder: str | None, business_line: str) -> bool:
    """Only the holder sees a lead's full number, and supervisors and managers of its business line
    (they assign and coach); everyone else, and anyone browsing a pool, sees it masked."""
    if viewer is None or not viewer.active:
        return False
    if viewer.role in ("supervisor", "manager"):
        return viewer.business_line == business_line
    return holder is not None and viewer.agent_id == holder
