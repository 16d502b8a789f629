"""The deal-in-progress mark (a deal is being closed: the lead is not reclaimed meanwhile): the holder asks,
the holder's team supervisor approves or refuses, and an approved mark expires (policy `deal_mark_days`).
The Lead aggregate decides (domain/lead.py); each write holds only if the hold and the mark are still the
ones judged."""

from __future__ import annotations

from datetime import UTC, datetime

from ..domain import DomainError
from ..domain.changes import Decision, LeadChange
from ..domain.lead import Lead
from ..store import LEAN_LEAD, Doc
from ..store.lead_writes import lead_of
from .core import LeadServiceCore

Write = tuple[Lead, LeadChange, list[Doc]]


class DealMarks(LeadServiceCore):
    async def _lead(self, tenant: str, lead_id: str) -> Lead:
        doc = await self.store.get_lead(tenant, lead_id, LEAN_LEAD)
        if doc is None:
            raise DomainError("unknown_lead", f"there is no lead {lead_id!r}")
        return lead_of(doc)

    async def _commit_or_conflict(self, lead: Lead, decision: Decision, now: datetime) -> Doc:
        return await self._commit_events(lead, decision.change,
                                         self.embedded(lead.tenant_id, lead.lead_id, decision.events), now)

    async def _commit_events(self, lead: Lead, change: LeadChange, events: list[Doc], now: datetime) -> Doc:
        after = await self.store.commit_if(lead, change, events, now)
        if after is None:
            raise DomainError("changed_meanwhile", f"lead {lead.lead_id} changed meanwhile (reclaimed or moved); "
                                                   "read it again")
        self.notify_leads()
        return after

    async def supervisors_of(self, tenant: str, agent_id: str, team_id: str | None) -> list[str]:
        """Who decides an agent's requests: the active supervisors of its team, and its own supervisor."""
        agent = await self.store.get_agent(tenant, agent_id)
        names = {agent["supervisor_id"]} if agent and agent.get("supervisor_id") else set()
        if team_id is not None:
            names.update(doc["agent_id"] for doc in await self.store.list_agents(
                tenant, team_id=team_id, role="supervisor", active=True, limit=100))
        return sorted(names)

    async def deal_mark_write(self, *, tenant: str, lead: Lead, agent_id: str, note: str | None,
                              at: datetime) -> Write:
        """The holder's request as a write (raises DomainError when the aggregate refuses it)."""
        supervisors = await self.supervisors_of(tenant, agent_id, lead.holder_team)
        decision = lead.request_deal_mark(agent_id, supervisors=supervisors, note=note, at=at)
        return lead, decision.change, self.embedded(tenant, lead.lead_id, decision.events)

    async def request_deal_mark(self, *, tenant: str, lead_id: str, agent_id: str, note: str | None) -> Doc:
        """The holder asks for the mark: a pending request; the lead stays unprotected until approved."""
        now = datetime.now(UTC)
        lead = await self._lead(tenant, lead_id)
        _, change, events = await self.deal_mark_write(tenant=tenant, lead=lead, agent_id=agent_id, note=note, at=now)
        return await self._commit_events(lead, change, events, now)

    async def decide_deal_mark(self, *, tenant: str, lead_id: str, request_id: str, decided_by: str, approve: bool,
                               reason: str | None) -> Doc:
        """The holder's supervisor approves (for the policy's `deal_mark_days`) or refuses a waiting request."""
        now = datetime.now(UTC)
        lead = await self._lead(tenant, lead_id)
        decision = lead.decide_deal_mark(request_id, decided_by=decided_by, approve=approve, reason=reason,
                                         policy=await self.policy(tenant), at=now)
        return await self._commit_or_conflict(lead, decision, now)

    async def requested_mark(self, *, tenant: str, lead: Lead, asked_by: str | None, note: str | None,
                             at: datetime) -> list[Write]:
        """A mark set with a stage change (over HTTP, or a CRM's event) is a request on behalf of the holder,
        if the lead is held (by `asked_by`, when named) and has none waiting or in force: its write, or none."""
        if lead.holder is None or asked_by not in (None, lead.holder):
            return []
        try:
            return [await self.deal_mark_write(tenant=tenant, lead=lead, agent_id=lead.holder, note=note, at=at)]
        except DomainError:
            return []  # asked already, or in force: nothing more to ask
