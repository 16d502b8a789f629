"""Confirming wins (domain/wins.py): by an order on leads.outcome.v1 from the CRM or payment system, or by
the winner's supervisor over HTTP. Only confirmed wins count toward grades, rankings and the buyer pool."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from telesales_contracts.leads import LeadOutcome
from telesales_runtime.consumer import Delivery

from ..domain import DomainError
from ..domain.wins import ORDER, SUPERVISOR, confirm_win
from ..store import LEAN_LEAD, Doc
from ..store.lead_writes import lead_of
from .deal_marks import DealMarks


class Wins(DealMarks):
    async def confirm_win(self, *, tenant: str, lead_id: str, supervisor: str, order_ref: str | None,
                          amount_fen: int | None) -> Doc:
        """The winner's supervisor confirms a declared win (the caller's scope is checked by the API)."""
        now = datetime.now(UTC)
        lead = await self._lead(tenant, lead_id)
        decision = confirm_win(lead, by=SUPERVISOR, confirmer=supervisor, policy=await self.policy(tenant), at=now,
                               order_ref=order_ref, amount_fen=amount_fen)
        assert decision is not None  # a supervisor's second confirmation is refused, not ignored
        return await self._commit_or_conflict(lead, decision, now)

    async def handle_outcomes(self, deliveries: Sequence[Delivery]) -> None:
        """Won outcomes from outside the platform are orders: each confirms its lead's win (or wins a held lead
        for its holder). Our own outcomes (an agent's declaration) and lost outcomes confirm nothing."""
        for tenant, fresh in (await self.store.inbox.unprocessed_by_tenant(deliveries)).items():
            policy = await self.policy(tenant)
            for delivery in fresh:
                outcome: LeadOutcome = delivery.event.data
                source = delivery.event.source
                status = "not_an_order" if outcome.outcome != "won" or source == self.settings.source else None
                doc = None if status else await self._lead_of_outcome(tenant, outcome, source)
                if status is None and doc is None:
                    named = outcome.lead_id or f"{outcome.source_system or source}/{outcome.external_id}"
                    await self.dead_letters.send(delivery.record, error_type="unknown_lead", tenantid=tenant,
                                                 error=f"lead {named} is not known to the allocator")
                    continue
                now = datetime.now(UTC)
                writes = []
                if doc is not None:
                    lead = lead_of(doc)
                    try:
                        decision = confirm_win(lead, by=ORDER, confirmer=outcome.source_system or source,
                                               policy=policy, at=now, order_ref=outcome.order_ref,
                                               amount_fen=outcome.amount_fen)
                    except DomainError as error:
                        await self.dead_letters.send(delivery.record, error_type=error.code, tenantid=tenant,
                                                     error=error.message)
                        continue
                    status = "confirmed" if decision else "confirmed_before"
                    if decision is not None:
                        writes.append((lead, decision.change, self.embedded(tenant, lead.lead_id, decision.events)))
                inbox = [self.store.inbox.entry(tenant, delivery.event.id, {"status": status})]
                await self.store.commit(writes, now, inbox_entries=inbox)
                if writes:
                    self.notify_leads()

    async def _lead_of_outcome(self, tenant: str, outcome: LeadOutcome, source: str) -> Doc | None:
        if outcome.lead_id is not None:
            return await self.store.get_lead(tenant, outcome.lead_id, LEAN_LEAD)
        assert outcome.external_id is not None  # the contract names a lead one way or the other
        return await self.store.lead_by_ref(tenant, outcome.source_system or source, outcome.external_id)
