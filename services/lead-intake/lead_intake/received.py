"""What one batch of one tenant's leads.received.v1 comes to: each fresh arrival is rejected as junk, or placed
on the lead it meets, or qualified as a new lead. The intake's Lead (domain/lead.py) decides each; this finds
which lead an arrival meets and collects the decisions into one Batch (domain/changes.py), which one
transaction writes (store.LeadStore.commit).

A known lead is found, in this order, by the outside reference of the arrival (its producing system and that
system's own id of the lead: the same outside record again, whose touch is updated), by phone, by email.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from bson import ObjectId

from telesales_contracts.leads import Rejection
from telesales_runtime.consumer import Delivery

from . import domain
from .domain import Arrival, Batch, IntakeLead


def arrival(delivery: Delivery, default_region: str) -> Arrival:
    event = delivery.event
    clean = domain.standardize(event.data, default_region)
    touch = domain.touch(event_id=event.id, event_source=event.source, event_type=event.type,
                         received_at=event.time, clean=clean)
    statement = domain.consent_statement(clean.consent, received_at=event.time, source=touch["source_system"],
                                         event_id=event.id)
    return Arrival(event.id, event.time, clean, touch, statement)


class Planner:
    """Plans one tenant's batch (see the module)."""

    def __init__(self, policy: domain.ConsentPolicy | None = None) -> None:
        self.policy = policy or domain.ConsentPolicy()
        self.batch = Batch()
        self.by_ref: dict[tuple[str, str], IntakeLead] = {}
        self.by_phone: dict[str, IntakeLead] = {}
        self.by_email: dict[str, IntakeLead] = {}

    def know(self, leads: Sequence[IntakeLead]) -> None:
        """The stored leads the batch may meet (store.find_matches)."""
        for lead in leads:
            self._remember(lead)

    def _remember(self, lead: IntakeLead) -> None:
        for ref in lead.refs:
            self.by_ref[domain.ref_key(ref)] = lead
        if lead.phone_e164:
            self.by_phone[lead.phone_e164] = lead
        if lead.email:
            self.by_email[lead.email] = lead

    def reject(self, item: Arrival, reasons: list[Rejection]) -> None:
        self.batch.add(domain.reject(item, reasons))

    def place(self, item: Arrival, score: Callable[[], domain.Score], check: domain.NumberCheckResult | None) -> None:
        """An accepted arrival: the same outside record again, a repeat of a known person (both take its consent
        statement), or a new lead, unless its consent keeps it out of the pools (rejected: no_consent). `score`
        is called only for a new lead."""
        ref, clean = item.ref, item.clean
        known = self.by_ref.get(domain.ref_key(ref)) if ref else None
        if known is not None:
            self.batch.add(known.same_record_again(item, ref))  # type: ignore[arg-type]
            return
        phone, email = clean.dedup_phone, clean.dedup_email
        known, matched_on = (self.by_phone.get(phone), "phone") if phone and phone in self.by_phone else \
                            (self.by_email.get(email), "email") if email and email in self.by_email else (None, "")
        if known is not None:
            self.batch.add(known.repeat(item, matched_on))  # type: ignore[arg-type]
            if ref is not None and ref in known.refs:  # taken (the lead had room for it): the next meets it
                self.by_ref[domain.ref_key(ref)] = known
            return
        refused = domain.admission(item.consent, self.policy, disbelieved=item.statement.disbelieved)
        if refused is not None:  # nothing stored: a later arrival with consent qualifies the person
            self.reject(item, [refused])
            return
        lead, decision = IntakeLead.qualify(item, lead_id=str(ObjectId()), score=score(), check=check,
                                            at=datetime.now(UTC))
        self.batch.add(decision)
        self._remember(lead)
