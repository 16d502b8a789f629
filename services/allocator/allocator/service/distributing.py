"""Push distribution (分配): each lead to a team (the given one, or by the customer's need through the
teams' routes), then to an agent of that team by a strategy (distribution.py decides)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from telesales_contracts.allocation import DistributionStrategy

from .. import distribution
from ..domain import AllocationPolicy, DomainError, PooledLeadFacts, Tier
from ..domain.agent import Agent
from ..domain.changes import Announcement, MarkHot
from ..domain.lead import POOLED, Lead
from ..domain.pushing import (
    AbilityWeight,
    ability_weights,
    grade_opens,
    tiers_of_lead,
    why_not_to,
    why_not_working,
)
from ..store import Alongside, Doc
from ..store.lead_writes import lead_of
from ..store.roster import agent_of
from .core import LeadServiceCore


@dataclass(frozen=True)
class DistributionOutcome:
    placements: list[dict[str, Any]]
    unplaced: list[dict[str, str]]


def _original_team(lead: Lead, chosen: str | None, teams: Mapping[str, Doc],
                   strategy: DistributionStrategy | None) -> str | None:
    """Strategy 7: a reclaimed lead goes back to the team it was reclaimed from, whatever else was chosen
    (`unknown_team` when that team is gone or outside the distributor's teams)."""
    effective = strategy or (teams[chosen].get("strategy") if chosen in teams else None)
    if effective == DistributionStrategy.SAME_AGENT and lead.last_reclaimed and lead.last_team:
        return lead.last_team
    return chosen


def _barred(lead: Lead, members: Sequence[Agent], policy: AllocationPolicy, rules: PushRules) -> frozenset[str]:
    """The agents who may not get `lead`: those whose grade no tier of the lead opens for and, for pushes
    nobody asked for, those who dropped it (a supervisor may hand a lead back on purpose)."""
    lead_tiers = tiers_of_lead(rules.tiers, rules.facts[lead.lead_id], lead.pool_id)
    closed = {a.agent_id for a in members if not grade_opens(a, lead_tiers, policy)}
    return frozenset(closed) | (frozenset(lead.dropped_by) if rules.unasked else frozenset())


def _refused_to_target(leads: list[Lead], in_team: Sequence[Agent], target_agent: str | None,
                       policy: AllocationPolicy, push: PushRules) -> tuple[list[Lead], list[dict[str, str]]]:
    """A supervisor's distribution to a named agent of the team: the leads it may not get (not at work,
    inactive, or a grade none of the lead's tiers opens for), each with its reason, apart from the rest."""
    target = next((a for a in in_team if a.agent_id == target_agent), None)
    if target is None:  # not of the team: distribution.py says `target_not_in_team`
        return leads, []
    keep, refused = [], []
    for lead in leads:
        why = why_not_to(target, tiers_of_lead(push.tiers, push.facts[lead.lead_id], lead.pool_id), policy)
        if why is None:
            keep.append(lead)
        else:
            refused.append({"lead_id": lead.lead_id, "reason": why})
    return keep, refused


def _team_routes(teams: dict[str, Doc]) -> list[distribution.TeamRoute]:
    return [distribution.TeamRoute(team_id=t["team_id"], business_line=t.get("business_line"),
                                   product_interests=frozenset(t.get("product_interests") or ()),
                                   regions=frozenset(t.get("regions") or ()), priority=t.get("priority", 100))
            for t in teams.values()]


@dataclass(frozen=True)
class PushRules:
    """What every distribution respects besides caps and contact pressure: only agents at work, and only
    grades the lead's tiers open for (`facts`: each lead's tier facts; `tiers`: the tenant's). `unasked`: a
    push nobody made (on arrival), which also never goes to an agent who dropped the lead."""

    tiers: Sequence[Tier]
    facts: Mapping[str, PooledLeadFacts]
    unasked: bool = False


def pooled_facts(doc: Doc) -> PooledLeadFacts:
    return PooledLeadFacts(score=doc.get("score", 0), call_count=doc.get("call_count", 0),
                           drop_count=doc.get("drop_count", 0), buyer=bool(doc.get("buyer")))


class Distributing(LeadServiceCore):
    async def distribute(self, *, tenant: str, lead_ids: Sequence[str], actor: str, team_id: str | None = None,
                         strategy: DistributionStrategy | None = None, target_agent: str | None = None,
                         within_teams: frozenset[str] | None = None, unasked: bool = False
                         ) -> DistributionOutcome:
        """Two steps: each lead to a team (the given one, or by the customer's need through the teams'
        routes; strategy 7 sends a reclaimed lead to the team it was reclaimed from), then to an agent of that
        team by the strategy (the given one, or the team's own). With `within_teams` (the distributing
        supervisor's scope) only those teams receive leads. Every distribution, a supervisor's too, goes only
        to agents at work whose grade opens the lead (a named target who is not gets the lead refused with
        the reason); `unasked` (a push on arrival) also spares the agents who dropped a lead."""
        if within_teams is not None and team_id is not None and team_id not in within_teams:
            raise DomainError("outside_your_team", f"team {team_id} is outside the distributor's teams")
        now = datetime.now(UTC)
        policy = await self.policy(tenant)
        docs = await self.store.get_leads(tenant, lead_ids)
        leads = {lead_id: lead_of(doc) for lead_id, doc in docs.items()}
        push = PushRules(tiers=await self.tiers(tenant), facts={i: pooled_facts(d) for i, d in docs.items()},
                         unasked=unasked)
        unplaced: list[dict[str, str]] = []
        by_team: dict[str, list[Lead]] = defaultdict(list)
        teams = {t["team_id"]: t for t in await self.store.list_teams(tenant)
                 if within_teams is None or t["team_id"] in within_teams}
        routes = _team_routes(teams)
        for lead_id in dict.fromkeys(lead_ids):
            lead = leads.get(lead_id)
            why_not = "unknown_lead" if lead is None else lead.why_not_placeable(now)
            if lead is None or why_not is not None:
                unplaced.append({"lead_id": lead_id, "reason": why_not or "unknown_lead"})
                continue
            chosen = team_id or distribution.choose_team(routes, business_line=lead.business_line,
                                                         product_interest=lead.product_interest, region=lead.region)
            chosen = _original_team(lead, chosen, teams, strategy)
            if chosen is None or chosen not in teams:
                unplaced.append({"lead_id": lead_id, "reason": "no_team" if chosen is None else "unknown_team"})
                continue
            by_team[chosen].append(lead)
        placements: list[dict[str, Any]] = []
        for chosen, team_leads in by_team.items():
            team = teams[chosen]
            placed, missed = await self._distribute_in_team(tenant, team, team_leads, policy, now, actor=actor,
                                                            strategy=strategy or DistributionStrategy(
                                                                team.get("strategy", "even_by_open")),
                                                            target_agent=target_agent, push=push)
            placements += placed
            unplaced += missed
        if placements:
            self.notify_leads()
        return DistributionOutcome(placements, unplaced)

    async def ability_weights(self, *, tenant: str, agent_ids: Sequence[str]) -> list[AbilityWeight]:
        """The measured weights of 能力+平均: conversion over the policy's window, with the floor."""
        policy = await self.policy(tenant)
        since = datetime.now(UTC) - timedelta(days=policy.ability_window_days)
        results = await self.store.conversions(tenant, agent_ids, since) if agent_ids else {}
        return ability_weights(agent_ids, results, policy)

    async def team_ability_weights(self, *, tenant: str, team_id: str) -> list[AbilityWeight]:
        members = await self.store.list_agents(tenant, team_id=team_id, role="agent", active=True)
        return await self.ability_weights(tenant=tenant, agent_ids=[m["agent_id"] for m in members])

    async def _candidates(self, tenant: str, members: Sequence[Agent], policy: AllocationPolicy,
                          strategy: DistributionStrategy) -> list[distribution.Candidate]:
        held = await self.store.held_counts(tenant, [a.agent_id for a in members])
        weights: dict[str, float] = {}
        if strategy == DistributionStrategy.ABILITY_WEIGHTED:
            weights = {w.agent_id: w.weight for w in await self.ability_weights(
                tenant=tenant, agent_ids=[a.agent_id for a in members])}
        return [distribution.Candidate(agent_id=a.agent_id, open_leads=held[a.agent_id], cap=a.holding_cap(policy),
                                       ability=weights.get(a.agent_id, 1.0)) for a in members]

    async def _distribute_in_team(self, tenant: str, team: Doc, leads: list[Lead], policy: AllocationPolicy,
                                  now: datetime, *, actor: str, strategy: DistributionStrategy,
                                  target_agent: str | None, push: PushRules
                                  ) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
        if strategy == DistributionStrategy.SUPERVISOR and not target_agent:
            raise DomainError("target_agent_required", "the supervisor strategy needs target_agent")
        in_team = [agent_of(a) for a in await self.store.list_agents(tenant, team_id=team["team_id"], role="agent")]
        refused: list[dict[str, str]] = []
        if strategy == DistributionStrategy.SUPERVISOR:
            leads, refused = _refused_to_target(leads, in_team, target_agent, policy, push)
        members = [a for a in in_team if why_not_working(a) is None]
        by_id = {a.agent_id: a for a in members}
        async with self.guard.agents_locked(tenant, list(by_id)):
            candidates = await self._candidates(tenant, members, policy, strategy)
            to_place = [distribution.LeadToPlace(lead_id=lead.lead_id, score=lead.score,
                                                 previous_holders=frozenset(lead.previous_holders),
                                                 last_holder=lead.last_holder, dedicated_agent=lead.dedicated_agent,
                                                 excluded=_barred(lead, members, policy, push),
                                                 reclaimed=lead.last_reclaimed)
                        for lead in leads]
            result = distribution.distribute(to_place, candidates, strategy, target_agent=target_agent,
                                             round_robin_cursor=team.get("round_robin_cursor"),
                                             ability_share=float(team.get("ability_share", 0.5)))
            placed, missed = await self._write_placements(tenant, team, leads, by_id, result, policy, now, actor)
            if strategy == DistributionStrategy.ROUND_ROBIN:
                await self.store.set_round_robin_cursor(tenant, team["team_id"], result.round_robin_cursor)
        return placed, refused + missed

    async def _write_placements(self, tenant: str, team: Doc, leads: list[Lead], by_id: Mapping[str, Agent],
                                result: distribution.DistributionResult, policy: AllocationPolicy, now: datetime,
                                actor: str) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
        leads_by_id = {lead.lead_id: lead for lead in leads}
        missed = [{"lead_id": u.lead_id, "reason": u.reason} for u in result.unplaced]
        writes = []
        for placement in result.placements:
            lead = leads_by_id[placement.lead_id]
            decision = lead.assign(by_id[placement.agent_id].facts(policy), strategy=placement.strategy,
                                   assigned_by=actor, at=now, from_statuses=(POOLED,))
            writes.append((lead, decision.change, self.embedded(tenant, lead.lead_id, decision.events)))
        # One conditional bulk write for the whole distribution (a round trip per lead was the arrival's
        # bottleneck); each update still applies only to a lead still pooled. When some did not, the
        # holders say which were taken meanwhile.
        matched = await self.store.commit(writes, now) if writes else 0
        holders = ({} if matched == len(writes) else
                   await self.store.holders_of(tenant, [p.lead_id for p in result.placements]))
        placed: list[dict[str, Any]] = []
        for placement in result.placements:
            if matched == len(writes) or holders.get(placement.lead_id) == placement.agent_id:
                placed.append({"lead_id": placement.lead_id, "agent_id": placement.agent_id,
                               "team_id": team["team_id"], "strategy": placement.strategy.value})
            else:
                missed.append({"lead_id": placement.lead_id, "reason": "taken_meanwhile"})
        return placed, missed

    async def assign(self, *, tenant: str, lead: Lead, agent: Agent, policy: AllocationPolicy, now: datetime,
                     strategy: DistributionStrategy, assigned_by: str, from_statuses: Sequence[str] = (POOLED,),
                     extra_events: Sequence[Announcement] = (), also: MarkHot | None = None,
                     alongside: Alongside | None = None) -> Doc | None:
        """Give `lead` to the agent if it is still in one of `from_statuses` (the caller holds the agent's
        lock and checked the cap), with `also` in the same write and `alongside` in the same transaction
        (AlongsideChanged: it no longer held, nothing written). The lead after the change, or None if
        someone else got it first."""
        decision = lead.assign(agent.facts(policy), strategy=strategy, assigned_by=assigned_by, at=now,
                               from_statuses=from_statuses, also=also, extra_events=extra_events)
        return await self.store.commit_if(lead, decision.change, self.embedded(tenant, lead.lead_id, decision.events),
                                          now, alongside=alongside)
