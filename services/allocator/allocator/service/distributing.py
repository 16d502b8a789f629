"""Push distribution (分配): each lead to a team (the given one, or by the customer's need through the
teams' routes), then to an agent of that team by a strategy (distribution.py decides)."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import Histogram

from telesales_contracts.allocation import DistributionStrategy

from .. import distribution
from ..domain import AllocationPolicy, DomainError, PooledLeadFacts, Tier
from ..domain.agent import Agent
from ..domain.changes import Announcement, LeadChange, MarkHot
from ..domain.lead import POOLED, Lead
from ..domain.pushing import (
    AbilityWeight,
    ability_weights,
    tiers_of_lead,
    why_not_to,
    why_not_working,
)
from ..store import Alongside, Doc
from ..store.lead_writes import lead_of
from ..store.roster import agent_of
from .core import LeadServiceCore

LOCKS_HELD = Histogram("allocator_push_locks_held_seconds",
                       "How long a distribution holds its agents' locks: the held counts read, the placing and the "
                       "conditional bulk write of placements and cursors (a claim by one of them waits meanwhile).",
                       buckets=(0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0))


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


def members_by_grade(members: Sequence[Agent], policy: AllocationPolicy) -> dict[str, frozenset[str]]:
    """The members' ids by their grade under the policy (what tiers open for), worked out once per team."""
    by_grade: dict[str, set[str]] = defaultdict(set)
    for agent in members:
        by_grade[agent.grade_under(policy)].add(agent.agent_id)
    return {grade: frozenset(ids) for grade, ids in by_grade.items()}


def _barred(lead: Lead, by_grade: Mapping[str, frozenset[str]], rules: PushRules) -> frozenset[str]:
    """The agents who may not get `lead`: those whose grade no tier of the lead opens for (a lead in no tier
    opens for all, as `grade_opens` says) and, for pushes nobody asked for, those who dropped it (a supervisor
    may hand a lead back on purpose). Per grade, not per agent: a push weighs every lead against every member."""
    lead_tiers = tiers_of_lead(rules.tiers, rules.facts[lead.lead_id], lead.pool_id)
    closed: frozenset[str] = frozenset()
    if lead_tiers:
        opened = {grade for tier in lead_tiers for grade in tier.grades}
        closed = frozenset().union(*(ids for grade, ids in by_grade.items() if grade not in opened))
    return closed | (frozenset(lead.dropped_by) if rules.unasked else frozenset())


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


@dataclass
class TeamJob:
    """The leads going to one team by one strategy, within a distribution of one or more teams."""

    team: Doc
    leads: list[Lead]
    strategy: DistributionStrategy


@dataclass(frozen=True)
class PreparedJob:
    """A team job with all that needs no lock worked out before the locks are taken: the leads left (a
    supervisor's refused ones apart), the members at work, their measured weights (能力+平均) and each lead's
    barred agents. Only the held counts, read under the locks, are missing to place it."""

    job: TeamJob
    leads: list[Lead]
    members: list[Agent]
    weights: dict[str, float]
    to_place: list[distribution.LeadToPlace]


def _to_teams(lead_ids: Sequence[str], leads: Mapping[str, Lead], teams: Mapping[str, Doc], now: datetime, *,
              team_id: str | None, strategy: DistributionStrategy | None
              ) -> tuple[dict[str, list[Lead]], list[dict[str, str]]]:
    """Each placeable lead to its team (the given one, or by the customer's need through the teams' routes;
    strategy 7 sends a reclaimed lead to the team it was reclaimed from); the others unplaced, with why."""
    routes = [] if team_id else _team_routes(teams)
    unplaced: list[dict[str, str]] = []
    by_team: dict[str, list[Lead]] = defaultdict(list)
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
    return by_team, unplaced


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
        return await self.distribute_groups(tenant=tenant, groups={(team_id, strategy): lead_ids}, actor=actor,
                                            target_agent=target_agent, within_teams=within_teams, unasked=unasked)

    async def distribute_groups(self, *, tenant: str,
                                groups: Mapping[tuple[str | None, DistributionStrategy | None], Sequence[str]],
                                actor: str, target_agent: str | None = None,
                                within_teams: frozenset[str] | None = None, unasked: bool = False,
                                docs: Mapping[str, Doc] | None = None) -> DistributionOutcome:
        """`distribute` of several groups of leads at once, each with its team and strategy (as `distribute`
        takes them): the pushes of a consumer batch to many teams read, lock and write together, in a fixed
        number of round trips, the reads that need no lock at the same time. `docs`: the leads as the caller
        has just read them from the store (else read here). Raises (agent_busy, ...) before anything is
        written."""
        now = datetime.now(UTC)
        all_ids = list(dict.fromkeys(i for ids in groups.values() for i in ids))
        read_docs, policy, tiers, listed_teams, rosters = await asyncio.gather(
            self._leads_unless_given(tenant, all_ids, docs), self.policy(tenant), self.tiers(tenant),
            self.store.list_teams(tenant), self._rosters_if_named(tenant, {team_id for team_id, _ in groups}))
        leads = {lead_id: lead_of(doc) for lead_id, doc in read_docs.items()}
        push = PushRules(tiers=tiers, facts={i: pooled_facts(d) for i, d in read_docs.items()}, unasked=unasked)
        teams = {t["team_id"]: t for t in listed_teams if within_teams is None or t["team_id"] in within_teams}
        unplaced: list[dict[str, str]] = []
        jobs: dict[tuple[str, DistributionStrategy], TeamJob] = {}
        for (team_id, strategy), lead_ids in groups.items():
            by_team, missed = _to_teams(lead_ids, leads, teams, now, team_id=team_id, strategy=strategy)
            unplaced += missed
            for chosen, team_leads in by_team.items():
                effective = strategy or DistributionStrategy(teams[chosen].get("strategy", "even_by_open"))
                jobs.setdefault((chosen, effective), TeamJob(teams[chosen], [], effective)).leads.extend(team_leads)
        placements, missed = await self._distribute_in_teams(tenant, list(jobs.values()), policy, now, actor=actor,
                                                             target_agent=target_agent, push=push, rosters=rosters)
        if placements:
            self.notify_leads()
        return DistributionOutcome(placements, unplaced + missed)

    async def _leads_unless_given(self, tenant: str, lead_ids: list[str], docs: Mapping[str, Doc] | None
                                  ) -> Mapping[str, Doc]:
        if docs is not None and all(i in docs for i in lead_ids):
            return {i: docs[i] for i in lead_ids}
        return await self.store.get_leads(tenant, lead_ids)

    async def _rosters_if_named(self, tenant: str, team_ids: set[str | None]) -> dict[str, list[Doc]] | None:
        """The rosters of the groups' teams, read with the leads when every group names its team (a push on
        arrival); None when some group's team comes from the leads (read once those are known)."""
        if None in team_ids or not team_ids:
            return None
        return await self.store.agents_of_teams(tenant, {t for t in team_ids if t is not None}, role="agent")

    async def ability_weights(self, *, tenant: str, agent_ids: Sequence[str]) -> list[AbilityWeight]:
        """The measured weights of 能力+平均: conversion over the policy's window, with the floor."""
        policy = await self.policy(tenant)
        since = datetime.now(UTC) - timedelta(days=policy.ability_window_days)
        results = await self.store.conversions(tenant, agent_ids, since) if agent_ids else {}
        return ability_weights(agent_ids, results, policy)

    async def team_ability_weights(self, *, tenant: str, team_id: str) -> list[AbilityWeight]:
        members = await self.store.list_agents(tenant, team_id=team_id, role="agent", active=True)
        return await self.ability_weights(tenant=tenant, agent_ids=[m["agent_id"] for m in members])

    async def _prepare(self, tenant: str, jobs: Sequence[TeamJob], in_team: Mapping[str, list[Agent]],
                       members: Mapping[str, list[Agent]], policy: AllocationPolicy, target_agent: str | None,
                       push: PushRules) -> tuple[list[PreparedJob], list[dict[str, str]]]:
        """What each job needs besides the held counts, worked out before any lock is taken."""
        prepared: list[PreparedJob] = []
        refused: list[dict[str, str]] = []
        for job in jobs:
            team_id, leads, at_work = job.team["team_id"], job.leads, members[job.team["team_id"]]
            if job.strategy == DistributionStrategy.SUPERVISOR:
                leads, refusals = _refused_to_target(leads, in_team[team_id], target_agent, policy, push)
                refused += refusals
            weights: dict[str, float] = {}
            if job.strategy == DistributionStrategy.ABILITY_WEIGHTED:
                weights = {w.agent_id: w.weight for w in await self.ability_weights(
                    tenant=tenant, agent_ids=[a.agent_id for a in at_work])}
            by_grade = members_by_grade(at_work, policy)
            to_place = [distribution.LeadToPlace(lead_id=lead.lead_id, score=lead.score,
                                                 previous_holders=frozenset(lead.previous_holders),
                                                 last_holder=lead.last_holder, dedicated_agent=lead.dedicated_agent,
                                                 excluded=_barred(lead, by_grade, push), reclaimed=lead.last_reclaimed)
                        for lead in leads]
            prepared.append(PreparedJob(job, leads, at_work, weights, to_place))
        return prepared, refused

    async def _distribute_in_teams(self, tenant: str, jobs: Sequence[TeamJob], policy: AllocationPolicy,
                                   now: datetime, *, actor: str, target_agent: str | None, push: PushRules,
                                   rosters: Mapping[str, list[Doc]] | None = None
                                   ) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
        """Place each job's leads with agents of its team: the rosters (read here unless given), grades,
        weights and bars worked out first; then every member at work locked, and under the locks only what
        must be exact: the held counts read once for all the teams, the placing, one conditional bulk write
        of every placement and one of the round-robin cursors."""
        if not jobs:
            return [], []
        if not target_agent and any(job.strategy == DistributionStrategy.SUPERVISOR for job in jobs):
            raise DomainError("target_agent_required", "the supervisor strategy needs target_agent")
        team_ids = {job.team["team_id"] for job in jobs}
        if rosters is None or not team_ids <= rosters.keys():
            rosters = await self.store.agents_of_teams(tenant, team_ids, role="agent")
        in_team = {team_id: [agent_of(a) for a in rosters[team_id]] for team_id in team_ids}
        members = {team_id: [a for a in agents if why_not_working(a) is None] for team_id, agents in in_team.items()}
        by_id = {a.agent_id: a for agents in members.values() for a in agents}
        prepared, refused = await self._prepare(tenant, jobs, in_team, members, policy, target_agent, push)
        async with self.guard.agents_locked(tenant, list(by_id)):
            held_from = time.perf_counter()
            try:
                placed, missed = await self._place_locked(tenant, prepared, by_id, policy, now, actor=actor,
                                                          target_agent=target_agent)
            finally:
                LOCKS_HELD.observe(time.perf_counter() - held_from)
        return placed, refused + missed

    async def _place_locked(self, tenant: str, prepared: Sequence[PreparedJob], by_id: Mapping[str, Agent],
                            policy: AllocationPolicy, now: datetime, *, actor: str, target_agent: str | None
                            ) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
        """The critical section (the caller holds every member's lock): held counts → placing → the writes."""
        held = dict(await self.store.held_counts(tenant, list(by_id))) if by_id else {}
        writes, chosen, cursors, refused = [], [], {}, []
        for each in prepared:
            job, team_id = each.job, each.job.team["team_id"]
            candidates = [distribution.Candidate(agent_id=a.agent_id, open_leads=held[a.agent_id],
                                                 cap=a.holding_cap(policy), ability=each.weights.get(a.agent_id, 1.0))
                          for a in each.members]
            result = distribution.distribute(each.to_place, candidates, job.strategy, target_agent=target_agent,
                                             round_robin_cursor=job.team.get("round_robin_cursor"),
                                             ability_share=float(job.team.get("ability_share", 0.5)))
            refused += [{"lead_id": u.lead_id, "reason": u.reason} for u in result.unplaced]
            for placement in result.placements:  # the next job of the same team counts these as held
                held[placement.agent_id] += 1
            if job.strategy == DistributionStrategy.ROUND_ROBIN:  # the next job of the team goes on from it
                job.team["round_robin_cursor"] = cursors[team_id] = result.round_robin_cursor
            writes += self._placement_writes(tenant, each.leads, by_id, result, policy, now, actor)
            chosen += [(p, team_id) for p in result.placements]
        placed, missed = await self._write_placements(tenant, writes, chosen, now, cursors)
        return placed, refused + missed

    def _placement_writes(self, tenant: str, leads: list[Lead], by_id: Mapping[str, Agent],
                          result: distribution.DistributionResult, policy: AllocationPolicy, now: datetime,
                          actor: str) -> list[tuple[Lead, LeadChange, list[Doc]]]:
        leads_by_id = {lead.lead_id: lead for lead in leads}
        writes = []
        for placement in result.placements:
            lead = leads_by_id[placement.lead_id]
            decision = lead.assign(by_id[placement.agent_id].facts(policy), strategy=placement.strategy,
                                   assigned_by=actor, at=now, from_statuses=(POOLED,))
            writes.append((lead, decision.change, self.embedded(tenant, lead.lead_id, decision.events)))
        return writes

    async def _commit_count(self, writes: list[tuple[Lead, LeadChange, list[Doc]]], now: datetime) -> int:
        return await self.store.commit(writes, now) if writes else 0

    async def _write_placements(self, tenant: str, writes: list[tuple[Lead, LeadChange, list[Doc]]],
                                chosen: list[tuple[distribution.Placement, str]], now: datetime,
                                cursors: dict[str, str | None]) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
        # One conditional bulk write for the whole distribution, every team of it (a round trip per lead,
        # then per team, was the arrival's bottleneck); each update still applies only to a lead still
        # pooled. When some did not, the holders say which were taken meanwhile.
        # The cursors go in the same moment (another round trip, not after it): both are under the locks.
        matched, _ = await asyncio.gather(self._commit_count(writes, now),
                                          self.store.set_round_robin_cursors(tenant, cursors))
        holders = ({} if matched == len(writes) else
                   await self.store.holders_of(tenant, [p.lead_id for p, _team in chosen]))
        placed: list[dict[str, Any]] = []
        missed: list[dict[str, str]] = []
        for placement, team_id in chosen:
            if matched == len(writes) or holders.get(placement.lead_id) == placement.agent_id:
                placed.append({"lead_id": placement.lead_id, "agent_id": placement.agent_id,
                               "team_id": team_id, "strategy": placement.strategy.value})
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
