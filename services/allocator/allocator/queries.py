"""The reads the HTTP API serves: agents, teams, configuration, pools, an agent's leads, a lead and its
history, and the fairness report. Reads only (the writes go through the services); each answer is shaped
by lead_views.py and schemas.py, the rules come from the domain."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from .domain import AgentFacts, DomainError, TierFilter, arrival_push, check_may_open, default_tiers
from .lead_views import history_view, lead_view
from .schemas import AgentPage, AgentView, FairnessRow, LeadHistory, LeadPage, LeadView, TeamView, TierView
from .service import LeadService, agent_facts
from .store import HELD, LEAN_LEAD, WON, AllocatorStore, Doc, tier_query
from .team_views import STORED_STATUS, DealMarkPage, MarkState, UnplacedPage, mark_row


class NotVisible(Exception):
    """The viewer may not see this (answered 403 with `code`)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def dumped(value: Any) -> Any:
    """A configuration value as JSON-ready data."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [dumped(v) for v in value]
    return value


class LeadQueries:
    def __init__(self, store: AllocatorStore, leads: LeadService) -> None:
        self.store = store
        self.leads = leads

    # ---- agents and teams ------------------------------------------------------------------------------

    async def holder(self, *, tenant: str, lead_id: str) -> str | None:
        """Who holds a lead now (None: nobody, or no such lead)."""
        doc = await self.store.get_lead(tenant, lead_id, {"holder": 1, "status": 1})
        return doc.get("holder") if doc is not None and doc.get("status") == HELD else None

    async def winner(self, *, tenant: str, lead_id: str) -> str | None:
        """Who won a lead (its holder while held; None: nobody, or no such lead): whose supervisor confirms."""
        doc = await self.store.get_lead(tenant, lead_id, {"holder": 1, "status": 1, "won_by": 1})
        if doc is None:
            return None
        return doc.get("won_by") if doc.get("status") == WON else doc.get("holder")

    async def agent(self, *, tenant: str, agent_id: str) -> Doc | None:
        """An agent's roster record as stored (None if unknown)."""
        return await self.store.get_agent(tenant, agent_id)

    def agent_view(self, doc: Doc, *, holding: int | None = None) -> AgentView:
        now = datetime.now(UTC)
        return AgentView(agent_id=doc["agent_id"], name=doc.get("name", ""), role=doc.get("role", "agent"),
                         team_id=doc.get("team_id"), business_line=doc.get("business_line", "default"),
                         active=doc.get("active", True), supervisor_id=doc.get("supervisor_id"),
                         grade=doc.get("grade"), ability=float(doc.get("ability") or 1.0), status=doc.get("status"),
                         status_since=doc.get("status_since"),
                         worked_minutes_today=round(self.leads.worked_minutes_today(doc, now), 1), holding=holding)

    async def agent_with_holding(self, *, tenant: str, doc: Doc) -> AgentView:
        """An agent record with how many leads the agent holds now."""
        return self.agent_view(doc, holding=await self.store.held_count(tenant, doc["agent_id"]))

    async def agents(self, *, tenant: str, teams: frozenset[str] | None, role: str | None, active: bool | None,
                     limit: int, cursor: str | None) -> AgentPage:
        """A page of the roster (with `teams`, the agents of those teams)."""
        docs = await self.store.list_agents(tenant, team_ids=teams, role=role, active=active, limit=limit + 1,
                                            after=cursor)
        more = len(docs) > limit
        docs = docs[:limit]
        return AgentPage(items=[self.agent_view(d) for d in docs], next_cursor=docs[-1]["agent_id"] if more else None)

    async def teams(self, *, tenant: str, only: frozenset[str] | None = None) -> list[TeamView]:
        """The tenant's teams (with `only`, those of them)."""
        return [TeamView.model_validate(t) for t in await self.store.list_teams(tenant)
                if only is None or t["team_id"] in only]

    async def teams_of_line(self, *, tenant: str, business_line: str) -> set[str]:
        """The teams of a business line: those routed to it and those its agents belong to."""
        teams = {t["team_id"] for t in await self.store.list_teams(tenant) if t.get("business_line") == business_line}
        return teams | await self.store.agent_teams_of_line(tenant, business_line)

    async def team(self, *, tenant: str, team_id: str) -> TeamView | None:
        doc = await self.store.get_team(tenant, team_id)
        return None if doc is None else TeamView.model_validate(doc)

    # ---- configuration ---------------------------------------------------------------------------------

    async def config(self, *, tenant: str, kind: str, default: Any) -> tuple[Any, int]:
        """A configuration as stored, or its default (the tiers' default follows the policy), and its version."""
        value, version = await self.store.get_config(tenant, kind)
        if value is None:
            if kind == "tiers":
                value = dumped(default_tiers((await self.leads.policy(tenant)).high_intent_score))
            else:
                value = dumped(default())
        return value, version

    # ---- leads -----------------------------------------------------------------------------------------

    async def tier_filter(self, *, tenant: str, tier_id: str) -> TierFilter:
        return (await self.leads.tier(tenant, tier_id)).filter

    async def tiers(self, *, tenant: str, agent_id: str | None) -> list[TierView]:
        """The tiered pools; with `agent_id`, whether that agent may open each now (and why not)."""
        facts, minutes = None, 0.0
        if agent_id is not None:
            doc = await self.leads.agent_doc(tenant, agent_id, fresh=True)
            facts = agent_facts(doc, await self.leads.policy(tenant))
            minutes = self.leads.worked_minutes_today(doc, datetime.now(UTC))
        views = []
        for tier in await self.leads.tiers(tenant):
            may_open, why_not = None, None
            if facts is not None:
                try:
                    check_may_open(tier, facts, minutes)
                    may_open = True
                except DomainError as error:
                    may_open, why_not = False, error.message
            views.append(TierView(tier_id=tier.tier_id, name=tier.name,
                                  filter=tier.filter.model_dump(exclude_none=True), grades=list(tier.grades),
                                  min_worked_minutes=tier.min_worked_minutes, pool_ids=list(tier.pool_ids),
                                  may_open=may_open, why_not=why_not))
        return views

    async def pool_page(self, *, tenant: str, pool_id: str, tier_filter: TierFilter | None, limit: int,
                        after: tuple[int, str] | None) -> LeadPage:
        """A page of a public pool, best first, numbers masked; with `tier_filter`, only the tier's leads."""
        extra: Doc = {} if tier_filter is None else tier_query(tier_filter)
        docs = await self.store.browse_pool(tenant, [pool_id], extra, limit + 1, after)
        more = len(docs) > limit
        docs = docs[:limit]
        return LeadPage(items=[lead_view(d, None) for d in docs],
                        next_cursor=f"{docs[-1]['score']}:{docs[-1]['_id']}" if more else None)

    async def held_page(self, *, tenant: str, agent_id: str, viewer: AgentFacts, limit: int,
                        cursor: str | None) -> LeadPage:
        docs = await self.store.held_by(tenant, agent_id, limit + 1, cursor)
        more = len(docs) > limit
        docs = docs[:limit]
        policy = await self.leads.policy(tenant)
        return LeadPage(items=[lead_view(d, viewer, policy) for d in docs],
                        next_cursor=docs[-1]["_id"] if more else None)

    async def lead(self, *, tenant: str, lead_id: str, viewer: AgentFacts) -> LeadView | None:
        """The lead as `viewer` sees it (None if unknown). An agent sees a pooled lead (masked) or one it
        holds, no other."""
        doc = await self.store.get_lead(tenant, lead_id, LEAN_LEAD)
        if doc is None:
            return None
        if viewer.role == "agent" and doc.get("holder") not in (None, viewer.agent_id):
            raise NotVisible("not_your_lead", f"{viewer.agent_id} does not hold lead {lead_id}.")
        return lead_view(doc, viewer, await self.leads.policy(tenant))

    async def view_of(self, doc: Doc, *, tenant: str, viewer: AgentFacts) -> LeadView:
        """A lead document (as a change left it) as `viewer` sees it."""
        return lead_view(doc, viewer, await self.leads.policy(tenant))

    async def history(self, *, tenant: str, lead_id: str, viewer: AgentFacts) -> LeadHistory | None:
        """Who held a lead before and why they let it go is for its holder and the floor's managers."""
        doc = await self.store.get_lead(tenant, lead_id, {"history": 1, "status": 1, "holder": 1})
        if doc is None:
            return None
        if viewer.role == "agent" and (doc.get("status") != HELD or doc.get("holder") != viewer.agent_id):
            raise NotVisible("not_your_lead", f"{viewer.agent_id} does not hold lead {lead_id}.")
        return history_view(doc)

    async def deal_marks(self, *, tenant: str, team_id: str, state: MarkState, limit: int,
                         after: tuple[datetime, str] | None) -> DealMarkPage:
        """A page of the team's requests waiting for its supervisor (`requested`) or marks in force
        (`approved`), oldest request first. Neither lists what has expired: an approved mark past its expiry,
        a request whose lead is past its reclaim deadline (it lapses with the hold)."""
        now = datetime.now(UTC)
        docs = await self.store.team_deal_marks(tenant, team_id, STORED_STATUS[state], limit=limit + 1, after=after,
                                                not_expired_at=now if state == "approved" else None)
        more = len(docs) > limit
        docs = docs[:limit]
        policy = await self.leads.policy(tenant)
        rows = [mark_row(doc, state, policy) for doc in docs]
        last = docs[-1] if docs else None
        return DealMarkPage(team_id=team_id, state=state,
                            items=[r for r in rows if r.expires_at is None or r.expires_at > now],
                            next_cursor=f"{last['deal_mark']['requested_at'].isoformat()}|{last['_id']}"
                            if more and last else None)

    async def unplaced(self, *, tenant: str, team_id: str, limit: int,
                       after: tuple[datetime, str] | None) -> UnplacedPage:
        """The pooled leads of the pools that push their arrivals to the team that the push could not place,
        latest first, numbers masked (as in a pool)."""
        rules = await self.leads.routing(tenant)
        pools = sorted({r.pool_id for r in rules if (push := arrival_push(rules, r.pool_id)) is not None
                        and push.team_id == team_id})
        if not pools:
            return UnplacedPage(team_id=team_id, pool_ids=[], total=0, items=[])
        docs, total = await self.store.push_missed(tenant, pools, LEAN_LEAD, limit=limit + 1, after=after)
        more = len(docs) > limit
        docs = docs[:limit]
        last = docs[-1] if more and docs else None
        return UnplacedPage(team_id=team_id, pool_ids=pools, total=total, items=[lead_view(d, None) for d in docs],
                            next_cursor=f"{last['push_missed']['at'].isoformat()}|{last['_id']}" if last else None)

    # ---- reports ---------------------------------------------------------------------------------------

    async def fairness(self, *, tenant: str, since: datetime, until: datetime) -> list[FairnessRow]:
        rows = []
        for row in await self.store.fairness(tenant, since, until):
            received = row["received"]
            rows.append(FairnessRow(agent_grade=row["_id"], agents=len(row["agents"]), leads_received=received,
                                    leads_claimed=row["claimed"], mean_score=round(row["score_sum"] / received, 2),
                                    conversions=row["conversions"],
                                    conversion_rate=round(row["conversions"] / received, 4)))
        return rows
