"""The service layer of leads: takes validated events and requests, asks the domain, persists and
announces. Decisions live in domain.py and distribution.py, storage in store.py, Redis in guards.py.

Every change of a lead's holder is one conditional single-document update that also appends the event
announcing it to the lead's embedded outbox; the relay publishes it afterwards."""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel

from telesales_contracts import Topic
from telesales_contracts.activity import LeadStageChanged
from telesales_contracts.allocation import (
    DistributionStrategy,
    HotLead,
    LeadAssigned,
    LeadClosed,
    LeadReclaimed,
    LeadReturned,
    LeadWon,
    ReclaimWarning,
)
from telesales_contracts.leads import LeadOutcome
from telesales_contracts.topics import (
    ALLOCATION_ASSIGNED,
    ALLOCATION_CLOSED,
    ALLOCATION_HOT_LEAD,
    ALLOCATION_RECLAIM_WARNING,
    ALLOCATION_RECLAIMED,
    ALLOCATION_RETURNED,
    ALLOCATION_WON,
    LEADS_OUTCOME,
    LEADS_STAGE_CHANGED,
)
from telesales_runtime.cache import TtlCache
from telesales_runtime.consumer import Delivery
from telesales_runtime.deadletter import DeadLetterPublisher
from telesales_runtime.observability import MESSAGES_CONSUMED
from telesales_runtime.outbox import embedded_event

from . import distribution, domain, history, reclaim_clock
from .claims import ClaimDispenser, hold_fields
from .domain import AgentFacts, AllocationPolicy, DomainError, RoutingRule, Tier
from .guards import ClaimGuard
from .lead_updates import calls_update, release_fields, signal_fields, stage_update
from .settings import AllocatorSettings
from .store import CLOSED, DO_NOT_CALL, HELD, LEAN_LEAD, POOLED, WON, AllocatorStore, Doc

log = logging.getLogger(__name__)

TRUE_WORDS = {"1", "true", "yes", "y", "是", "有"}


def _literal(value: Any) -> Any:
    # Values written by an update pipeline: a string starting with "$" would be read as a field path.
    return {"$literal": value}


def agent_facts(doc: Doc, policy: AllocationPolicy) -> AgentFacts:
    return AgentFacts(agent_id=doc["agent_id"], active=bool(doc.get("active", True)), role=doc.get("role", "agent"),
                      grade=doc.get("grade") or policy.new_agent_grade, business_line=doc.get("business_line", "default"),
                      team_id=doc.get("team_id"))


@dataclass(frozen=True)
class ClaimResult:
    leads: list[Doc]
    requested: int
    granted: int
    held_after: int
    cap: int
    quota_left: int


@dataclass(frozen=True)
class DistributionOutcome:
    placements: list[dict[str, Any]]
    unplaced: list[dict[str, str]]


class LeadService:
    def __init__(self, settings: AllocatorSettings, store: AllocatorStore, guard: ClaimGuard,
                 dead_letters: DeadLetterPublisher, notify_leads: Callable[[], None],
                 notify_outbox: Callable[[], None]) -> None:
        self.settings = settings
        self.store = store
        self.guard = guard
        self.dead_letters = dead_letters
        self.notify_leads = notify_leads
        self.notify_outbox = notify_outbox
        self.tz = settings.tz
        self._config = TtlCache(settings.config_cache_seconds)
        self._agents = TtlCache(settings.agent_cache_seconds)
        self.claims = ClaimDispenser(store, settings.source)

    # ---- configuration (cached) ----------------------------------------------------------------------

    async def policy(self, tenant: str) -> AllocationPolicy:
        return await self._cached(("policy", tenant), lambda: self.store.policy(tenant))

    async def tiers(self, tenant: str) -> list[Tier]:
        return await self._cached(("tiers", tenant), lambda: self.store.tiers(tenant))

    async def routing(self, tenant: str) -> list[RoutingRule]:
        return await self._cached(("routing", tenant), lambda: self.store.routing(tenant))

    async def _cached(self, key: tuple[str, str], load: Callable[[], Any]) -> Any:
        value = self._config.get(key)
        if value is None:
            value, _version = await load()
            self._config.put(key, value)
        return value

    async def put_config(self, *, tenant: str, kind: str, value: Any, expected_version: int | None) -> int | None:
        """Store a configuration (only if still at `expected_version`, when given); its new version, or None."""
        version = await self.store.put_config(tenant, kind, value, expected_version, datetime.now(UTC))
        if version is not None:
            self.forget_config(tenant)
        return version

    def forget_config(self, tenant: str) -> None:
        for kind in ("policy", "tiers", "routing"):
            self._config.drop((kind, tenant))

    async def tier(self, tenant: str, tier_id: str) -> Tier:
        for tier in await self.tiers(tenant):
            if tier.tier_id == tier_id:
                return tier
        raise DomainError("unknown_tier", f"there is no tier {tier_id!r}")

    async def pools_of_line(self, tenant: str, business_line: str) -> list[str]:
        """The public pools of a business line: its own, and every pool a routing rule for it names."""
        pools = {domain.default_pool_id(business_line)}
        pools.update(r.pool_id for r in await self.routing(tenant) if r.business_line in (None, business_line))
        return sorted(pools)

    async def agent_doc(self, tenant: str, agent_id: str, *, fresh: bool = False) -> Doc:
        key = (tenant, agent_id)
        doc = None if fresh else self._agents.get(key)
        if doc is None:
            doc = await self.store.get_agent(tenant, agent_id)
            if doc is None:
                raise DomainError("unknown_agent", f"there is no agent {agent_id!r}")
            self._agents.put(key, doc)
        return doc

    def worked_minutes_today(self, agent: Doc, now: datetime) -> float:
        seconds = domain.worked_seconds(now.astimezone(self.tz).date(), logged=agent.get("logged_seconds") or {},
                                        status=agent.get("status"), status_since=agent.get("status_since"),
                                        talk=agent.get("talk_seconds") or {}, now=now, tz=self.tz)
        return seconds / 60

    # ---- events ------------------------------------------------------------------------------------------

    def _event(self, topic: Topic, data: BaseModel, tenant: str, lead_id: str, event_id: str | None = None) -> Doc:
        attributes = {"id": event_id} if event_id else {}
        event = topic.event(data, source=self.settings.source, tenantid=tenant, subject=lead_id, **attributes)
        return embedded_event(event.id, topic.name, event.to_json_bytes(), lead_id)

    @staticmethod
    def _holder_fields(lead: Doc, agent_id: str, agent: Doc | None, at: datetime, policy: AllocationPolicy) -> Doc:
        return {"lead_id": lead["_id"], "agent_id": agent_id,
                "team_id": agent.get("team_id") if agent else lead.get("holder_team"),
                "agent_grade": (agent.get("grade") or policy.new_agent_grade) if agent else lead.get("holder_grade"),
                "business_line": lead["business_line"], "pool_id": lead["pool_id"], "score": lead["score"],
                "lead_grade": lead["lead_grade"], "at": at}

    # ---- leads.qualified.v1 / leads.merged.v1 ----------------------------------------------------------

    async def handle_qualified(self, deliveries: Sequence[Delivery]) -> None:
        for tenant, fresh in (await self.store.inbox.unprocessed_by_tenant(deliveries)).items():
            known = await self.store.existing_lead_ids(tenant, [d.event.data.lead_id for d in fresh])
            rules = await self.routing(tenant)
            now = datetime.now(UTC)
            docs, seen = [], set(known)
            for delivery in fresh:
                data = delivery.event.data
                if data.lead_id in seen:  # redelivered under another event id: the lead is the key
                    continue
                seen.add(data.lead_id)
                docs.append(self._new_lead(tenant, data, rules, now))
            await self.store.insert_leads(docs, [self.store.inbox.entry(tenant, d.event.id, {"status": "pooled"})
                                                 for d in fresh])
            MESSAGES_CONSUMED.labels(self.settings.service_name, "leads.qualified.v1", "processed").inc(len(fresh))

    def _new_lead(self, tenant: str, data: Any, rules: list[RoutingRule], now: datetime) -> Doc:
        attributes = data.attributes or {}
        buyer = attributes.get("buyer", "").strip().lower() in TRUE_WORDS
        return {
            "_id": data.lead_id, "tenant_id": tenant, "phone_e164": data.phone_e164, "name": data.name,
            "company": data.company, "business_line": data.business_line, "product_interest": data.product_interest,
            "region": data.region, "channel": data.channel.value, "score": data.score, "lead_grade": data.grade,
            "score_parts": [part.model_dump() for part in data.score_breakdown],
            "score_model": data.model.model_dump(exclude={"feature_log_odds"}) if data.model else None,
            "pool_id": domain.route_pool(rules, business_line=data.business_line,
                                         product_interest=data.product_interest, region=data.region, score=data.score),
            "status": POOLED, "holder": None, "holder_team": None, "holder_grade": None, "held_since": None,
            "previous_holders": [], "last_holder": None, "dropped_by": [], "drops": [], "drop_count": 0,
            "call_count": 0, "last_call_at": None, "recent_calls": [], "rest_until": None,
            "stage_percent": 0, "funnel_step": None, "stage_advanced_at": None, "deal_in_progress": False,
            "buyer": buyer, "purchases_fen": 0, "dedicated_agent": None, "touches": 1, "holds": [],
            "external_refs": [ref.model_dump() for ref in data.external_refs], "created_at": now, "updated_at": now,
        }

    async def handle_merged(self, deliveries: Sequence[Delivery]) -> None:
        """A person arrived again: count the touch; a closed lead is live again and goes back to its pool. The
        same outside record sent again (matched on its reference) is neither; its references are kept."""
        for tenant, fresh in (await self.store.inbox.unprocessed_by_tenant(deliveries)).items():
            leads = await self.store.get_leads(tenant, [d.event.data.lead_id for d in fresh])
            now = datetime.now(UTC)
            updates, inbox = [], []
            for delivery in fresh:
                lead_id = delivery.event.data.lead_id
                lead = leads.get(lead_id)
                if lead is None:  # qualified and merged race on different partitions: retry later
                    await self.dead_letters.send(delivery.record, error_type="unknown_lead",
                                                 error=f"lead {lead_id} is not known to the allocator (yet)",
                                                 tenantid=tenant)
                    continue
                data = delivery.event.data
                update: Doc = {"$set": {"updated_at": now}}
                if data.external_refs:  # answers about the lead (its outcome) carry every outside reference
                    update["$addToSet"] = {"external_refs": {"$each": [r.model_dump() for r in data.external_refs]}}
                if data.matched_on != "external_ref":  # an outside record sent again is no new touch
                    update["$inc"] = {"touches": 1}
                    if lead["status"] == CLOSED:
                        update["$set"] |= {"status": POOLED, "holder": None, "reopened_at": now}
                        update = history.with_history(update, [history.reopened(now)])
                updates.append(({"_id": lead_id, "tenant_id": tenant}, update, []))
                inbox.append(self.store.inbox.entry(tenant, delivery.event.id, {"status": "touched"}))
            await self.store.apply_lead_updates(updates, now, inbox_entries=inbox)

    # ---- claiming -------------------------------------------------------------------------------------

    async def claim(self, tenant: str, agent_id: str, tier_id: str, count: int) -> ClaimResult:
        """Give the agent up to `count` of the best-scored leads of the tier it may open.

        Under the agent's lock (taken with its quota count in one Redis round trip), the agent and its
        holding count are read fresh (one MongoDB round trip), the rules decide how many it may take,
        and the leads are taken together with the other claims on the tier (claims.py)."""
        now = datetime.now(UTC)
        policy = await self.policy(tenant)
        tier = await self.tier(tenant, tier_id)
        if count > policy.claim_max_per_request:
            raise DomainError("too_many", f"claim at most {policy.claim_max_per_request} leads at once")
        period, period_end = domain.quota_period(now, policy.refresh_period, self.tz)
        async with self.guard.claiming(tenant, agent_id, period, period_end) as ticket:
            agent_doc, held = await self.store.agent_and_held_count(tenant, agent_id)
            if agent_doc is None:
                raise DomainError("unknown_agent", f"there is no agent {agent_id!r}")
            agent = agent_facts(agent_doc, policy)
            domain.check_may_open(tier, agent, self.worked_minutes_today(agent_doc, now))
            pools = domain.tier_pool_ids(tier, agent, await self.pools_of_line(tenant, agent.business_line))
            cap, quota = policy.cap_for(agent.grade), policy.quota_for(agent.grade)
            granted = domain.claim_grant(count, held=held, cap=cap, claimed_this_period=ticket.used, quota=quota)
            taken = await self.claims.claim(tenant, pools, tier, policy, agent, granted)
            ticket.taken = len(taken)
        if taken:
            self.notify_leads()
        return ClaimResult(taken, count, granted, held + len(taken), cap, quota - ticket.used - len(taken))

    # ---- push distribution ------------------------------------------------------------------------------

    async def distribute(self, tenant: str, lead_ids: Sequence[str], *, actor: str, team_id: str | None = None,
                         strategy: DistributionStrategy | None = None, target_agent: str | None = None
                         ) -> DistributionOutcome:
        """Two steps: each lead to a team (the given one, or by the customer's need through the teams'
        routes), then to an agent of that team by the strategy (the given one, or the team's own)."""
        now = datetime.now(UTC)
        policy = await self.policy(tenant)
        leads = await self.store.get_leads(tenant, lead_ids)
        unplaced: list[dict[str, str]] = []
        by_team: dict[str, list[Doc]] = defaultdict(list)
        teams = {t["team_id"]: t for t in await self.store.list_teams(tenant)}
        routes = [distribution.TeamRoute(team_id=t["team_id"], business_line=t.get("business_line"),
                                         product_interests=frozenset(t.get("product_interests") or ()),
                                         regions=frozenset(t.get("regions") or ()), priority=t.get("priority", 100))
                  for t in teams.values()]
        for lead_id in dict.fromkeys(lead_ids):
            lead = leads.get(lead_id)
            if lead is None:
                unplaced.append({"lead_id": lead_id, "reason": "unknown_lead"})
                continue
            if lead["status"] != POOLED:
                unplaced.append({"lead_id": lead_id, "reason": f"not_pooled ({lead['status']})"})
                continue
            if lead.get("rest_until") and lead["rest_until"] > now:
                unplaced.append({"lead_id": lead_id, "reason": "resting (contact pressure)"})
                continue
            chosen = team_id or distribution.choose_team(routes, business_line=lead["business_line"],
                                                         product_interest=lead.get("product_interest"),
                                                         region=lead.get("region"))
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

    async def _distribute_in_team(self, tenant: str, team: Doc, leads: list[Doc], policy: AllocationPolicy,
                                  now: datetime, *, actor: str, strategy: DistributionStrategy,
                                  target_agent: str | None) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
        members = [a for a in await self.store.list_agents(tenant, team_id=team["team_id"], role="agent", active=True)]
        by_id = {a["agent_id"]: a for a in members}
        if strategy == DistributionStrategy.SUPERVISOR and not target_agent:
            raise DomainError("target_agent_required", "the supervisor strategy needs target_agent")
        async with self.guard.agents_locked(tenant, list(by_id)):
            held = await self.store.held_counts(tenant, list(by_id))
            candidates = [distribution.Candidate(agent_id=a["agent_id"], open_leads=held[a["agent_id"]],
                                                 cap=policy.cap_for(a.get("grade") or policy.new_agent_grade),
                                                 ability=float(a.get("ability") or 1.0)) for a in members]
            to_place = [distribution.LeadToPlace(lead_id=lead["_id"], score=lead["score"],
                                                 previous_holders=frozenset(lead.get("previous_holders") or ()),
                                                 last_holder=lead.get("last_holder"),
                                                 dedicated_agent=lead.get("dedicated_agent")) for lead in leads]
            result = distribution.distribute(to_place, candidates, strategy, target_agent=target_agent,
                                             round_robin_cursor=team.get("round_robin_cursor"),
                                             ability_share=float(team.get("ability_share", 0.5)))
            leads_by_id = {lead["_id"]: lead for lead in leads}
            placed: list[dict[str, Any]] = []
            missed = [{"lead_id": u.lead_id, "reason": u.reason} for u in result.unplaced]
            for placement in result.placements:
                agent_doc = by_id[placement.agent_id]
                done = await self.assign(tenant, leads_by_id[placement.lead_id], agent_doc, policy, now,
                                         strategy=placement.strategy, assigned_by=actor)
                if done:
                    placed.append({"lead_id": placement.lead_id, "agent_id": placement.agent_id,
                                   "team_id": team["team_id"], "strategy": placement.strategy.value})
                else:
                    missed.append({"lead_id": placement.lead_id, "reason": "taken_meanwhile"})
            if strategy == DistributionStrategy.ROUND_ROBIN:
                await self.store.set_round_robin_cursor(tenant, team["team_id"], result.round_robin_cursor)
        return placed, missed

    async def assign(self, tenant: str, lead: Doc, agent_doc: Doc, policy: AllocationPolicy, now: datetime, *,
                     strategy: DistributionStrategy, assigned_by: str, from_statuses: Sequence[str] = (POOLED,),
                     extra_events: Sequence[Doc] = (), also: Doc | None = None) -> Doc | None:
        """Give `lead` to the agent if it is still in one of `from_statuses` (the caller holds the agent's
        lock and checked the cap), with `also` (more of the update) in the same write. The lead after the
        change, or None if someone else got it first."""
        agent = agent_facts(agent_doc, policy)
        data = LeadAssigned(**self._holder_fields(lead, agent.agent_id, agent_doc, now, policy), strategy=strategy,
                            assigned_by=assigned_by)
        events = [self._event(ALLOCATION_ASSIGNED, data, tenant, lead["_id"]), *extra_events]
        update = {"$set": hold_fields(agent.agent_id, agent.team_id, agent.grade, "assigned", now),
                  "$addToSet": {"previous_holders": agent.agent_id},
                  "$push": {"holds": {"agent_id": agent.agent_id, "grade": agent.grade, "team_id": agent.team_id,
                                      "via": "assigned", "at": now}}}
        update = history.merged(history.with_history(update, [history.holder_change(
            "assigned", agent.agent_id, now, via=strategy.value)]), also or {})
        query = {"_id": lead["_id"], "tenant_id": tenant, "status": {"$in": list(from_statuses)}}
        return await self.store.update_lead_if(query, update, events, now)

    # ---- the agent's own actions -----------------------------------------------------------------------

    async def _held_lead(self, tenant: str, lead_id: str, agent_id: str) -> Doc:
        lead = await self.store.get_lead(tenant, lead_id, LEAN_LEAD)
        if lead is None:
            raise DomainError("unknown_lead", f"there is no lead {lead_id!r}")
        if lead["status"] != HELD or lead.get("holder") != agent_id:
            raise DomainError("not_held", f"lead {lead_id} is not held by {agent_id} (it is {lead['status']}"
                                          + (f", held by {lead['holder']})" if lead.get("holder") else ")"))
        return lead

    def _same_hold(self, lead: Doc) -> Doc:
        return {"_id": lead["_id"], "tenant_id": lead["tenant_id"], "status": HELD, "holder": lead["holder"],
                "held_since": lead["held_since"]}

    async def return_lead(self, tenant: str, lead_id: str, agent_id: str, reason: str) -> Doc:
        now = datetime.now(UTC)
        policy = await self.policy(tenant)
        lead = await self._held_lead(tenant, lead_id, agent_id)
        update, drops = release_fields(lead, agent_id, now, counts_as_drop=True,
                                       entry=history.holder_change("returned", agent_id, now, reason=reason))
        data = LeadReturned(**self._holder_fields(lead, agent_id, None, now, policy), reason=reason, drop_count=drops)
        return await self._apply_or_conflict(lead, update, [self._event(ALLOCATION_RETURNED, data, tenant, lead_id)],
                                             now)

    async def close_lead(self, tenant: str, lead_id: str, agent_id: str, reason: str) -> Doc:
        now = datetime.now(UTC)
        policy = await self.policy(tenant)
        lead = await self._held_lead(tenant, lead_id, agent_id)
        update = {"$set": {"status": CLOSED, "closed_by": agent_id, "closed_at": now, "close_reason": reason,
                           "holder": None, "last_holder": agent_id, "updated_at": now}}
        update = history.with_history(update, [history.holder_change("closed", agent_id, now, reason=reason)])
        closed = LeadClosed(**self._holder_fields(lead, agent_id, None, now, policy), reason=reason)
        outcome = LeadOutcome(lead_id=lead_id, outcome="lost", business_line=lead["business_line"],
                              external_refs=lead.get("external_refs") or [])
        events = [self._event(ALLOCATION_CLOSED, closed, tenant, lead_id),
                  self._event(LEADS_OUTCOME, outcome, tenant, lead_id)]
        return await self._apply_or_conflict(lead, update, events, now)

    async def win_lead(self, tenant: str, lead_id: str, agent_id: str, amount_fen: int) -> Doc:
        now = datetime.now(UTC)
        policy = await self.policy(tenant)
        lead = await self._held_lead(tenant, lead_id, agent_id)
        update = {"$set": {"status": WON, "won_by": agent_id, "won_at": now, "won_amount_fen": amount_fen,
                           "won_team": lead.get("holder_team"), "holder": None, "last_holder": agent_id,
                           "buyer": True, "dedicated_agent": agent_id, "stage_percent": 100,
                           "funnel_step": "paid", "updated_at": now},
                  "$inc": {"purchases_fen": amount_fen}}
        update = history.with_history(update, [history.holder_change("won", agent_id, now, amount_fen=amount_fen)])
        won = LeadWon(**self._holder_fields(lead, agent_id, None, now, policy), amount_fen=amount_fen)
        outcome = LeadOutcome(lead_id=lead_id, outcome="won", business_line=lead["business_line"],
                              amount_fen=amount_fen, external_refs=lead.get("external_refs") or [])
        events = [self._event(ALLOCATION_WON, won, tenant, lead_id), self._event(LEADS_OUTCOME, outcome, tenant, lead_id)]
        return await self._apply_or_conflict(lead, update, events, now)

    async def _apply_or_conflict(self, lead: Doc, update: Doc, events: list[Doc], now: datetime) -> Doc:
        after = await self.store.update_lead_if(self._same_hold(lead), update, events, now)
        if after is None:
            raise DomainError("changed_meanwhile", f"lead {lead['_id']} changed meanwhile (reclaimed or moved); "
                                                   "read it again")
        self.notify_leads()
        return after

    # ---- stages ------------------------------------------------------------------------------------------

    async def change_stage(self, tenant: str, lead_id: str, change: LeadStageChanged, *, event_id: str | None = None,
                           publish: bool = True) -> Doc:
        """Set a lead's stage (HTTP) and announce it on leads.stage-changed.v1 in the same transaction as
        the inbox entry of that event, so this service's own consumer skips it."""
        now = datetime.now(UTC)
        lead = await self.store.get_lead(tenant, lead_id, LEAN_LEAD)
        if lead is None:
            raise DomainError("unknown_lead", f"there is no lead {lead_id!r}")
        if change.agent_id is not None and lead.get("holder") != change.agent_id:
            raise DomainError("not_held", f"lead {lead_id} is not held by {change.agent_id}")
        event = LEADS_STAGE_CHANGED.event(change, source=self.settings.source, tenantid=tenant, subject=lead_id)
        events = [embedded_event(event.id, LEADS_STAGE_CHANGED.name, event.to_json_bytes(), lead_id)] if publish else []
        query, update = stage_update(lead, change, now)
        inbox = [self.store.inbox.entry(tenant, event.id, {"status": "stage_changed", "by": "http"})]
        await self.store.apply_lead_updates([(query, update, events)], now, inbox_entries=inbox)
        self.notify_leads()
        after = await self.store.get_lead(tenant, lead_id, LEAN_LEAD)
        return after  # type: ignore[return-value]

    async def handle_stage_changes(self, deliveries: Sequence[Delivery]) -> None:
        for tenant, fresh in (await self.store.inbox.unprocessed_by_tenant(deliveries)).items():
            for delivery in fresh:
                change: LeadStageChanged = delivery.event.data
                lead = await self.store.get_lead(tenant, change.lead_id, LEAN_LEAD)
                if lead is None:
                    await self.dead_letters.send(delivery.record, error_type="unknown_lead",
                                                 error=f"lead {change.lead_id} is not known to the allocator",
                                                 tenantid=tenant)
                    continue
                query, update = stage_update(lead, change, datetime.now(UTC))
                inbox = [self.store.inbox.entry(tenant, delivery.event.id, {"status": "stage_changed"})]
                await self.store.apply_lead_updates([(query, update, [])], datetime.now(UTC), inbox_entries=inbox)

    # ---- calls, complaints, signals ------------------------------------------------------------------

    async def handle_calls(self, deliveries: Sequence[Delivery]) -> None:
        for tenant, fresh in (await self.store.inbox.unprocessed_by_tenant(deliveries)).items():
            policy = await self.policy(tenant)
            leads = await self.store.get_leads(tenant, list({d.event.data.lead_id for d in fresh}))
            now = datetime.now(UTC)
            per_lead: dict[str, list[Any]] = defaultdict(list)
            talk: dict[tuple[str, str], float] = defaultdict(float)
            inbox = []
            for delivery in fresh:
                call = delivery.event.data
                if call.lead_id not in leads:
                    await self.dead_letters.send(delivery.record, error_type="unknown_lead",
                                                 error=f"lead {call.lead_id} is not known to the allocator",
                                                 tenantid=tenant)
                    continue
                per_lead[call.lead_id].append(call)
                for day, seconds in domain.split_by_day(call.started_at, call.started_at + timedelta(
                        seconds=call.duration_seconds), self.tz).items():
                    talk[(call.agent_id, day)] += seconds
                inbox.append(self.store.inbox.entry(tenant, delivery.event.id, {"status": "call_logged"}))
            updates = [calls_update(leads[lead_id], calls, policy, now) for lead_id, calls in per_lead.items()]
            await self.store.apply_lead_updates(updates, now, inbox_entries=inbox)
            await self.store.add_talk_seconds(tenant, talk)

    async def handle_complaints(self, deliveries: Sequence[Delivery]) -> None:
        """A complaint ends the lead's calls: it leaves its agent and every pool for good."""
        for tenant, fresh in (await self.store.inbox.unprocessed_by_tenant(deliveries)).items():
            policy = await self.policy(tenant)
            for delivery in fresh:
                complaint = delivery.event.data
                lead = await self.store.get_lead(tenant, complaint.lead_id, LEAN_LEAD)
                inbox = [self.store.inbox.entry(tenant, delivery.event.id, {"status": "do_not_call"})]
                if lead is None:
                    await self.store.inbox.record(inbox)
                    continue  # lead-intake lists the number; nothing is held here
                now = datetime.now(UTC)
                events = []
                if lead["status"] == HELD:
                    closed = LeadClosed(**self._holder_fields(lead, lead["holder"], None, now, policy),
                                        reason=f"complaint: {complaint.reason}"[:500])
                    events.append(self._event(ALLOCATION_CLOSED, closed, tenant, lead["_id"]))
                update = {"$set": {"status": DO_NOT_CALL, "holder": None, "last_holder": lead.get("holder"),
                                   "complaint": complaint.reason, "complained_at": now, "updated_at": now}}
                update = history.with_history(update, [history.holder_change(
                    "closed", lead.get("holder"), now, reason=f"complaint: {complaint.reason}"[:500])])
                await self.store.apply_lead_updates([({"_id": lead["_id"], "tenant_id": tenant}, update, events)],
                                                    now, inbox_entries=inbox)
                if events:
                    self.notify_leads()

    async def handle_signals(self, deliveries: Sequence[Delivery]) -> None:
        """A moment that matters: tell the holder at once; with no holder, hand the lead to the customer's
        dedicated agent (if any) and tell them. The alerts to holders of a batch go out in one write."""
        for tenant, fresh in (await self.store.inbox.unprocessed_by_tenant(deliveries)).items():
            policy = await self.policy(tenant)
            named = await self.store.get_leads(tenant, [d.event.data.lead_id for d in fresh if d.event.data.lead_id],
                                               LEAN_LEAD)
            now = datetime.now(UTC)
            alerts: list[tuple[Doc, Doc, list[Doc]]] = []
            inbox: list[Doc] = []
            one_by_one: list[Delivery] = []
            for delivery in fresh:
                lead = named.get(delivery.event.data.lead_id)
                if lead is None or lead["status"] != HELD:  # by phone, unknown, or for a dedicated agent
                    one_by_one.append(delivery)
                    continue
                alerts.append(({"_id": lead["_id"], "tenant_id": tenant},
                               signal_fields(delivery.event.data, now, alerted=lead["holder"]),
                               [self._hot_lead(tenant, delivery, lead, lead["holder"], "holder")]))
                inbox.append(self.store.inbox.entry(tenant, delivery.event.id, {"status": "signal"}))
            if alerts:
                await self.store.apply_lead_updates(alerts, now, inbox_entries=inbox)
                self.notify_leads()
            for delivery in one_by_one:
                await self._signal(tenant, delivery, policy)

    def _hot_lead(self, tenant: str, delivery: Delivery, lead: Doc, agent_id: str, routed: str) -> Doc:
        signal = delivery.event.data
        data = HotLead(lead_id=lead["_id"], agent_id=agent_id, routed=routed, kind=signal.kind,  # type: ignore[arg-type]
                       detail=signal.detail, occurred_at=signal.occurred_at, signal_event_id=delivery.event.id)
        return self._event(ALLOCATION_HOT_LEAD, data, tenant, lead["_id"])

    async def _signal(self, tenant: str, delivery: Delivery, policy: AllocationPolicy) -> None:
        signal = delivery.event.data
        if signal.lead_id is not None:
            lead = await self.store.get_lead(tenant, signal.lead_id, LEAN_LEAD)
        else:
            lead = await self.store.lead_by_phone(tenant, signal.phone_e164)
        inbox = [self.store.inbox.entry(tenant, delivery.event.id, {"status": "signal"})]
        if lead is None:
            await self.dead_letters.send(delivery.record, error_type="unknown_lead",
                                         error=f"no lead {signal.lead_id or signal.phone_e164} at the allocator",
                                         tenantid=tenant)
            return
        now = datetime.now(UTC)
        if lead["status"] == HELD:
            await self.store.apply_lead_updates([({"_id": lead["_id"], "tenant_id": tenant},
                                                  signal_fields(signal, now, alerted=lead["holder"]),
                                                  [self._hot_lead(tenant, delivery, lead, lead["holder"], "holder")])],
                                                now, inbox_entries=inbox)
            self.notify_leads()
            return
        dedicated = lead.get("dedicated_agent")
        if lead["status"] in (POOLED, CLOSED, WON) and dedicated:
            agent_doc = await self.store.get_agent(tenant, dedicated)
            if agent_doc is not None and agent_doc.get("active", True):
                async with self.guard.agents_locked(tenant, [dedicated]):
                    held = await self.store.held_count(tenant, dedicated)
                    if held < policy.cap_for(agent_doc.get("grade") or policy.new_agent_grade):
                        after = await self.assign(tenant, lead, agent_doc, policy, now,
                                                  strategy=DistributionStrategy.DEDICATED_AGENT, assigned_by="system",
                                                  from_statuses=(POOLED, CLOSED, WON),
                                                  extra_events=[self._hot_lead(tenant, delivery, lead, dedicated,
                                                                               "dedicated_agent")],
                                                  also=signal_fields(signal, now, alerted=dedicated))
                        if after is not None:
                            await self.store.inbox.record(inbox)
                            self.notify_leads()
                            return
        await self.store.apply_lead_updates([({"_id": lead["_id"], "tenant_id": tenant},
                                              signal_fields(signal, now, alerted=None), [])], now, inbox_entries=inbox)

    # ---- roster side effects -----------------------------------------------------------------------------

    async def release_all(self, tenant: str, agent_id: str, reason: str) -> int:
        """Every lead an agent holds goes back to its pool (the agent left); not counted as a drop."""
        now = datetime.now(UTC)
        policy = await self.policy(tenant)
        released = 0
        while True:
            leads = await self.store.held_by(tenant, agent_id, 500, None)
            if not leads:
                return released
            updates = []
            for lead in leads:
                update, drops = release_fields(lead, agent_id, now, counts_as_drop=False,
                                               entry=history.holder_change("returned", agent_id, now, reason=reason))
                data = LeadReturned(**self._holder_fields(lead, agent_id, None, now, policy), reason=reason,
                                    drop_count=drops)
                updates.append((self._same_hold(lead), update, [self._event(ALLOCATION_RETURNED, data, tenant,
                                                                            lead["_id"])]))
            moved = await self.store.apply_lead_updates(updates, now)
            if moved == 0:  # all changed meanwhile and are still held: leave them to the next pass
                return released
            released += moved
            self.notify_leads()

    # ---- reclaim sweep -----------------------------------------------------------------------------------

    async def sweep_tenant(self, tenant: str, now: datetime | None = None) -> dict[str, int]:
        """Warn about and reclaim overdue held leads of one tenant. Idempotent: every write is conditional
        on the hold it judged, and warnings are remembered per deadline."""
        now = now or datetime.now(UTC)
        policy, _ = await self.store.policy(tenant)  # fresh, not cached: the sweep acts on the current rules
        totals = {"reclaimed": 0, "warned": 0, "examined": 0}
        days = [d for r in policy.reclaim_rules for d in (r.not_processed_days, r.not_converted_days) if d is not None]
        if not days:
            return totals
        # The earliest any rule can make a lead due (or warned): nothing held more recently is looked at.
        horizon = now - timedelta(days=min(days)) + timedelta(hours=policy.reclaim_warning_hours)
        cursor = self.store.leads.find({"tenant_id": tenant, "status": HELD, "held_since": {"$lte": horizon}},
                                       {"outbox": 0, "recent_calls": 0, "holds": 0, "drops": 0, "history": 0},
                                       sort=[("held_since", 1)], batch_size=self.settings.sweep_batch_size)
        batch: list[tuple[Doc, Doc, list[Doc]]] = []
        async for lead in cursor:
            totals["examined"] += 1
            decision = self._sweep_decision(tenant, lead, policy, now)
            if decision is None:
                continue
            kind, write = decision
            totals[kind] += 1
            batch.append(write)
            if len(batch) >= self.settings.sweep_batch_size:
                await self.store.apply_lead_updates(batch, now)
                self.notify_leads()
                batch = []
        if batch:
            await self.store.apply_lead_updates(batch, now)
            self.notify_leads()
        return totals

    def _sweep_decision(self, tenant: str, lead: Doc, policy: AllocationPolicy, now: datetime
                        ) -> tuple[str, tuple[Doc, Doc, list[Doc]]] | None:
        schedule = reclaim_clock.schedule_of(lead, policy)  # the same judgement the leads' views show
        if schedule is None:
            return None
        agent_id = lead["holder"]
        if schedule.reclaim_at <= now:
            update, drops = release_fields(lead, agent_id, now, counts_as_drop=True, entry=history.holder_change(
                "reclaimed", agent_id, now, reclaim_kind=schedule.kind.value))
            update["$set"]["reclaimed_at"] = now
            data = LeadReclaimed(**self._holder_fields(lead, agent_id, None, now, policy), kind=schedule.kind,
                                 stage_percent=lead.get("stage_percent", 0), deadline=schedule.reclaim_at,
                                 drop_count=drops)
            event_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"reclaim|{tenant}|{lead['_id']}|{lead['held_since']}"))
            return "reclaimed", (self._same_hold(lead), update,
                                 [self._event(ALLOCATION_RECLAIMED, data, tenant, lead["_id"], event_id)])
        warn_key = f"{schedule.kind.value}|{schedule.reclaim_at.isoformat()}"
        if schedule.warn_at <= now and lead.get("warned_for") != warn_key:
            data = ReclaimWarning(lead_id=lead["_id"], agent_id=agent_id, kind=schedule.kind,
                                  reclaim_at=schedule.reclaim_at, stage_percent=lead.get("stage_percent", 0))
            event_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"warn|{tenant}|{lead['_id']}|{warn_key}"))
            return "warned", ({**self._same_hold(lead), "warned_for": lead.get("warned_for")},
                              {"$set": {"warned_for": warn_key}},
                              [self._event(ALLOCATION_RECLAIM_WARNING, data, tenant, lead["_id"], event_id)])
        return None

