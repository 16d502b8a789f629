"""Push distribution (分配): each lead to a team (the given one, or by the customer's need through the
teams' routes), then to an agent of that team by a strategy (distribution.py decides)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from telesales_contracts.allocation import DistributionStrategy

from .. import distribution
from ..domain import AllocationPolicy, DomainError
from ..domain.agent import Agent
from ..domain.changes import Announcement, MarkHot
from ..domain.lead import POOLED, Lead
from ..store import Doc
from ..store.lead_writes import lead_of
from ..store.roster import agent_of
from .core import LeadServiceCore


@dataclass(frozen=True)
class DistributionOutcome:
    placements: list[dict[str, Any]]
    unplaced: list[dict[str, str]]


def _team_routes(teams: dict[str, Doc]) -> list[distribution.TeamRoute]:
    return [distribution.TeamRoute(team_id=t["team_id"], business_line=t.get("business_line"),
                                   product_interests=frozenset(t.get("product_interests") or ()),
                                   regions=frozenset(t.get("regions") or ()), priority=t.get("priority", 100))
            for t in teams.values()]


class Distributing(LeadServiceCore):
    async def distribute(self, *, tenant: str, lead_ids: Sequence[str], actor: str, team_id: str | None = None,
                         strategy: DistributionStrategy | None = None, target_agent: str | None = None,
                         within_teams: frozenset[str] | None = None) -> DistributionOutcome:
        """Two steps: each lead to a team (the given one, or by the customer's need through the teams'
        routes), then to an agent of that team by the strategy (the given one, or the team's own). With
        `within_teams` (the distributing supervisor's scope) only those teams receive leads."""
        if within_teams is not None and team_id is not None and team_id not in within_teams:
            raise DomainError("outside_your_team", f"team {team_id} is outside the distributor's teams")
        now = datetime.now(UTC)
        policy = await self.policy(tenant)
        leads = {lead_id: lead_of(doc) for lead_id, doc in (await self.store.get_leads(tenant, lead_ids)).items()}
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
                                                            target_agent=target_agent)
            placements += placed
            unplaced += missed
        if placements:
            self.notify_leads()
        return DistributionOutcome(placements, unplaced)

    async def _distribute_in_team(self, tenant: str, team: Doc, leads: list[Lead], policy: AllocationPolicy,
                                  now: datetime, *, actor: str, strategy: DistributionStrategy,
                                  target_agent: str | None) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
        members = [agent_of(a) for a in await self.store.list_agents(tenant, team_id=team["team_id"], role="agent",
                                                                      active=True)]
        by_id = {a.agent_id: a for a in members}
        if strategy == DistributionStrategy.SUPERVISOR and not target_agent:
            raise DomainError("target_agent_required", "the supervisor strategy needs target_agent")
        async with self.guard.agents_locked(tenant, list(by_id)):
            held = await self.store.held_counts(tenant, list(by_id))
            candidates = [distribution.Candidate(agent_id=a.agent_id, open_leads=held[a.agent_id],
                                                 cap=a.holding_cap(policy), ability=a.ability) for a in members]
            to_place = [distribution.LeadToPlace(lead_id=lead.lead_id, score=lead.score,
                                                 previous_holders=frozenset(lead.previous_holders),
                                                 last_holder=lead.last_holder, dedicated_agent=lead.dedicated_agent)
                        for lead in leads]
            result = distribution.distribute(to_place, candidates, strategy, target_agent=target_agent,
                                             round_robin_cursor=team.get("round_robin_cursor"),
                                             ability_share=float(team.get("ability_share", 0.5)))
            leads_by_id = {lead.lead_id: lead for lead in leads}
            placed: list[dict[str, Any]] = []
            missed = [{"lead_id": u.lead_id, "reason": u.reason} for u in result.unplaced]
            for placement in result.placements:
                done = await self.assign(tenant=tenant, lead=leads_by_id[placement.lead_id],
                                         agent=by_id[placement.agent_id], policy=policy, now=now,
                                         strategy=placement.strategy, assigned_by=actor)
                if done:
                    placed.append({"lead_id": placement.lead_id, "agent_id": placement.agent_id,
                                   "team_id": team["team_id"], "strategy": placement.strategy.value})
                else:
                    missed.append({"lead_id": placement.lead_id, "reason": "taken_meanwhile"})
            if strategy == DistributionStrategy.ROUND_ROBIN:
                await self.store.set_round_robin_cursor(tenant, team["team_id"], result.round_robin_cursor)
        return placed, missed

    async def assign(self, *, tenant: str, lead: Lead, agent: Agent, policy: AllocationPolicy, now: datetime,
                     strategy: DistributionStrategy, assigned_by: str, from_statuses: Sequence[str] = (POOLED,),
                     extra_events: Sequence[Announcement] = (), also: MarkHot | None = None) -> Doc | None:
        """Give `lead` to the agent if it is still in one of `from_statuses` (the caller holds the agent's
        lock and checked the cap), with `also` in the same write. The lead after the change, or None if
        someone else got it first."""
        decision = lead.assign(agent.facts(policy), strategy=strategy, assigned_by=assigned_by, at=now,
                               from_statuses=from_statuses, also=also, extra_events=extra_events)
        return await self.store.commit_if(lead, decision.change, self.embedded(tenant, lead.lead_id, decision.events),
                                          now)
