"""The service layer: takes validated events, asks the domain, persists and announces, in one
transaction per batch. Thin on purpose: decisions live in domain.py, storage in store.py."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from telesales_contracts.activity import LeadComplaint
from telesales_contracts.leads import (
    LeadMerged,
    LeadOutcome,
    LeadRejected,
)
from telesales_contracts.topics import LEADS_COMPLAINT, LEADS_MERGED, LEADS_QUALIFIED, LEADS_REJECTED
from telesales_runtime.cache import TtlCache
from telesales_runtime.consumer import Delivery
from telesales_runtime.deadletter import DeadLetterPublisher
from telesales_runtime.observability import MESSAGES_CONSUMED
from telesales_runtime.outbox import encoded_outbox_row, outbox_row

from . import domain
from .checkers import NumberChecker
from .settings import LeadIntakeSettings
from .store import Doc, LeadStore

log = logging.getLogger(__name__)

@dataclass
class _Plan:
    """What one batch of one tenant will write."""

    new_leads: dict[str, Doc]  # by lead id, in insertion order
    merges: list[tuple[str, Doc]]
    inbox: list[Doc]
    outbox: list[Doc]
    outcomes: dict[str, int]


class IntakeService:
    def __init__(
        self,
        settings: LeadIntakeSettings,
        store: LeadStore,
        checker: NumberChecker,
        dead_letters: DeadLetterPublisher,
        notify_outbox: Callable[[], None],
    ) -> None:
        self.settings = settings
        self.store = store
        self.checker = checker
        self.dead_letters = dead_letters
        self.notify_outbox = notify_outbox
        self.test_numbers = frozenset(settings.test_numbers)
        self._weights = TtlCache(settings.config_cache_seconds)
        self._models = TtlCache(settings.config_cache_seconds)

    # ---- configuration -------------------------------------------------------------------------------

    async def weights(self, tenant: str) -> domain.ScoringWeights:
        cached = self._weights.get(tenant)
        if cached is None:
            cached, _version = await self.store.get_weights(tenant)
            self._weights.put(tenant, cached)
        return cached

    def forget_weights(self, tenant: str) -> None:
        self._weights.drop(tenant)

    async def _outcome_counts(self, tenant: str, lines: set[str]) -> dict[str, domain.OutcomeCounts]:
        out: dict[str, domain.OutcomeCounts] = {}
        missing = []
        for line in lines:
            cached = self._models.get((tenant, line))
            if cached is None:
                missing.append(line)
            else:
                out[line] = cached
        if missing:
            for line, counts in (await self.store.outcome_counts(tenant, missing)).items():
                self._models.put((tenant, line), counts)
                out[line] = counts
        return out

    # ---- leads.received.v1 ---------------------------------------------------------------------------

    async def handle_received(self, deliveries: Sequence[Delivery]) -> dict[str, int]:
        """Process a batch; returns how many leads were qualified, merged, rejected or skipped."""
        totals: dict[str, int] = defaultdict(int)
        by_tenant: dict[str, list[Delivery]] = defaultdict(list)
        for delivery in deliveries:
            by_tenant[delivery.event.tenantid].append(delivery)
        for tenant, items in by_tenant.items():
            for outcome, n in (await self._process_tenant_batch(tenant, items)).items():
                totals[outcome] += n
        for outcome, n in totals.items():
            MESSAGES_CONSUMED.labels(self.settings.service_name, "leads.received.v1",
                                     "duplicate" if outcome == "duplicate" else "processed").inc(n)
        return dict(totals)

    async def _process_tenant_batch(self, tenant: str, items: list[Delivery], attempts: int = 2) -> dict[str, int]:
        plan = await self._plan(tenant, items)
        try:
            await self.store.commit(new_leads=list(plan.new_leads.values()), merges=plan.merges,
                                    inbox_entries=plan.inbox, outbox_rows=plan.outbox)
        except DuplicateKeyError:
            # Another consumer stored one of these people (or these event ids) since we looked.
            # Redo the lead(s) one by one: the fresh look-up then finds them and merges.
            if len(items) > 1:
                totals: dict[str, int] = defaultdict(int)
                for item in items:
                    for outcome, n in (await self._process_tenant_batch(tenant, [item])).items():
                        totals[outcome] += n
                return dict(totals)
            if attempts <= 1:
                raise
            return await self._process_tenant_batch(tenant, items, attempts - 1)
        if plan.outbox:
            self.notify_outbox()
        return plan.outcomes

    async def _plan(self, tenant: str, items: list[Delivery]) -> _Plan:
        plan = _Plan({}, [], [], [], defaultdict(int))
        done = await self.store.inbox.processed(d.key for d in items)
        fresh = [d for d in items if d.key not in done]
        if len(fresh) < len(items):
            plan.outcomes["duplicate"] += len(items) - len(fresh)
        if not fresh:
            return plan

        cleaned = [(d, domain.standardize(d.event.data, self.settings.default_region)) for d in fresh]
        valid_phones = [c.phone for _, c in cleaned if c.phone is not None and c.phone.valid]
        dnc = await self.store.do_not_call_hits(tenant, sorted({p.e164 for p in valid_phones if p.e164}))
        checks = await self.checker.check(valid_phones, dnc)
        weights = await self.weights(tenant)
        models = await self._outcome_counts(tenant, {c.business_line for _, c in cleaned})

        accepted: list[tuple[Delivery, domain.CleanLead]] = []
        for delivery, clean in cleaned:
            e164 = clean.dedup_phone
            reasons = domain.junk_reasons(clean, on_do_not_call=e164 in dnc if e164 else False,
                                          check=checks.get(e164) if e164 else None, test_numbers=self.test_numbers)
            if reasons:
                self._reject(plan, tenant, delivery, clean, reasons)
            else:
                accepted.append((delivery, clean))

        matches = await self.store.find_matches(
            tenant,
            sorted({c.dedup_phone for _, c in accepted if c.dedup_phone}),
            sorted({c.dedup_email for _, c in accepted if c.dedup_email}),
        )
        # lead id and touches so far, by phone and by email (stored leads, then leads new in this batch)
        by_phone: dict[str, list[Any]] = {m["phone_e164"]: [m["_id"], m.get("touches_count", 1)]
                                          for m in matches if m.get("phone_e164")}
        by_email: dict[str, list[Any]] = {m["email"]: [m["_id"], m.get("touches_count", 1)]
                                          for m in matches if m.get("email")}
        for delivery, clean in accepted:
            touch = self._touch(delivery, clean)
            phone, email = clean.dedup_phone, clean.dedup_email
            existing, matched_on = (by_phone.get(phone), "phone") if phone and phone in by_phone else \
                                   (by_email.get(email), "email") if email and email in by_email else (None, None)
            if existing is not None:
                existing[1] += 1
                self._merge(plan, tenant, delivery, existing, matched_on, touch)
                continue
            score = domain.score_lead(clean, weights, models.get(clean.business_line))
            lead_id = self._qualify(plan, tenant, delivery, clean, score, checks.get(phone) if phone else None, touch)
            entry = [lead_id, 1]
            if phone:
                by_phone[phone] = entry
            if email:
                by_email[email] = entry  # the same list: touches counted once for both keys
        return plan

    @staticmethod
    def _touch(delivery: Delivery, clean: domain.CleanLead) -> dict[str, Any]:
        """A SourceTouch as stored and sent (plain data: one per lead on the hot path)."""
        return {"event_id": delivery.event.id, "source": delivery.event.source, "channel": clean.channel.value,
                "channel_raw": clean.channel_raw, "received_at": delivery.event.time}

    def _reject(self, plan: _Plan, tenant: str, delivery: Delivery, clean: domain.CleanLead,
                reasons: list[Any]) -> None:
        data = LeadRejected(reasons=reasons, phone_raw=clean.phone.raw if clean.phone else None,
                            phone_e164=clean.phone.e164 if clean.phone else None, email=clean.email,
                            channel=clean.channel, business_line=clean.business_line,
                            touch=self._touch(delivery, clean))
        event = LEADS_REJECTED.event(data, source=self.settings.source, tenantid=tenant, subject=delivery.event.id)
        plan.outbox.append(outbox_row(LEADS_REJECTED.name, event, data.phone_e164 or delivery.event.id))
        plan.inbox.append(self.store.inbox.entry(tenant, delivery.event.id, {
            "status": "rejected", "reasons": [r.model_dump(mode="json") for r in reasons]}))
        plan.outcomes["rejected"] += 1

    def _merge(self, plan: _Plan, tenant: str, delivery: Delivery, existing: list[Any],
               matched_on: str, touch: dict[str, Any]) -> None:
        lead_id, touches = existing
        new_lead = plan.new_leads.get(lead_id)
        touch_doc = dict(touch)
        if new_lead is not None:  # the first arrival is in this same batch
            new_lead["touches"].append(touch_doc)
            new_lead["touches_count"] += 1
        else:
            plan.merges.append((lead_id, touch_doc))
        data = LeadMerged(lead_id=lead_id, matched_on=matched_on, touch=touch, touches=touches)  # type: ignore[arg-type]
        event = LEADS_MERGED.event(data, source=self.settings.source, tenantid=tenant, subject=lead_id)
        plan.outbox.append(outbox_row(LEADS_MERGED.name, event, lead_id))
        plan.inbox.append(self.store.inbox.entry(tenant, delivery.event.id,
                                                 {"status": "merged", "lead_id": lead_id, "matched_on": matched_on}))
        plan.outcomes["merged"] += 1

    def _qualify(self, plan: _Plan, tenant: str, delivery: Delivery, clean: domain.CleanLead, score: domain.Score,
                 check: domain.NumberCheckResult | None, touch: dict[str, Any]) -> str:
        # Every accepted lead passes here: the event is built as plain data matching LeadQualified and
        # serialized once, without a second validation (the tests parse every emitted event).
        lead_id = str(ObjectId())
        phone = clean.phone
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
            "touch": touch,
            "notes": clean.notes,
            "attributes": dict(clean.attributes),
        }
        event_id, payload = LEADS_QUALIFIED.encode_trusted(data, source=self.settings.source, tenantid=tenant,
                                                           subject=lead_id)
        now = datetime.now(UTC)
        doc = {key: value for key, value in data.items() if key not in ("lead_id", "touch")}
        doc.update({
            "_id": lead_id,
            "tenant_id": tenant,
            "rule_score": score.rule_score,
            "model_features": score.features,
            "touches": [dict(touch)],
            "touches_count": 1,
            "received_at": delivery.event.time,
            "created_at": now,
            "updated_at": now,
        })
        plan.new_leads[lead_id] = doc
        plan.outbox.append(encoded_outbox_row(LEADS_QUALIFIED.name, event_id, tenant, payload, lead_id))
        plan.inbox.append(self.store.inbox.entry(tenant, delivery.event.id, {"status": "qualified", "lead_id": lead_id}))
        plan.outcomes["qualified"] += 1
        return lead_id

    # ---- leads.outcome.v1 ----------------------------------------------------------------------------

    async def handle_outcomes(self, deliveries: Sequence[Delivery]) -> None:
        fresh_by_tenant = await self.store.inbox.unprocessed_by_tenant(deliveries)
        duplicates = len(deliveries) - sum(len(items) for items in fresh_by_tenant.values())
        if duplicates:
            MESSAGES_CONSUMED.labels(self.settings.service_name, "leads.outcome.v1", "duplicate").inc(duplicates)
        for tenant, delivery in ((t, d) for t, items in fresh_by_tenant.items() for d in items):
            outcome: LeadOutcome = delivery.event.data
            lead = await self.store.get_lead(tenant, outcome.lead_id)
            if lead is None:
                # Valid, but about a lead this tenant does not have: keep it for a replay once it exists.
                await self.dead_letters.send(delivery.record, error_type="unknown_lead", tenantid=tenant,
                                             error=f"tenant {tenant!r} has no lead {outcome.lead_id!r}")
                continue
            line = outcome.business_line or lead["business_line"]
            increments = domain.OutcomeCounts.increments(lead["model_features"], outcome.outcome)
            record = {"outcome": outcome.outcome, "amount_fen": outcome.amount_fen, "event_id": delivery.event.id,
                      "decided_at": delivery.event.time}
            try:
                await self.store.record_outcome(
                    tenant=tenant, lead_id=outcome.lead_id, business_line=line, increments=increments, outcome=record,
                    inbox_entry=self.store.inbox.entry(tenant, delivery.event.id,
                                                       {"status": "outcome_recorded", "lead_id": outcome.lead_id}))
            except DuplicateKeyError:
                continue  # a concurrent delivery of the same event id recorded it first
            self._models.drop((tenant, line))
            MESSAGES_CONSUMED.labels(self.settings.service_name, "leads.outcome.v1", "processed").inc()

    # ---- leads.complaint.v1 --------------------------------------------------------------------------

    async def handle_complaints(self, deliveries: Sequence[Delivery]) -> None:
        """Each complaint puts a number on its tenant's do-not-call list: the one it names, else its lead's.
        Later leads with that number are rejected as `do_not_call`."""
        fresh_by_tenant = await self.store.inbox.unprocessed_by_tenant(deliveries)
        duplicates = len(deliveries) - sum(len(items) for items in fresh_by_tenant.values())
        if duplicates:
            MESSAGES_CONSUMED.labels(self.settings.service_name, LEADS_COMPLAINT.name, "duplicate").inc(duplicates)
        for tenant, delivery in ((t, d) for t, items in fresh_by_tenant.items() for d in items):
            complaint: LeadComplaint = delivery.event.data
            if complaint.phone_e164 is not None:
                # Written as the numbering plan writes it, so it matches the standardized numbers of leads.
                parsed = domain.standardize_phone(complaint.phone_e164, self.settings.default_region)
                phone = parsed.e164 if parsed is not None and parsed.e164 else complaint.phone_e164
            else:
                lead = await self.store.get_lead(tenant, complaint.lead_id)
                if lead is None:
                    # Valid, but about a lead this tenant does not have: keep it for a replay once it exists.
                    await self.dead_letters.send(delivery.record, error_type="unknown_lead", tenantid=tenant,
                                                 error=f"tenant {tenant!r} has no lead {complaint.lead_id!r}")
                    continue
                phone = lead.get("phone_e164")
                if not phone:
                    await self.dead_letters.send(delivery.record, error_type="no_phone", tenantid=tenant,
                                                 error=f"lead {complaint.lead_id!r} has no phone number and the "
                                                       "complaint names none")
                    continue
            reason = f"complaint: {complaint.reason}"
            inbox_entry = self.store.inbox.entry(tenant, delivery.event.id, {
                "status": "do_not_call", "lead_id": complaint.lead_id, "phone_e164": phone})
            try:
                await self.store.record_complaint(tenant=tenant, phone=phone, reason=reason, inbox_entry=inbox_entry)
            except DuplicateKeyError:
                # A concurrent delivery of the same event id recorded it first; or another complaint put
                # the same number on the list at the same moment: then once more, which finds its entry.
                if delivery.key in await self.store.inbox.processed([delivery.key]):
                    continue
                await self.store.record_complaint(tenant=tenant, phone=phone, reason=reason, inbox_entry=inbox_entry)
            MESSAGES_CONSUMED.labels(self.settings.service_name, LEADS_COMPLAINT.name, "processed").inc()
