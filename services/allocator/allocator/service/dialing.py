"""Who may dial what, and the do-not-call list. A dialer or the console asks before dialling
(`may_dial`): the Lead aggregate answers, with the tenant's list as the allocator knows it. A number put on
the list (leads.do-not-call.v1, from lead-intake, which owns the list) closes every lead of the tenant with
it, pooled, held or closed, in every pool; holders are told (allocation.closed.v1 with `do_not_call`), and
a lead arriving later with the number is stored closed (`listed_on_arrival`).

A tenant that calls through a number-privacy provider (policy `number_privacy`) gets, for an allowed dial
only, a middle number bound to the customer (privacy/): the rules above are judged first, so a lead the
agent may not dial never gets a binding."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from telesales_contracts.activity import DoNotCallChanged
from telesales_runtime.consumer import Delivery
from telesales_runtime.masking import mask_phone

from ..domain import DomainError
from ..domain.dialing import DialVerdict, binding_outlived, binding_reference, dial_plan
from ..privacy import Binding, PrivacyError, PrivacyProviders
from ..store import Doc
from ..store.dial_bindings import DialBindingStore
from ..store.lead_writes import lead_of
from .core import LeadServiceCore

log = logging.getLogger(__name__)
# How often a lead that changed between read and write is judged again (a claim or a return meanwhile).
CLOSE_ATTEMPTS = 5
# Live bindings the sweep looks at per round.
BINDINGS_PER_SWEEP = 1000


@dataclass(frozen=True, slots=True)
class DialOutcome:
    """The answer to a dial: the verdict, and the middle number bound for it (when the tenant uses a provider)."""

    verdict: DialVerdict
    binding: Binding | None = None
    provider: str | None = None


class Dialing(LeadServiceCore):
    privacy: PrivacyProviders = PrivacyProviders({})  # the deployment's adapters (main.py)
    dial_bindings: DialBindingStore | None = None  # the bindings made, to end outlived ones (main.py)

    async def may_dial(self, *, tenant: str, lead_id: str, agent_id: str, agent_number: str | None = None,
                       check_only: bool = False) -> DialOutcome:
        """Whether `agent_id` may dial the lead now (why not, if not); when allowed in a tenant with a
        number-privacy provider, the middle number bound for it (unless `check_only`). PrivacyError when the
        provider cannot bind."""
        doc = await self.store.get_lead(tenant, lead_id, {"outbox": 0, "recent_calls": 0, "holds": 0,
                                                          "history": 0, "drops": 0})
        if doc is None:
            raise DomainError("unknown_lead", f"there is no lead {lead_id!r}")
        lead = lead_of(doc)
        listed = bool(lead.phone_e164) and bool(await self.store.listed_numbers(tenant, [lead.phone_e164 or ""]))
        policy = await self.policy(tenant)
        plan, verdict = dial_plan(lead.may_dial(agent_id, now=datetime.now(UTC), number_listed=listed),
                                  provider=policy.number_privacy, has_number=bool(lead.phone_e164))
        if plan != "bind" or check_only:
            return DialOutcome(verdict)
        reference = binding_reference(tenant=tenant, lead_id=lead_id, agent_id=agent_id)
        binding = await self.privacy.get(policy.number_privacy).bind(
            customer_number=lead.phone_e164 or "", agent_number=agent_number,
            ttl_seconds=policy.privacy_binding_seconds, reference=reference)
        if self.dial_bindings is not None:
            await self.dial_bindings.record(reference=reference, tenant=tenant, lead_id=lead_id, agent_id=agent_id,
                                            provider=policy.number_privacy, binding_id=binding.binding_id,
                                            expires_at=binding.expires_at)
        return DialOutcome(verdict, binding, policy.number_privacy)

    async def end_outlived_bindings(self, now: datetime | None = None) -> int:
        """End the live bindings whose lead has left the agent they were made for (the sweep runs this); how
        many were ended. A provider that fails keeps its binding for the next round (it expires anyway)."""
        if self.dial_bindings is None:
            return 0
        ended = 0
        for record in await self.dial_bindings.live(now or datetime.now(UTC), BINDINGS_PER_SWEEP):
            lead = await self.store.get_lead(record["tenant_id"], record["lead_id"], {"status": 1, "holder": 1})
            if lead is not None and not binding_outlived(status=lead["status"], holder=lead.get("holder"),
                                                         agent_id=record["agent_id"]):
                continue
            try:
                await self.privacy.get(record["provider"]).unbind(record["binding_id"])
            except PrivacyError as error:
                log.warning("could not end a binding", extra={"tenant": record["tenant_id"], "code": error.code,
                                                              "lead_id": record["lead_id"]})
                continue
            await self.dial_bindings.forget(record["_id"], record["binding_id"])
            ended += 1
        return ended

    async def handle_do_not_call(self, deliveries: Sequence[Delivery]) -> None:
        """Each change of the list: kept (the latest of a number wins); a listing closes the number's leads,
        found by the number's blind index (the event carries no number)."""
        for tenant, fresh in (await self.store.inbox.unprocessed_by_tenant(deliveries)).items():
            for delivery in fresh:
                change: DoNotCallChanged = delivery.event.data
                # a record published before the topic was keyed by blind index names the number itself
                bidx = change.phone_bidx or self.store.sealing.phone_index(tenant, change.phone_e164 or "")
                masked = change.phone_masked or mask_phone(change.phone_e164)
                # the listing first: a lead arriving meanwhile sees it, or is found below (see handle_qualified)
                kept = await self.store.record_listing(
                    tenant=tenant, phone_bidx=bidx, phone_masked=masked, listed=change.listed, reason=change.reason,
                    source=change.source.value, changed_at=change.changed_at, event_id=delivery.event.id)
                if kept and change.listed:
                    await self.close_leads_with_number(tenant=tenant, phone_bidx=bidx, phone=change.phone_e164,
                                                       reason=change.reason or change.source.value,
                                                       listing_id=delivery.event.id)
                await self.store.inbox.record([self.store.inbox.entry(tenant, delivery.event.id,
                                                                      {"status": "do_not_call", "kept": kept})])

    async def close_leads_with_number(self, *, tenant: str, phone_bidx: str, reason: str, listing_id: str,
                                      phone: str | None = None) -> int:
        """Close every open lead of the tenant with this number (by its blind index; by `phone` too, when known,
        for leads stored before encryption), each written only if still as judged (else judged again); how many
        were closed. Idempotent: a closed-for-good lead is not judged again."""
        closed = 0
        for _attempt in range(CLOSE_ATTEMPTS):
            pending = await self.store.open_leads_with_number(tenant, phone_bidx, phone)
            if not pending:
                break
            now = datetime.now(UTC)
            for doc in pending:
                closed += await self._close_one(doc, reason=reason, listing_id=listing_id, now=now)
        if closed:
            self.notify_leads()
        return closed

    async def _close_one(self, doc: Doc, *, reason: str, listing_id: str, now: datetime) -> int:
        lead = lead_of(doc)
        decision = lead.number_listed(reason, listing_id=listing_id, at=now)
        if decision is None:
            return 0
        after = await self.store.commit_if(lead, decision.change,
                                           self.embedded(lead.tenant_id, lead.lead_id, decision.events), now)
        return 0 if after is None else 1

    async def close_listed_arrivals(self, tenant: str, docs: Sequence[Doc], listed_before: set[str]) -> None:
        """Leads just stored whose number was listed while they were being stored (the listing's own sweep
        may have run before they existed): closed now, so no arrival slips past the list."""
        await self.close_relisted(tenant, await self.store.listed_numbers(tenant, arrival_phones(docs, listed_before)))

    async def close_relisted(self, tenant: str, listed: set[str]) -> None:
        """Close the leads of numbers found listed after their arrivals were stored (close_listed_arrivals)."""
        for phone in sorted(listed):
            listing = await self.store.listing(tenant, phone) or {}
            await self.close_leads_with_number(tenant=tenant, phone_bidx=self.store.sealing.phone_index(tenant, phone),
                                               phone=phone, listing_id=str(listing.get("event_id", "arrival")),
                                               reason=str(listing.get("reason") or "listed"))


def arrival_phones(docs: Sequence[Doc], listed_before: set[str]) -> list[str]:
    """The numbers of leads just stored to look up on the do-not-call list again (those not listed before)."""
    return sorted({d["phone_e164"] for d in docs if d.get("phone_e164")} - listed_before)
