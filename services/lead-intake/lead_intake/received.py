"""What one batch of one tenant's leads.received.v1 comes to: the leads it creates, the touches it adds to known
leads or updates, its answers (leads.qualified/merged/rejected.v1) and its inbox entries, all planned before
one transaction writes them (store.LeadStore.commit). Decisions are the domain's; this only puts them together.

A known lead is found, in this order, by the outside reference of the arrival (its producing system and that
system's own id of the lead: the same outside record again, whose touch is updated), by phone, by email.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId

from telesales_contracts.leads import MAX_EXTERNAL_REFS, LeadMerged, LeadRejected
from telesales_contracts.topics import LEADS_MERGED, LEADS_QUALIFIED, LEADS_REJECTED
from telesales_runtime.consumer import Delivery
from telesales_runtime.outbox import encoded_outbox_row, outbox_row

from . import domain
from .store import Doc, LeadStore


@dataclass
class Known:
    """A lead the batch may meet again: stored before, or new in this batch."""

    lead_id: str
    touches: int
    refs: list[domain.Ref]


@dataclass
class Plan:
    """What one batch of one tenant will write."""

    new_leads: dict[str, Doc] = field(default_factory=dict)  # by lead id, in insertion order
    merges: list[tuple[str, Doc, domain.Ref | None]] = field(default_factory=list)  # lead id, touch, its ref
    touch_updates: list[tuple[str, domain.Ref, Doc]] = field(default_factory=list)  # lead id, ref, new touch
    inbox: list[Doc] = field(default_factory=list)
    outbox: list[Doc] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=lambda: defaultdict(int))


@dataclass
class Arrival:
    """One fresh delivery, standardized, with its touch."""

    delivery: Delivery
    clean: domain.CleanLead
    touch: dict[str, Any]

    @property
    def ref(self) -> domain.Ref | None:
        return domain.ref_of(self.touch)

    @property
    def event_id(self) -> str:
        return self.delivery.event.id


def arrival(delivery: Delivery, default_region: str) -> Arrival:
    event = delivery.event
    clean = domain.standardize(event.data, default_region)
    return Arrival(delivery, clean, domain.touch(event_id=event.id, event_source=event.source, event_type=event.type,
                                                 received_at=event.time, clean=clean))


class Planner:
    """Plans the answers of one tenant's batch (see the module)."""

    def __init__(self, store: LeadStore, source: str, tenant: str) -> None:
        self.store = store
        self.source = source
        self.tenant = tenant
        self.plan = Plan()
        self.by_ref: dict[tuple[str, str], Known] = {}
        self.by_phone: dict[str, Known] = {}
        self.by_email: dict[str, Known] = {}

    def know(self, matches: Sequence[Doc]) -> None:
        """The stored leads the batch may meet, as find_matches returned them."""
        for match in matches:
            known = Known(match["_id"], match.get("touches_count", 1), list(match.get("external_refs") or ()))
            self._remember(known, match.get("phone_e164"), match.get("email"))

    def _remember(self, known: Known, phone: str | None, email: str | None) -> None:
        for ref in known.refs:
            self.by_ref[domain.ref_key(ref)] = known
        if phone:
            self.by_phone[phone] = known
        if email:
            self.by_email[email] = known

    def place(self, item: Arrival, score: Any, check: domain.NumberCheckResult | None) -> None:
        """An accepted arrival: the same outside record again, a repeat of a known person, or a new lead.
        `score` is called only for a new lead."""
        ref, clean = item.ref, item.clean
        known = self.by_ref.get(domain.ref_key(ref)) if ref else None
        if known is not None:
            self._update_touch(item, known, ref)  # type: ignore[arg-type]
            return
        phone, email = clean.dedup_phone, clean.dedup_email
        known, matched_on = (self.by_phone.get(phone), "phone") if phone and phone in self.by_phone else \
                            (self.by_email.get(email), "email") if email and email in self.by_email else (None, "")
        if known is not None:
            self._merge(item, known, matched_on)
        else:
            self._qualify(item, score(), check)

    # ---- answers ----------------------------------------------------------------------------------------

    def reject(self, item: Arrival, reasons: list[Any]) -> None:
        clean, delivery = item.clean, item.delivery
        data = LeadRejected(reasons=reasons, phone_raw=clean.phone.raw if clean.phone else None,
                            phone_e164=clean.phone.e164 if clean.phone else None, email=clean.email,
                            channel=clean.channel, business_line=clean.business_line, touch=item.touch)
        event = LEADS_REJECTED.event(data, source=self.source, tenantid=self.tenant, subject=delivery.event.id)
        self.plan.outbox.append(outbox_row(LEADS_REJECTED.name, event, data.phone_e164 or delivery.event.id))
        self.plan.inbox.append(self.store.inbox.entry(self.tenant, delivery.event.id, {
            "status": "rejected", "reasons": [r.model_dump(mode="json") for r in reasons]}))
        self.plan.outcomes["rejected"] += 1

    def _merged(self, item: Arrival, known: Known, matched_on: str) -> None:
        data = LeadMerged(lead_id=known.lead_id, matched_on=matched_on, touch=item.touch,  # type: ignore[arg-type]
                          touches=known.touches, external_refs=known.refs, extra=item.clean.extra)
        event = LEADS_MERGED.event(data, source=self.source, tenantid=self.tenant, subject=known.lead_id)
        self.plan.outbox.append(outbox_row(LEADS_MERGED.name, event, known.lead_id))
        self.plan.inbox.append(self.store.inbox.entry(self.tenant, item.event_id, {
            "status": "merged", "lead_id": known.lead_id, "matched_on": matched_on}))
        self.plan.outcomes["merged"] += 1

    def _merge(self, item: Arrival, known: Known, matched_on: str) -> None:
        """A repeat of a known person: its touch is appended (and its outside reference, if new and the lead has
        fewer than MAX_EXTERNAL_REFS: beyond, the touch alone records it)."""
        ref = item.ref if len(known.refs) < MAX_EXTERNAL_REFS else None
        known.touches += 1
        known.refs = domain.with_ref(known.refs, ref)
        if ref is not None:
            self.by_ref[domain.ref_key(ref)] = known
        stored = domain.touch_doc(item.touch, item.clean.extra)
        new_lead = self.plan.new_leads.get(known.lead_id)
        if new_lead is not None:  # the first arrival is in this same batch
            new_lead["touches"].append(stored)
            new_lead["touches_count"] += 1
            if ref is not None:
                new_lead["external_refs"] = known.refs
        else:
            self.plan.merges.append((known.lead_id, stored, ref))
        self._merged(item, known, matched_on)

    def _update_touch(self, item: Arrival, known: Known, ref: domain.Ref) -> None:
        """The same outside record again (same system, same id): its touch is updated, none is added."""
        stored = domain.touch_doc(item.touch, item.clean.extra)
        new_lead = self.plan.new_leads.get(known.lead_id)
        if new_lead is not None:
            new_lead["touches"] = [stored if domain.ref_of(t) == ref else t for t in new_lead["touches"]]
        else:
            self.plan.touch_updates.append((known.lead_id, ref, stored))
        self._merged(item, known, "external_ref")

    def _qualify(self, item: Arrival, score: domain.Score, check: domain.NumberCheckResult | None) -> None:
        # Every new lead passes here: the event is built as plain data matching LeadQualified and serialized
        # once, without a second validation (the tests parse every emitted event).
        clean, delivery = item.clean, item.delivery
        lead_id = str(ObjectId())
        phone = clean.phone
        refs = domain.with_ref([], item.ref)
        data: dict[str, Any] = {
            "lead_id": lead_id,
            "phone_e164": clean.dedup_phone,
            "email": clean.dedup_email,
            "name": clean.name,
            "company": clean.company,
            "channel": clean.channel.value,
            "channel_raw": clean.channel_raw,
            "business_line": clean.business_line,
            "product_interest": clean.product_interest,
            "region": clean.region,
            "carrier": phone.carrier if phone else None,
            "number_type": phone.number_type.value if phone else None,
            "number_check": {"checker": check.checker, "status": check.status, "detail": check.detail}
            if check else None,
            "score": score.score,
            "grade": score.grade,
            "score_breakdown": score.breakdown,
            "model": score.model.model_dump() if score.model else None,
            "touch": item.touch,
            "notes": clean.notes,
            "attributes": dict(clean.attributes),
            "external_refs": refs,
            "extra": dict(clean.extra),
        }
        event_id, payload = LEADS_QUALIFIED.encode_trusted(data, source=self.source, tenantid=self.tenant,
                                                           subject=lead_id)
        now = datetime.now(UTC)
        doc = {key: value for key, value in data.items() if key not in ("lead_id", "touch", "extra", "external_refs")}
        doc.update({
            "_id": lead_id,
            "tenant_id": self.tenant,
            "rule_score": score.rule_score,
            "model_features": score.features,
            "touches": [domain.touch_doc(item.touch, clean.extra)],
            "touches_count": 1,
            "received_at": delivery.event.time,
            "created_at": now,
            "updated_at": now,
        })
        if refs:  # stored only when there is one: the unique index on them takes leads that have one
            doc["external_refs"] = refs
        self.plan.new_leads[lead_id] = doc
        self.plan.outbox.append(encoded_outbox_row(LEADS_QUALIFIED.name, event_id, self.tenant, payload, lead_id))
        self.plan.inbox.append(self.store.inbox.entry(self.tenant, item.event_id,
                                                      {"status": "qualified", "lead_id": lead_id}))
        self.plan.outcomes["qualified"] += 1
        self._remember(Known(lead_id, 1, refs), clean.dedup_phone, clean.dedup_email)
