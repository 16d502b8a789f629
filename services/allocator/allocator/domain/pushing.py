"""Who may be pushed a lead without asking for it (distribution on arrival, 轮询申领), and how much the
能力+平均 strategy weighs each agent. Pure, no I/O.

A push reaches an agent at work: active, an agent (not a supervisor), logged in now (an agent on a break or
logged out gets nothing), and, when the lead falls in tiers of the tiered pools, of a grade one of those
tiers opens for (the grade rule of claims holds for pushes too). Caps are counted by the distribution
itself; a resting lead is not placeable at all (`Lead.why_not_placeable`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from . import AllocationPolicy, PooledLeadFacts, Tier
from .agent import Agent

WORKING = "logged_in"


def tiers_of_lead(tiers: Sequence[Tier], lead: PooledLeadFacts, pool_id: str) -> list[Tier]:
    """The tiers a pooled lead shows in: the filter matches, and the tier draws from its pool (a tier
    without pools draws from the pools of its agents' line, the lead's among them)."""
    return [t for t in tiers if t.filter.matches(lead) and (not t.pool_ids or pool_id in t.pool_ids)]


def why_not_working(agent: Agent) -> str | None:
    """Why `agent` may not be pushed anything now (None: it may)."""
    if not agent.active:
        return "inactive"
    if agent.role != "agent":
        return "not_an_agent"
    if agent.status != WORKING:
        return f"not_working ({agent.status or 'never logged in'})"
    return None


def why_application_refused(agent: Agent) -> str | None:
    """Why an agent's application (轮询申领) may not be served now (None: it may): it left or is no agent,
    or the dialer reports it away (`not_working (on_break)`, `(logged_out)`). Unlike a push nobody asked
    for, an agent the dialer never reported counts as at work: applying is the act of being at work."""
    if not agent.active:
        return "agent_inactive"
    if agent.role != "agent":
        return "not_an_agent"
    if agent.status is not None and agent.status != WORKING:
        return f"not_working ({agent.status})"
    return None


def grade_opens(agent: Agent, lead_tiers: Sequence[Tier], policy: AllocationPolicy) -> bool:
    """Whether the agent's grade opens the lead: one of its tiers opens for it; a lead in no tier opens for all."""
    return not lead_tiers or any(agent.grade_under(policy) in t.grades for t in lead_tiers)


def why_not_to(agent: Agent, lead_tiers: Sequence[Tier], policy: AllocationPolicy) -> str | None:
    """Why a lead showing in `lead_tiers` may not be pushed to `agent` (None: it may), as the per-lead
    reason a supervisor's distribution to a named agent answers: the agent is not at work
    (`why_not_working`), or its grade opens none of the lead's tiers (`grade_closed (<grade>)`)."""
    working = why_not_working(agent)
    if working is not None:
        return working
    if not grade_opens(agent, lead_tiers, policy):
        return f"grade_closed ({agent.grade_under(policy)})"
    return None


def tiers_of_pool(tiers: Sequence[Tier], pool_id: str) -> list[Tier]:
    """The tiers that may show a lead of `pool_id` (those naming it, and those naming no pool)."""
    return [t for t in tiers if not t.pool_ids or pool_id in t.pool_ids]


def grade_filter(tiers: Sequence[Tier], pool_id: str, grade: str) -> tuple[list[Tier], list[Tier]] | None:
    """What a lead of `pool_id` must be for `grade` to open it, as (opening, all): in one of the `opening`
    tiers, or in none of `all` (the pool's tiers); None when every lead of the pool opens for the grade."""
    of_pool = tiers_of_pool(tiers, pool_id)
    opening = [t for t in of_pool if grade in t.grades]
    if len(opening) == len(of_pool):
        return None
    return opening, of_pool


@dataclass(frozen=True, slots=True)
class AbilityWeight:
    """An agent's measured weight for 能力+平均: its conversion over the window, or the floor."""

    agent_id: str
    received: int  # leads it received (claimed or was pushed) in the window
    won: int  # of those, the ones it won
    conversion: float | None  # won / received; None without leads
    weight: float
    floor_applied: bool  # new (fewer than `ability_min_leads` received) or converting below the floor


def ability_weights(agent_ids: Sequence[str], results: Mapping[str, tuple[int, int]],
                    policy: AllocationPolicy) -> list[AbilityWeight]:
    """Each agent's weight from `results` (agent -> (received, won) in the window): its conversion, at least
    `ability_floor`; an agent with fewer than `ability_min_leads` received is new and weighs the floor."""
    out = []
    for agent_id in sorted(agent_ids):
        received, won = results.get(agent_id, (0, 0))
        conversion = won / received if received else None
        measured = conversion if received >= policy.ability_min_leads and conversion is not None else None
        weight = policy.ability_floor if measured is None else max(measured, policy.ability_floor)
        out.append(AbilityWeight(agent_id=agent_id, received=received, won=won, conversion=conversion,
                                 weight=weight, floor_applied=measured is None or measured < policy.ability_floor))
    return out
