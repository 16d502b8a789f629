"""Leads arriving from lead-intake: a qualified lead lands in its public pool (leads.qualified.v1), is pushed
at once if the pool pushes on arrival (arrival.py), else serves the agents waiting on applications
(applications.py); a person arriving again is a touch, and a closed lead reopens (leads.merged.v1)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from telesales_runtime.consumer import Delivery
from telesales_runtime.observability import MESSAGES_CONSUMED

from .. import domain
from ..domain import AllocationPolicy, RoutingRule
from ..domain.lead import POOLED
from ..store import Doc
from ..store.lead_writes import lead_of, new_lead_document
from .arrival import Arrival
from .consent import Consent
from .dialing import Dialing, arrival_phones


class Intake(Arrival, Dialing, Consent):
    async def handle_qualified(self, deliveries: Sequence[Delivery]) -> None:
        for tenant, fresh in (await self.store.inbox.unprocessed_by_tenant(deliveries)).items():
            known, rules, policy, listed = await asyncio.gather(  # independent reads, at the same time
                self.store.existing_lead_ids(tenant, [d.event.data.lead_id for d in fresh]), self.routing(tenant),
                self.policy(tenant), self.store.listed_numbers(tenant, [p for d in fresh if (p := d.event.data.phone_e164)]))
            now = datetime.now(UTC)
            docs, seen = [], set(known)
            for delivery in fresh:
                data = delivery.event.data
                if data.lead_id in seen:  # redelivered under another event id: the lead is the key
                    continue
                seen.add(data.lead_id)
                docs.append(self._new_lead(tenant, data, rules, policy, now, listed=data.phone_e164 in listed))
            await self.store.insert_leads(docs, [self.store.inbox.entry(tenant, d.event.id, {"status": "pooled"})
                                                 for d in fresh])
            stored = await self._checked_arrivals(tenant, docs, listed, rules)
            await self.push_arrivals(tenant=tenant, docs=docs, stored=stored)
            await self.serve_applications(tenant=tenant, pool_ids={d["pool_id"] for d in docs})
            MESSAGES_CONSUMED.labels(self.settings.service_name, "leads.qualified.v1", "processed").inc(len(fresh))

    async def _checked_arrivals(self, tenant: str, docs: list[Doc], listed: set[str], rules: list[RoutingRule]
                                ) -> dict[str, Doc] | None:
        """After the insert and before any push: numbers listed meanwhile close their leads, and changes of
        consent read before their leads apply (a withdrawal closes). Read at the same time as the leads to
        push, which are returned as stored when neither found anything (else None: read them again)."""
        to_push = [d["_id"] for d in docs if d.get("status") == POOLED
                   and domain.arrival_push(rules, d.get("pool_id", "")) is not None]
        relisted, pendings, stored = await asyncio.gather(
            self.store.listed_numbers(tenant, arrival_phones(docs, listed)),
            self.store.pending_consents(tenant, [d["_id"] for d in docs]),
            self.store.get_leads(tenant, to_push) if to_push else _nothing())
        await self.close_relisted(tenant, relisted)
        await self.apply_pendings(tenant, pendings)
        return None if relisted or pendings else stored

    def _new_lead(self, tenant: str, data: Any, rules: list[RoutingRule], policy: AllocationPolicy, now: datetime,
                  *, listed: bool) -> Doc:
        """The stored document of a qualified lead: in the pool its routing names; a buyer (进取池) if
        lead-intake says the person bought for at least the tenant's threshold before; closed for good if its
        number is on the do-not-call list."""
        purchases = domain.purchases_in_attributes(data.attributes)
        pool_id = domain.route_pool(rules, business_line=data.business_line, product_interest=data.product_interest,
                                    region=data.region, score=data.score)
        return new_lead_document(tenant, data, pool_id=pool_id, buyer=domain.is_buyer(purchases, policy),
                                 purchases_fen=purchases, now=now, do_not_call=listed)

    async def handle_merged(self, deliveries: Sequence[Delivery]) -> None:
        """A person arrived again: count the touch; a closed lead is live again and goes back to its pool, where
        it arrives as a new lead does (pushed by a push-on-arrival pool, else serving the applications waiting).
        The same outside record sent again (matched on its reference) is neither; its references are kept."""
        for tenant, fresh in (await self.store.inbox.unprocessed_by_tenant(deliveries)).items():
            leads = await self.store.get_leads(tenant, [d.event.data.lead_id for d in fresh])
            now = datetime.now(UTC)
            writes, inbox, reopened = [], [], []
            for delivery in fresh:
                data = delivery.event.data
                doc = leads.get(data.lead_id)
                if doc is None:  # qualified and merged race on different partitions: retry later
                    await self.dead_letters.send(delivery.record, error_type="unknown_lead",
                                                 error=f"lead {data.lead_id} is not known to the allocator (yet)",
                                                 tenantid=tenant)
                    continue
                if doc.get("erased_at") is not None:  # an erased person's lead is not worked again (erasure.py)
                    inbox.append(self.store.inbox.entry(tenant, delivery.event.id, {"status": "erased"}))
                    continue
                lead = lead_of(doc)
                touch = lead.touched([r.model_dump() for r in data.external_refs], matched_on=data.matched_on, at=now)
                writes.append((lead, touch, []))
                inbox.append(self.store.inbox.entry(tenant, delivery.event.id, {"status": "touched"}))
                if touch.reopen:
                    reopened.append(lead.lead_id)
            await self.store.commit(writes, now, inbox_entries=inbox)
            await self.push_back(tenant=tenant, lead_ids=reopened)


async def _nothing() -> dict[str, Doc]:
    return {}
