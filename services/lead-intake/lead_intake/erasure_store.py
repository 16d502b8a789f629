"""MongoDB side of erasure requests (collection `erasure_requests`) and of lead-intake's own erasure.

A request record keeps who asked, when, why, the lead ids and each service's completion (counts), never the
phone or email it was asked for in the clear: a request's topic step (topic_erasure.py) keeps whom to look for
on the topics sealed (`topic_needles`, the tenant's pii key) until it is done, then clears them. Lead-intake's part: the leads' personal fields (touches, raw extras, notes,
attributes included) cleared by name and marked `erased_at`, and, when the request named them, the answers
its inbox keeps of rejected arrivals of the same number or email (their messages quote it)."""

from __future__ import annotations

import logging
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
from telesales_runtime.pii_crypto import PiiKeyError

from .store import LeadStore

log = logging.getLogger(__name__)

NEEDLES = "topic_needles"  # whom the topic step looks for, sealed (the phones, emails and names of the person)


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
        await self.requests.create_index([("requested_at", 1)], name="topic_step_pending",
                                         partialFilterExpression={NEEDLES: {"$exists": True}})

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
            listings = await self.store.forget_listing_reasons(tenant, phones, lead_ids, session)
            counts = await self.erase(tenant, lead_ids, session) if lead_ids else {}
            counts["do_not_call_reasons"] = listings
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
            await self.requests.update_one({"_id": request_id},
                                           {"$setOnInsert": self.retention_record(tenant, source, now)}, upsert=True)
        await self.requests.update_one(
            {"_id": request_id, "tenant_id": tenant, f"services.{service}": {"$exists": False}},
            {"$set": {f"services.{service}": {"completed_at": now, "counts": counts}}})
        await self._complete_when_done(request_id)

    def retention_record(self, tenant: str, source: str, now: datetime) -> Doc:
        """The record of a request the allocator's retention sweep made, started by whatever reaches it first."""
        return {"tenant_id": tenant, "requested_at": now, "requested_by": {"source": source}, "reason": "retention",
                "lead_ids": None, "expected_services": self.expected, "services": {}, "completed_at": None}

    def _services_done(self, doc: Doc) -> bool:
        if doc.get("lead_ids") == []:  # nothing found: no event was published, no service answers
            return True
        expected = doc.get("expected_services") or self.expected
        return set(expected) <= set(doc.get("services") or {})

    async def _complete_when_done(self, request_id: str) -> None:
        """Complete: every expected service answered and the topic step (when the request has one) is done."""
        doc = await self.requests.find_one({"_id": request_id}, {"services": 1, "expected_services": 1, "topics": 1,
                                                           "lead_ids": 1})
        topics = (doc or {}).get("topics")
        if doc is not None and self._services_done(doc) and (topics is None or topics.get("completed_at")):
            await self.requests.update_one({"_id": request_id, "completed_at": None},
                                           {"$set": {"completed_at": datetime.now(UTC)}})

    # ---- the topic step (topic_erasure.py) ------------------------------------------------------------------

    async def people_of(self, tenant: str, lead_ids: list[str], *, changed_since: datetime | None = None,
                        session: AsyncClientSession | None = None) -> list[Doc]:
        """The number, email and name of the leads (opened; those changed since `changed_since`), read before the
        erasure clears them."""
        projection = self.store.sealing.leads.projection(["phone_e164", "email", "name"])
        query: Doc = {"tenant_id": tenant, "_id": {"$in": lead_ids}}
        if changed_since is not None:
            query["updated_at"] = {"$gte": changed_since}
        docs = await self.store.leads.find(query, projection, session=session).to_list()
        return self.store.sealing.leads.open_all(docs)

    def topic_step(self, tenant: str, needles: Doc) -> Doc:
        """The fields a request with a topic step starts with: its counts, and the needles sealed."""
        return {"topics": {"completed_at": None, "partitions_truncated": 0, "records_removed": 0,
                           "dead_letters_kept": 0, "waiting_on": []},
                NEEDLES: self.store.sealing.keyring.seal(tenant, NEEDLES, needles)}

    async def pending_topic_steps(self) -> list[Doc]:
        """Requests whose topic step is not done: id, needles (opened) and whether every service answered."""
        out = []
        async for doc in self.requests.find({NEEDLES: {"$exists": True}}, sort=[("requested_at", 1)]):
            try:
                needles = self.store.sealing.keyring.open(doc["tenant_id"], NEEDLES, doc[NEEDLES])
            except PiiKeyError as error:  # its key was removed: it stays pending (the alert), the others go on
                log.error("erasure needles unreadable", extra={"request_id": doc["_id"], "error": str(error)})
                continue
            out.append({"_id": doc["_id"], "services_done": self._services_done(doc), "needles": needles})
        return out

    async def record_topic_pass(self, request_id: str, counts: dict[str, int], waiting_on: list[str]) -> None:
        await self.requests.update_one({"_id": request_id}, {
            "$inc": {f"topics.{name}": count for name, count in counts.items()},
            "$set": {"topics.waiting_on": waiting_on, "topics.last_pass_at": datetime.now(UTC)}})

    async def finish_topic_step(self, request_id: str) -> None:
        """The person is on no topic any more: the needles go, and the request is complete if every service
        answered."""
        await self.requests.update_one({"_id": request_id, NEEDLES: {"$exists": True}}, {
            "$set": {"topics.completed_at": datetime.now(UTC), "topics.waiting_on": []}, "$unset": {NEEDLES: ""}})
        await self._complete_when_done(request_id)

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
