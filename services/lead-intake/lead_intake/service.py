"""The service layer: takes validated events, asks the domain, persists and announces, in one
transaction per batch. Thin on purpose: decisions live in domain/ (the intake's Lead: domain/lead.py), storage in store.py."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial

from pymongo.errors import DuplicateKeyError

from telesales_contracts.activity import DoNotCallSource, LeadComplaint
from telesales_contracts.leads import LeadOutcome
from telesales_contracts.topics import LEADS_COMPLAINT
from telesales_runtime.cache import TtlCache
from telesales_runtime.consumer import Delivery
from telesales_runtime.deadletter import DeadLetterPublisher
from telesales_runtime.observability import MESSAGES_CONSUMED

from . import domain
from .checkers import NumberChecker
from .domain import Arrival, Batch
from .received import Planner, arrival
from .settings import LeadIntakeSettings
from .store import Doc, LeadStore, StaleMatch

log = logging.getLogger(__name__)

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
        self._consent = TtlCache(settings.config_cache_seconds)

    # ---- configuration -------------------------------------------------------------------------------

    async def weights(self, tenant: str) -> domain.ScoringWeights:
        cached = self._weights.get(tenant)
        if cached is None:
            cached, _version = await self.store.get_weights(tenant)
            self._weights.put(tenant, cached)
        return cached

    async def replace_weights(self, *, tenant: str, weights: domain.ScoringWeights,
                              expected_version: int | None) -> int | None:
        """The tenant's new weights and their version; with `expected_version`, only if nobody changed them since
        (else None). Leads scored from now on use them."""
        version = await self.store.put_weights(tenant, weights, expected_version)
        if version is not None:
            self._weights.drop(tenant)
        return version

    async def consent_policy(self, tenant: str) -> domain.ConsentPolicy:
        cached = self._consent.get(tenant)
        if cached is None:
            cached, _version = await self.store.get_consent_policy(tenant)
            self._consent.put(tenant, cached)
        return cached

    async def replace_consent_policy(self, *, tenant: str, policy: domain.ConsentPolicy,
                                     expected_version: int | None) -> int | None:
        """The tenant's new consent policy and its version (None: changed meanwhile). Leads qualified from now on
        follow it; leads already in the pools stay (the requirement is not retroactive)."""
        version = await self.store.put_consent_policy(tenant, policy, expected_version)
        if version is not None:
            self._consent.drop(tenant)
        return version

    # ---- do-not-call list ----------------------------------------------------------------------------

    async def put_on_do_not_call(self, *, tenant: str, phone_e164: str, reason: str | None) -> Doc:
        """The entry as it stands; a number already on the list keeps its `added_at` and takes the reason. The
        change is announced (leads.do-not-call.v1) each time, so the allocator closes the number's leads."""
        listing = domain.Listing.of(phone_e164, self.store.sealing.phone_index(tenant, phone_e164), reason)
        announcement = domain.do_not_call_changed(tenant, listing, listed=True, source=DoNotCallSource.OPERATOR,
                                                  at=datetime.now(UTC))
        doc = await self.store.list_number(tenant=tenant, change=domain.PutOnDoNotCall(listing),
                                           announcement=announcement, source=self.settings.source)
        self.notify_outbox()
        return doc

    async def take_off_do_not_call(self, *, tenant: str, phone_e164: str) -> bool:
        """False when the number was not on the list. Leads closed while it was stay closed."""
        listing = domain.Listing.of(phone_e164, self.store.sealing.phone_index(tenant, phone_e164), None)
        announcement = domain.do_not_call_changed(tenant, listing, listed=False, source=DoNotCallSource.OPERATOR,
                                                  at=datetime.now(UTC))
        taken_off = await self.store.unlist_number(tenant=tenant, phone=phone_e164, announcement=announcement,
                                                   source=self.settings.source)
        if taken_off:
            self.notify_outbox()
        return taken_off

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
        batch = await self._plan(tenant, items)
        try:
            await self.store.commit(batch, tenant=tenant, source=self.settings.source)
        except (DuplicateKeyError, StaleMatch):
            # Another consumer stored one of these people, outside references or event ids since we looked
            # (or gave a lead an outside reference we were about to add). Redo the lead(s) one by one: the
            # fresh look-up then finds them and merges, or updates the touch.
            if len(items) > 1:
                totals: dict[str, int] = defaultdict(int)
                for item in items:
                    for outcome, n in (await self._process_tenant_batch(tenant, [item])).items():
                        totals[outcome] += n
                return dict(totals)
            if attempts <= 1:
                raise
            return await self._process_tenant_batch(tenant, items, attempts - 1)
        if batch.announcements:
            self.notify_outbox()
        return batch.outcomes

    async def _plan(self, tenant: str, items: list[Delivery]) -> Batch:
        planner = Planner(await self.consent_policy(tenant))
        batch = planner.batch
        all_arrivals = [arrival(d, self.settings.default_region) for d in items]
        # The three look-ups at once, each a round trip the batch would otherwise wait for in turn: which events
        # were processed before, which numbers are on the do-not-call list, which stored leads the arrivals meet.
        # The leads are looked up for every arrival, not only those found fresh and not junk: a superset that
        # meets the same leads for those (an arrival's own phone, email and reference are among the keys).
        phones = sorted({e164 for a in all_arrivals if (e164 := a.clean.dedup_phone)})
        done, dnc, known = await asyncio.gather(
            self.store.inbox.processed(d.key for d in items),
            self.store.do_not_call_hits(tenant, phones),
            self.store.find_matches(tenant, phones, sorted({e for a in all_arrivals if (e := a.clean.dedup_email)}),
                                    [ref for a in all_arrivals if (ref := a.ref) is not None]))
        arrivals = [a for d, a in zip(items, all_arrivals, strict=True) if d.key not in done]
        if len(arrivals) < len(items):
            batch.outcomes["duplicate"] += len(items) - len(arrivals)
        if not arrivals:
            return batch

        valid_phones = [a.clean.phone for a in arrivals if a.clean.phone is not None and a.clean.phone.valid]
        checks = await self.checker.check(valid_phones, dnc)
        weights = await self.weights(tenant)
        models = await self._outcome_counts(tenant, {a.clean.business_line for a in arrivals})

        accepted: list[Arrival] = []
        for item in arrivals:
            e164 = item.clean.dedup_phone
            reasons = domain.junk_reasons(item.clean, on_do_not_call=e164 in dnc if e164 else False,
                                          check=checks.get(e164) if e164 else None, test_numbers=self.test_numbers)
            if reasons:
                planner.reject(item, reasons)
            else:
                accepted.append(item)

        planner.know(known)
        for item in accepted:
            clean, phone = item.clean, item.clean.dedup_phone
            planner.place(item, lambda c=clean: domain.score_lead(c, weights, models.get(c.business_line)),
                          checks.get(phone) if phone else None)
        return batch

    # ---- leads.outcome.v1 ----------------------------------------------------------------------------

    async def handle_outcomes(self, deliveries: Sequence[Delivery]) -> None:
        fresh_by_tenant = await self.store.inbox.unprocessed_by_tenant(deliveries)
        duplicates = len(deliveries) - sum(len(items) for items in fresh_by_tenant.values())
        if duplicates:
            MESSAGES_CONSUMED.labels(self.settings.service_name, "leads.outcome.v1", "duplicate").inc(duplicates)
        for tenant, delivery in ((t, d) for t, items in fresh_by_tenant.items() for d in items):
            outcome: LeadOutcome = delivery.event.data
            # The lead is named by its id, or by an outside system's own id of it (that system: the outcome's
            # source_system, else the event's source).
            ref = None if outcome.lead_id is not None or outcome.external_id is None else {
                "source_system": outcome.source_system or delivery.event.source, "external_id": outcome.external_id}
            lead = await (self.store.intake_lead(tenant, outcome.lead_id) if ref is None
                          else self.store.find_lead_by_ref(tenant, ref))
            if lead is None:
                # Valid, but about a lead this tenant does not have: keep it for a replay once it exists.
                named = f"lead {outcome.lead_id!r}" if ref is None else \
                    f"lead with external id {ref['external_id']!r} from {ref['source_system']!r}"
                await self.dead_letters.send(delivery.record, error_type="unknown_lead", tenantid=tenant,
                                             error=f"tenant {tenant!r} has no {named}")
                continue
            decision = lead.record_outcome(outcome, event_id=delivery.event.id, decided_at=delivery.event.time,
                                           source=delivery.event.source, ref=ref)
            try:
                await self.store.record_outcome(tenant=tenant, decision=decision)
            except DuplicateKeyError:
                continue  # a concurrent delivery of the same event id recorded it first
            self._models.drop((tenant, decision.change.business_line))  # type: ignore[union-attr]
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
            lead_phone = None
            if complaint.phone_e164 is None:
                lead = await self.store.intake_lead(tenant, complaint.lead_id)
                if lead is None:
                    # Valid, but about a lead this tenant does not have: keep it for a replay once it exists.
                    await self.dead_letters.send(delivery.record, error_type="unknown_lead", tenantid=tenant,
                                                 error=f"tenant {tenant!r} has no lead {complaint.lead_id!r}")
                    continue
                lead_phone = lead.phone_e164
                if not lead_phone:
                    await self.dead_letters.send(delivery.record, error_type="no_phone", tenantid=tenant,
                                                 error=f"lead {complaint.lead_id!r} has no phone number and the "
                                                       "complaint names none")
                    continue
            decision = domain.complaint(complaint, tenant=tenant, event_id=delivery.event.id, lead_phone=lead_phone,
                                        default_region=self.settings.default_region, at=datetime.now(UTC),
                                        index=partial(self.store.sealing.phone_index, tenant))
            try:
                await self.store.record_complaint(tenant=tenant, decision=decision, source=self.settings.source)
            except DuplicateKeyError:
                # A concurrent delivery of the same event id recorded it first; or another complaint put
                # the same number on the list at the same moment: then once more, which finds its entry.
                if delivery.key in await self.store.inbox.processed([delivery.key]):
                    continue
                await self.store.record_complaint(tenant=tenant, decision=decision, source=self.settings.source)
            self.notify_outbox()
            MESSAGES_CONSUMED.labels(self.settings.service_name, LEADS_COMPLAINT.name, "processed").inc()
