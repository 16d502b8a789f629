"""Confirming and rejecting wins (domain/wins.py): by an outcome on leads.outcome.v1 from the CRM or payment
system (won: an order confirms; lost: the order was lost, a declared win is rejected), or by the winner's
supervisor over HTTP. Only confirmed wins count toward grades, rankings and the buyer pool."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from telesales_contracts.leads import LeadOutcome
from telesales_runtime.consumer import Delivery

from ..domain import AllocationPolicy, DomainError
from ..domain.changes import Decision
from ..domain.lead import Lead
from ..domain.wins import ORDER, SUPERVISOR, confirm_win, reject_win
from ..store import LEAN_LEAD, Doc
from ..store.lead_writes import lead_of
from .deal_marks import DealMarks

# The inbox's answer to a lost outcome, by what it met (a lost outcome with no declared win changes nothing).
_LOST_STATUS = {"not_won": "not_an_order", "rejected": "win_rejected", "confirmed_before": "lost_after_confirmed_win"}


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

    async def reject_win(self, *, tenant: str, lead_id: str, supervisor: str, reason: str) -> Doc:
        """The winner's supervisor rejects a declared win: the lead is held by its winner again (the caller's
        scope is checked by the API)."""
        now = datetime.now(UTC)
        lead = await self._lead(tenant, lead_id)
        decision = reject_win(lead, by=SUPERVISOR, rejecter=supervisor, reason=reason, at=now)
        assert decision is not None  # a supervisor's rejection of a confirmed win is refused, not ignored
        return await self._commit_or_conflict(lead, decision, now)

    async def handle_outcomes(self, deliveries: Sequence[Delivery]) -> None:
        """Outcomes from outside the platform: a won one is an order, which confirms its lead's win (or wins a
        held lead for its holder); a lost one rejects its lead's unconfirmed win. Our own outcomes (a supervisor's
        confirmation, an agent's close) change nothing here."""
        for tenant, fresh in (await self.store.inbox.unprocessed_by_tenant(deliveries)).items():
            policy = await self.policy(tenant)
            for delivery in fresh:
                await self._outcome(tenant, delivery, policy)

    async def _outcome(self, tenant: str, delivery: Delivery, policy: AllocationPolicy) -> None:
        outcome: LeadOutcome = delivery.event.data
        source = delivery.event.source
        if source == self.settings.source:
            return await self._answer(tenant, delivery, "not_an_order")
        doc = await self._lead_of_outcome(tenant, outcome, source)
        if doc is None and outcome.outcome == "lost":  # as ever: a lost lead we do not know is none of ours
            return await self._answer(tenant, delivery, "not_an_order")
        if doc is None:
            named = outcome.lead_id or f"{outcome.source_system or source}/{outcome.external_id}"
            return await self.dead_letters.send(delivery.record, error_type="unknown_lead", tenantid=tenant,
                                                error=f"lead {named} is not known to the allocator")
        lead, now, system = lead_of(doc), datetime.now(UTC), outcome.source_system or source
        try:
            if outcome.outcome == "won":
                decision = confirm_win(lead, by=ORDER, confirmer=system, policy=policy, at=now,
                                       order_ref=outcome.order_ref, amount_fen=outcome.amount_fen)
                status = "confirmed" if decision else "confirmed_before"
            else:
                decision = reject_win(lead, by=ORDER, rejecter=system, at=now, order_ref=outcome.order_ref,
                                      reason=f"{system} says the order was lost")
                status = _LOST_STATUS["rejected" if decision else "confirmed_before"]
        except DomainError as error:
            if outcome.outcome == "lost" and error.code == "not_won":
                return await self._answer(tenant, delivery, _LOST_STATUS["not_won"])
            return await self.dead_letters.send(delivery.record, error_type=error.code, tenantid=tenant,
                                                error=error.message)
        await self._answer(tenant, delivery, status, lead, decision, now)

    async def _answer(self, tenant: str, delivery: Delivery, status: str, lead: Lead | None = None,
                      decision: Decision | None = None, now: datetime | None = None) -> None:
        """The outcome's answer in the inbox, with the decision it caused (if any) in the same transaction."""
        writes = []
        if lead is not None and decision is not None:
            writes.append((lead, decision.change, self.embedded(tenant, lead.lead_id, decision.events)))
        inbox = [self.store.inbox.entry(tenant, delivery.event.id, {"status": status})]
        await self.store.commit(writes, now or datetime.now(UTC), inbox_entries=inbox)
        if writes:
            self.notify_leads()

    async def _lead_of_outcome(self, tenant: str, outcome: LeadOutcome, source: str) -> Doc | None:
        if outcome.lead_id is not None:
            return await self.store.get_lead(tenant, outcome.lead_id, LEAN_LEAD)
        assert outcome.external_id is not None  # the contract names a lead one way or the other
        return await self.store.lead_by_ref(tenant, outcome.source_system or source, outcome.external_id)
