"""What happens to leads elsewhere, from Kafka: stage moves from a CRM (leads.stage-changed.v1), calls
(calls.logged.v1), complaints (leads.complaint.v1) and signals (leads.signal.v1). The Lead aggregate
decides each change; every handler records the event ids it processed in the same transaction."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from telesales_contracts.activity import LeadStageChanged
from telesales_contracts.allocation import DistributionStrategy
from telesales_runtime.consumer import Delivery

from .. import domain
from ..domain import AllocationPolicy
from ..domain.changes import LeadChange
from ..domain.lead import CLOSED, HELD, POOLED, WON, Lead
from ..store import LEAN_LEAD, Doc
from ..store.lead_writes import lead_of
from ..store.roster import agent_of
from .deal_marks import DealMarks
from .distributing import Distributing


class Activity(Distributing, DealMarks):
    async def handle_stage_changes(self, deliveries: Sequence[Delivery]) -> None:
        for tenant, fresh in (await self.store.inbox.unprocessed_by_tenant(deliveries)).items():
            for delivery in fresh:
                change: LeadStageChanged = delivery.event.data
                doc = await self.store.get_lead(tenant, change.lead_id, LEAN_LEAD)
                if doc is None:
                    await self.dead_letters.send(delivery.record, error_type="unknown_lead",
                                                 error=f"lead {change.lead_id} is not known to the allocator",
                                                 tenantid=tenant)
                    continue
                now = datetime.now(UTC)
                lead = lead_of(doc)
                writes: list[tuple[Lead, LeadChange, list[Doc]]] = [(lead, Lead.stage_move(change, at=now), [])]
                if change.deal_in_progress:  # a CRM's mark is the holder's request too: its supervisor decides
                    writes += await self.requested_mark(tenant=tenant, lead=lead, asked_by=change.agent_id,
                                                        note=change.note, at=now)
                inbox = [self.store.inbox.entry(tenant, delivery.event.id, {"status": "stage_changed"})]
                await self.store.commit(writes, now, inbox_entries=inbox)
                if len(writes) > 1:
                    self.notify_leads()

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
            writes = []
            for lead_id, calls in per_lead.items():
                lead = lead_of(leads[lead_id])
                writes.append((lead, lead.record_calls(calls, policy, at=now, tz=self.tz), []))
            await self.store.commit(writes, now, inbox_entries=inbox)
            await self.store.add_talk_seconds(tenant, talk)

    async def handle_complaints(self, deliveries: Sequence[Delivery]) -> None:
        """A complaint ends the lead's calls: it leaves its agent and every pool for good."""
        for tenant, fresh in (await self.store.inbox.unprocessed_by_tenant(deliveries)).items():
            for delivery in fresh:
                complaint = delivery.event.data
                doc = await self.store.get_lead(tenant, complaint.lead_id, LEAN_LEAD)
                inbox = [self.store.inbox.entry(tenant, delivery.event.id, {"status": "do_not_call"})]
                if doc is None:
                    await self.store.inbox.record(inbox)
                    continue  # lead-intake lists the number; nothing is held here
                now = datetime.now(UTC)
                lead = lead_of(doc)
                decision = lead.complaint(complaint.reason, at=now)
                events = self.embedded(tenant, lead.lead_id, decision.events)
                await self.store.commit([(lead, decision.change, events)], now, inbox_entries=inbox)
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
            alerts = []
            inbox: list[Doc] = []
            one_by_one: list[Delivery] = []
            for delivery in fresh:
                doc = named.get(delivery.event.data.lead_id)
                if doc is None or doc["status"] != HELD:  # by phone, unknown, or for a dedicated agent
                    one_by_one.append(delivery)
                    continue
                lead = lead_of(doc)
                decision = lead.alert_holder(delivery.event.data, signal_event_id=delivery.event.id, at=now)
                alerts.append((lead, decision.change, self.embedded(tenant, lead.lead_id, decision.events)))
                inbox.append(self.store.inbox.entry(tenant, delivery.event.id, {"status": "signal"}))
            if alerts:
                await self.store.commit(alerts, now, inbox_entries=inbox)
                self.notify_leads()
            for delivery in one_by_one:
                await self._signal(tenant, delivery, policy)

    async def _signal(self, tenant: str, delivery: Delivery, policy: AllocationPolicy) -> None:
        signal = delivery.event.data
        if signal.lead_id is not None:
            doc = await self.store.get_lead(tenant, signal.lead_id, LEAN_LEAD)
        else:
            doc = await self.store.lead_by_phone(tenant, signal.phone_e164)
        inbox = [self.store.inbox.entry(tenant, delivery.event.id, {"status": "signal"})]
        if doc is None:
            await self.dead_letters.send(delivery.record, error_type="unknown_lead",
                                         error=f"no lead {signal.lead_id or signal.phone_e164} at the allocator",
                                         tenantid=tenant)
            return
        now = datetime.now(UTC)
        lead = lead_of(doc)
        if lead.status == HELD:
            decision = lead.alert_holder(signal, signal_event_id=delivery.event.id, at=now)
            await self.store.commit([(lead, decision.change, self.embedded(tenant, lead.lead_id, decision.events))],
                                    now, inbox_entries=inbox)
            self.notify_leads()
            return
        if lead.status in (POOLED, CLOSED, WON) and lead.dedicated_agent:
            if await self._to_dedicated_agent(tenant, lead, delivery, policy, now):
                await self.store.inbox.record(inbox)
                self.notify_leads()
                return
        await self.store.commit([(lead, Lead.hot(signal, alerted=None, at=now), [])], now, inbox_entries=inbox)

    async def _to_dedicated_agent(self, tenant: str, lead: Lead, delivery: Delivery, policy: AllocationPolicy,
                                  now: datetime) -> bool:
        """Give a lead nobody holds to the customer's dedicated agent, if active and below the cap, and tell
        them; whether it was given."""
        signal = delivery.event.data
        dedicated = lead.dedicated_agent
        assert dedicated is not None, lead.lead_id
        agent_doc = await self.store.get_agent(tenant, dedicated)
        agent = None if agent_doc is None else agent_of(agent_doc)
        if agent is None or not agent.active:
            return False
        async with self.guard.agents_locked(tenant, [dedicated]):
            held = await self.store.held_count(tenant, dedicated)
            if held >= agent.holding_cap(policy):
                return False
            alert = lead.alert(dedicated, signal, signal_event_id=delivery.event.id, routed="dedicated_agent")
            after = await self.assign(tenant=tenant, lead=lead, agent=agent, policy=policy, now=now,
                                      strategy=DistributionStrategy.DEDICATED_AGENT, assigned_by="system",
                                      from_statuses=(POOLED, CLOSED, WON), extra_events=[alert],
                                      also=Lead.hot(signal, alerted=dedicated, at=now))
        return after is not None
