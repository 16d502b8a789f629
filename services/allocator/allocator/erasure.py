"""The allocator's part of personal-data erasure, and the tenants' retention of closed leads.

Erasure: the leads' documents lose every personal field by name, wherever it sits (history, recent calls,
drops, the events still waiting in their embedded outbox), and are marked `erased_at`; a pooled or held one
leaves its pool and its holder (status `erased`; a holder is told by allocation.closed.v1, as when a lead is
closed under it, so its console and the metrics let go of it too); applications and wins
naming them lose their free text. What stays: ids, statuses, times and counts (the access log keeps lead ids
only, and the do-not-call list keeps their numbers listed, by blind index and masked display, without the
listings' free-text reasons).

Retention: a tenant's `personal_data_retention_days` (AllocationPolicy) has the leads closed (lost, or on the
do-not-call list) longer than that erased like a person's request: a leased sweep publishes
privacy.erasure-requested.v1 (reason `retention`) for them in batches, and every service handles it."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from telesales_contracts.privacy import ErasureRequested
from telesales_contracts.topics import PRIVACY_ERASURE_REQUESTED
from telesales_runtime.erasure import ERASED_MARK, Doc, Eraser, notice_row, scrub_documents
from telesales_runtime.mongo import in_transaction
from telesales_runtime.outbox import outbox_row, write_outbox
from telesales_runtime.periodic import LeasedLoop

from .domain import AllocationPolicy
from .domain.dialing import CLOSED, DO_NOT_CALL, HELD, POOLED
from .store import AllocatorStore
from .store.lead_writes import lead_of

log = logging.getLogger(__name__)
RETENTION_REQUESTED = "retention_requested_at"
ERASED = "erased"  # the status of a lead erased before it arrived (a tombstone): in no pool, nobody's
# A retention request whose leads are not erased this long after it was published is published again.
RETENTION_RETRY = timedelta(hours=1)
ERASED_REASON = "the person's data was erased"


async def holders_told(store: AllocatorStore, tenant: str, lead_ids: list[str], source: str, now: datetime,
                       session: AsyncClientSession) -> int:
    """allocation.closed.v1 for each erased lead that was held (closed under its holder, as when calls must stop),
    in the erasure's transaction; the event id is fixed per lead, so an erasure handled twice tells once."""
    rows = []
    async for doc in store.leads.find({"tenant_id": tenant, "_id": {"$in": lead_ids}, "status": HELD},
                                      session=session):
        decision = lead_of(doc).stop_for_good(ERASED_REASON, kind="erasure", ref="erased", at=now)
        for announcement in decision.events if decision else ():
            event = announcement.topic.event(announcement.data, source=source, tenantid=tenant, subject=doc["_id"],
                                             **({"id": announcement.event_id} if announcement.event_id else {}))
            rows.append(notice_row(announcement.topic.name, event, doc["_id"]))
    await write_outbox(store.outbox, rows, session)
    return len(rows)


def lead_eraser(store: AllocatorStore, *, source: str) -> Eraser:
    async def erase(tenant: str, lead_ids: list[str], session: AsyncClientSession) -> dict[str, int]:
        now = datetime.now(UTC)
        by_lead = {"tenant_id": tenant, "lead_id": {"$in": lead_ids}}
        told = await holders_told(store, tenant, lead_ids, source, now, session)
        known = {doc["_id"] async for doc in store.leads.find({"_id": {"$in": lead_ids}}, {"_id": 1},
                                                              session=session)}
        # A lead erased before its leads.qualified.v1 got here: a tombstone, so that the late arrival is
        # taken for a redelivery and skipped (service/intake.py) instead of storing the person again.
        tombstones = [{"_id": lead_id, "tenant_id": tenant, "status": ERASED, ERASED_MARK: now, "created_at": now,
                       "updated_at": now} for lead_id in sorted(set(lead_ids) - known)]
        if tombstones:
            await store.leads.insert_many(tombstones, session=session)
        listings = await store.forget_listing_reasons(tenant, lead_ids, session)  # before the indexes go
        scrubbed = await scrub_documents(store.leads, {"tenant_id": tenant, "_id": {"$in": lead_ids}}, session,
                                         mark={ERASED_MARK: now})
        # A lead without its person cannot be worked: a pooled or held one leaves its pool and its holder.
        withdrawn = await store.leads.update_many(
            {"tenant_id": tenant, "_id": {"$in": lead_ids}, "status": {"$in": [POOLED, HELD]}},
            {"$set": {"status": ERASED, "holder": None, "updated_at": now}}, session=session)
        return {
            "leads": scrubbed,
            "withdrawn": withdrawn.modified_count,
            "holders_told": told,
            "tombstones": len(tombstones),
            "applications": await scrub_documents(store.db["applications"], by_lead, session),
            "wins": await scrub_documents(store.wins, by_lead, session),
            "pending_consent": await scrub_documents(store.db["pending_consent"], by_lead, session),
            "do_not_call_reasons": listings,
        }
    return erase


def expired_query(tenant: str, days: float, now: datetime) -> Doc:
    """The tenant's leads closed (lost or do-not-call) more than `days` ago, not erased, not requested lately."""
    cutoff = now - timedelta(days=days)
    return {"tenant_id": tenant, ERASED_MARK: {"$exists": False},
            "$and": [{"$or": [{"status": CLOSED, "closed_at": {"$lt": cutoff}},
                              {"status": DO_NOT_CALL, "complained_at": {"$lt": cutoff}}]},
                     {"$or": [{RETENTION_REQUESTED: {"$exists": False}},
                              {RETENTION_REQUESTED: {"$lt": now - RETENTION_RETRY}}]}]}


class RetentionSweep(LeasedLoop):
    """Once a round, for every tenant with a retention: its expired leads, `batch` at a time, each batch one
    erasure request written to the outbox in the same transaction as the leads' `retention_requested_at`."""

    def __init__(self, store: AllocatorStore, *, source: str, interval_seconds: float, lease_seconds: float,
                 batch: int, enabled: bool, notify: Any) -> None:
        self.store = store
        self.source = source
        self.batch = batch
        self.notify = notify
        super().__init__(store.leases, "allocator-retention", interval_seconds=interval_seconds,
                         lease_seconds=lease_seconds, enabled=enabled, task_name="allocator-retention")

    async def tenants_with_retention(self) -> dict[str, float]:
        found = self.store.config.find({"kind": "policy", "value.personal_data_retention_days": {"$gt": 0}},
                                       {"tenant_id": 1, "value": 1})
        return {doc["tenant_id"]: AllocationPolicy.model_validate(doc["value"]).personal_data_retention_days
                async for doc in found}  # type: ignore[misc]

    async def sweep_tenant(self, tenant: str, days: float, now: datetime | None = None) -> list[str]:
        """Publish erasure requests for the tenant's expired leads; the request ids."""
        now = now or datetime.now(UTC)
        requests: list[str] = []
        while True:
            ids = [doc["_id"] for doc in await self.store.leads.find(
                expired_query(tenant, days, now), {"_id": 1}, limit=self.batch).to_list()]
            if not ids:
                return requests
            requests.append(await self._request(tenant, ids, now))

    async def _request(self, tenant: str, lead_ids: list[str], now: datetime) -> str:
        request_id = f"retention-{uuid.uuid4().hex}"
        event = PRIVACY_ERASURE_REQUESTED.event(
            ErasureRequested(request_id=request_id, lead_ids=lead_ids, reason="retention"),
            source=self.source, tenantid=tenant)

        async def work(session: AsyncClientSession) -> None:
            await self.store.leads.update_many({"tenant_id": tenant, "_id": {"$in": lead_ids}},
                                               {"$set": {RETENTION_REQUESTED: now}}, session=session)
            await write_outbox(self.store.outbox, [outbox_row(PRIVACY_ERASURE_REQUESTED.name, event, request_id)],
                               session)

        await in_transaction(self.store.client, work)
        self.notify()
        log.info("retention erasure requested", extra={"tenant": tenant, "leads": len(lead_ids),
                                                         "request_id": request_id})
        return request_id

    async def tick(self) -> None:
        for tenant, days in (await self.tenants_with_retention()).items():
            await self.sweep_tenant(tenant, days)
