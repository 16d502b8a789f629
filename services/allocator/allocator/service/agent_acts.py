"""What an agent does with a lead it holds, over HTTP: return it (退回), close it (关单), win it (成单), and
set its stage (asking for the deal-in-progress mark: deal_marks.py). The Lead aggregate decides; each
change is written only if the hold is still the one read."""

from __future__ import annotations

from datetime import UTC, datetime

from telesales_contracts.activity import LeadStageChanged
from telesales_contracts.topics import LEADS_STAGE_CHANGED

from ..domain.changes import LeadChange
from ..domain.lead import Lead
from ..store import LEAN_LEAD, Doc
from ..store.embedded_outbox import embedded_event
from .arrival import Arrival
from .deal_marks import DealMarks


class AgentActs(Arrival, DealMarks):
    async def return_lead(self, *, tenant: str, lead_id: str, agent_id: str, reason: str) -> Doc:
        now = datetime.now(UTC)
        lead = await self._lead(tenant, lead_id)
        after = await self._commit_or_conflict(lead, lead.give_back(agent_id, reason=reason, at=now), now)
        await self.push_back(tenant=tenant, lead_ids=[lead_id])  # a push pool pushes it on, never to `agent_id`
        return await self.store.get_lead(tenant, lead_id, LEAN_LEAD) or after

    async def close_lead(self, *, tenant: str, lead_id: str, agent_id: str, reason: str) -> Doc:
        now = datetime.now(UTC)
        lead = await self._lead(tenant, lead_id)
        return await self._commit_or_conflict(lead, lead.close(agent_id, reason=reason, at=now), now)

    async def win_lead(self, *, tenant: str, lead_id: str, agent_id: str, amount_fen: int) -> Doc:
        now = datetime.now(UTC)
        lead = await self._lead(tenant, lead_id)
        return await self._commit_or_conflict(lead, lead.win(agent_id, amount_fen=amount_fen, at=now), now)

    async def change_stage(self, *, tenant: str, lead_id: str, change: LeadStageChanged, publish: bool = True) -> Doc:
        """Set a lead's stage (HTTP) and announce it on leads.stage-changed.v1 in the same transaction as
        the inbox entry of that event, so this service's own consumer skips it."""
        now = datetime.now(UTC)
        lead = await self._lead(tenant, lead_id)
        advance = lead.change_stage(change, at=now)
        event = LEADS_STAGE_CHANGED.event(change, source=self.settings.source, tenantid=tenant, subject=lead_id)
        events = [embedded_event(event.id, LEADS_STAGE_CHANGED.name, event.to_json_bytes(), lead_id)] if publish else []
        inbox = [self.store.inbox.entry(tenant, event.id, {"status": "stage_changed", "by": "http"})]
        writes: list[tuple[Lead, LeadChange, list[Doc]]] = [(lead, advance, events)]
        if change.deal_in_progress:  # asked for, not set: the holder's supervisor decides
            writes += await self.requested_mark(tenant=tenant, lead=lead, asked_by=change.agent_id, note=change.note,
                                                at=now)
        await self.store.commit(writes, now, inbox_entries=inbox)
        self.notify_leads()
        after = await self.store.get_lead(tenant, lead_id, LEAN_LEAD)
        return after  # type: ignore[return-value]
