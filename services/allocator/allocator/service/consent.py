"""A lead's consent (leads.consent-changed.v1, from lead-intake, which keeps the statements): the allocator
keeps the lead's consent so agents see what the person agreed to, and a withdrawn telemarketing consent
closes the lead for good (pooled, held or closed; its holder told, allocation.closed.v1 with `do_not_call`),
so a later arrival of the person does not reopen it. A lead qualified with telemarketing withdrawn is stored
closed the same way (see store.lead_writes.new_lead_document). A change read before its lead is kept and
applied when the lead is stored (store/consent.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from telesales_contracts.consent import LeadConsentChanged, telemarketing
from telesales_runtime.consumer import Delivery

from ..store import LEAN_LEAD, Doc
from ..store.lead_writes import lead_of
from .core import LeadServiceCore

WITHDRAWN = "consent withdrawn: telemarketing"
CLOSE_ATTEMPTS = 5  # a lead that changed between read and write (a claim meanwhile) is judged again


class Consent(LeadServiceCore):
    async def handle_consent_changed(self, deliveries: Sequence[Delivery]) -> None:
        """Keep each lead's consent (a later change over an earlier); a withdrawal of telemarketing closes it."""
        for tenant, fresh in (await self.store.inbox.unprocessed_by_tenant(deliveries)).items():
            for delivery in fresh:
                change: LeadConsentChanged = delivery.event.data
                consent = [c.model_dump() for c in change.consent]
                kept = await self._apply(tenant, change.lead_id, consent, at=change.changed_at,
                                         change_id=delivery.event.id)
                if kept is None:  # read before its lead (two topics): kept, applied when the lead is stored
                    await self.store.keep_pending_consent(tenant, change.lead_id, consent, at=change.changed_at,
                                                          event_id=delivery.event.id)
                    await self.apply_pending_consent(tenant, [change.lead_id])  # stored meanwhile
                await self.store.inbox.record([self.store.inbox.entry(
                    tenant, delivery.event.id, {"status": "consent", "kept": kept})])

    async def apply_pending_consent(self, tenant: str, lead_ids: list[str]) -> None:
        """Changes of consent that came before these leads: applied now (handle_qualified calls it)."""
        await self.apply_pendings(tenant, await self.store.pending_consents(tenant, lead_ids))

    async def apply_pendings(self, tenant: str, pendings: Sequence[Doc]) -> None:
        """Apply changes of consent kept pending (read by apply_pending_consent) and forget them."""
        for pending in pendings:
            if await self._apply(tenant, pending["lead_id"], pending["consent"], at=pending["at"],
                                 change_id=pending["event_id"]) is not None:
                await self.store.drop_pending_consent(pending)

    async def _apply(self, tenant: str, lead_id: str, consent: list[dict[str, object]], *, at: datetime,
                     change_id: str) -> bool | None:
        """Keep the change (None: no such lead); a kept withdrawal of telemarketing closes the lead."""
        kept = await self.store.keep_consent(tenant, lead_id, consent, at=at)
        if kept and telemarketing(consent) is False:  # type: ignore[arg-type]
            await self._stop(tenant, lead_id, change_id=change_id)
        return kept

    async def _stop(self, tenant: str, lead_id: str, *, change_id: str) -> bool:
        for _attempt in range(CLOSE_ATTEMPTS):
            doc = await self.store.get_lead(tenant, lead_id, LEAN_LEAD)
            lead = lead_of(doc) if doc is not None else None
            now = datetime.now(UTC)
            decision = lead.stop_for_good(WITHDRAWN, kind="consent", ref=change_id, at=now) if lead else None
            if decision is None:
                return False
            events = self.embedded(tenant, lead_id, decision.events)
            if await self.store.commit_if(lead, decision.change, events, now) is not None:  # type: ignore[arg-type]
                self.notify_leads()
                return True
        return False
