"""MongoDB side of erasure requests (collection `erasure_requests`) and of lead-intake's own erasure.

A request record keeps who asked, when, why, the lead ids and each service's completion (counts), never the
phone or email it was asked for. Lead-intake's part: the leads' personal fields (touches, raw extras, notes,
attributes included) cleared by name and marked `erased_at`, and, when the request named them, the answers
its inbox keeps of rejected arrivals of the same number or email (their messages quote it)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.client_session import AsyncClientSession

from telesales_contracts import CloudEvent
from telesales_contracts.topics import PRIVACY_ERASURE_REQUESTED
from telesales_runtime.erasure import ERASED_MARK, Doc, Eraser, scrub_documents, scrub_outbox
from telesales_runtime.mongo import ensure_collections, in_transaction
from telesales_runtime.outbox import outbox_row, write_outbox

from .store import LeadStore


def lead_eraser(store: LeadStore) -> Eraser:
    async def erase(tenant: str, lead_ids: list[str], session: AsyncClientSession) -> dict[str, int]:
        query = {"tenant_id": tenant, "_id": {"$in": lead_ids}}
        return {"leads": await scrub_documents(store.leads, query, session, mark={ERASED_MARK: datetime.now(UTC)})}
    return erase


class ErasureRequests:
    def __init__(self, store: LeadStore, expected_services: Sequence[str]) -> None:
        self.store = store
        self.requests = store.db["erasure_requests"]
        self.expected = sorted(set(expected_services))
        self.erase = lead_eraser(store)

    async def ensure_indexes(self) -> None:
        await ensure_collections(self.store.db, ["erasure_requests", "leads", "outbox", "inbox"])
        await self.requests.create_index([("tenant_id", 1), ("requested_at", DESCENDING)], name="by_tenant")
        await self.requests.create_index([("completed_at", 1), ("requested_at", 1)], name="incomplete")

    async def lead_ids_of(self, tenant: str, phones: list[str], emails: list[str]) -> list[str]:
        sealing = self.store.sealing
        clauses: list[Doc] = [*(sealing.match_clauses(tenant, "phone_e164", phones) if phones else []),
                              *(sealing.match_clauses(tenant, "email", emails) if emails else [])]
        if not clauses:
            return []
        return sorted([doc["_id"] async for doc in self.store.leads.find({"$or": clauses}, {"_id": 1})])

    async def create(self, *, tenant: str, record: Doc, phones: list[str], emails: list[str],
                     event: CloudEvent[Any] | None) -> Doc:
        """Erase lead-intake's copies, store the request and (when it found leads) its event in the outbox:
        one transaction. `phones`, `emails`: what was asked for, used here to find rejected arrivals and
        never stored."""
        lead_ids: list[str] = record["lead_ids"]

        async def work(session: AsyncClientSession) -> Doc:
            counts = await self.erase(tenant, lead_ids, session) if lead_ids else {}
            counts["rejected_arrivals"] = await self._scrub_rejections(tenant, phones, emails, session)
            counts["outbox"] = await scrub_outbox(self.store.outbox, tenant, lead_ids, session) if lead_ids else 0
            doc = {**record, "intake_counts": counts}
            await self.requests.insert_one(doc, session=session)
            if event is not None:
                await write_outbox(self.store.outbox, [outbox_row(PRIVACY_ERASURE_REQUESTED.name, event,
                                                                  record["_id"])], session)
            return doc

        return await in_transaction(self.store.client, work)

    async def _scrub_rejections(self, tenant: str, phones: list[str], emails: list[str],
                                session: AsyncClientSession) -> int:
        """The inbox's answers about rejected arrivals of the person (their reasons quote the number or the
        email): found by blind index, or, answered before encryption, by the plain value in their messages."""
        values = [*phones, *emails]
        if not values:
            return 0
        pattern = "|".join(re.escape(value) for value in values)
        clauses = [*self.store.sealing.answer_clauses(tenant, phones, emails),
                   {"outcome.reasons.message": {"$regex": pattern, "$options": "i"}}]
        result = await self.store.inbox.collection.update_many(
            {"tenant_id": tenant, "outcome.status": "rejected", "$or": clauses},
            {"$set": {"outcome.reasons": [{"code": "erased", "message": "(erased)"}]},
             "$unset": {"outcome.phone_e164_bidx": "", "outcome.email_bidx": ""}}, session=session)
        return result.modified_count

    async def record_completion(self, *, tenant: str, request_id: str, service: str, counts: dict[str, int],
                                source: str) -> None:
        """A service's answer, once (a repeat changes nothing); the request is complete when every expected
        service answered. An answer to a request made elsewhere (the allocator's retention) starts its record."""
        now = datetime.now(UTC)
        if request_id.startswith("retention-"):  # the allocator's retention sweep names its requests so
            await self.requests.update_one(
                {"_id": request_id},
                {"$setOnInsert": {"tenant_id": tenant, "requested_at": now, "requested_by": {"source": source},
                                  "reason": "retention", "lead_ids": None, "expected_services": self.expected,
                                  "services": {}, "completed_at": None}},
                upsert=True)
        await self.requests.update_one(
            {"_id": request_id, "tenant_id": tenant, f"services.{service}": {"$exists": False}},
            {"$set": {f"services.{service}": {"completed_at": now, "counts": counts}}})
        doc = await self.requests.find_one({"_id": request_id}, {"services": 1, "expected_services": 1})
        expected = (doc or {}).get("expected_services") or self.expected
        if doc is not None and set(expected) <= set(doc.get("services") or {}):
            await self.requests.update_one({"_id": request_id, "completed_at": None},
                                           {"$set": {"completed_at": now}})

    async def get(self, tenant: str, request_id: str) -> Doc | None:
        return await self.requests.find_one({"_id": request_id, "tenant_id": tenant})

    async def page(self, tenant: str, limit: int, before: datetime | None) -> list[Doc]:
        query: Doc = {"tenant_id": tenant}
        if before is not None:
            query["requested_at"] = {"$lt": before}
        return await self.requests.find(query, sort=[("requested_at", DESCENDING)], limit=limit).to_list()

    async def oldest_incomplete(self) -> datetime | None:
        doc = await self.requests.find_one({"completed_at": None}, {"requested_at": 1}, sort=[("requested_at", 1)])
        return None if doc is None else doc["requested_at"]
