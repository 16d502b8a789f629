"""Applications of 轮询申领: an agent asks for the next lead of a pool; the oldest pending application is
served first. One document per application; an agent has at most one pending at a time (a unique partial
index), so applicants take turns. Serving one is decided in the same transaction as the lead's assignment
(`decision`, written by AllocatorStore.commit_if with the lead's change)."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError

from ..domain import Tier
from ..domain.lead import POOLED
from .lead_writes import Alongside
from .roster import StoreBase
from .tier_queries import opened_query

Doc = dict[str, Any]
PENDING, SERVED, REFUSED, CANCELLED = "pending", "served", "refused", "cancelled"
APPLICATIONS = "applications"
NEWEST_FIRST = [("applied_at", DESCENDING), ("_id", DESCENDING)]


def application_cursor(doc: Doc) -> str:
    """The cursor of the page after `doc` (newest first): its time in ms and its id."""
    return f"{int(doc['applied_at'].timestamp() * 1000)}.{doc['_id']}"


def _before(cursor: str) -> Doc:
    """The filter of the applications after `cursor` in newest-first order; ValueError for a bad one."""
    millis, app_id = cursor.split(".", 1)
    at = datetime.fromtimestamp(int(millis) / 1000, UTC)
    return {"$or": [{"applied_at": {"$lt": at}}, {"applied_at": at, "_id": {"$lt": app_id}}]}


class ApplicationStore(StoreBase):
    async def ensure_application_indexes(self) -> None:
        await self.db[APPLICATIONS].create_indexes([
            IndexModel([("tenant_id", ASCENDING), ("agent_id", ASCENDING)], unique=True, name="one_pending_each",
                       partialFilterExpression={"status": PENDING}),
            IndexModel([("tenant_id", ASCENDING), ("pool_id", ASCENDING), ("applied_at", ASCENDING),
                        ("_id", ASCENDING)], name="pending_in_turn", partialFilterExpression={"status": PENDING}),
            IndexModel([("tenant_id", ASCENDING), ("agent_id", ASCENDING), ("applied_at", DESCENDING),
                        ("_id", DESCENDING)], name="by_agent_newest_first"),
        ])

    async def add_application(self, tenant: str, agent_id: str, pool_id: str, now: datetime) -> Doc | None:
        """A pending application; None if the agent has one pending already."""
        # ids in time order: two applications of the same millisecond still list newest first
        doc = {"_id": f"{now:%Y%m%d%H%M%S%f}{uuid.uuid4().hex[:12]}", "tenant_id": tenant, "agent_id": agent_id, "pool_id": pool_id,
               "status": PENDING, "applied_at": now, "lead_id": None, "reason": None, "decided_at": None}
        try:
            await self.db[APPLICATIONS].insert_one(doc)
        except DuplicateKeyError:
            return None
        return doc

    async def get_application(self, tenant: str, application_id: str) -> Doc | None:
        return await self.db[APPLICATIONS].find_one({"_id": application_id, "tenant_id": tenant})

    async def applications_of(self, tenant: str, agent_id: str, *, statuses: Sequence[str] | None, limit: int,
                              cursor: str | None) -> list[Doc]:
        """An agent's applications, newest first, after `cursor` (ValueError for a bad cursor)."""
        query: Doc = {"tenant_id": tenant, "agent_id": agent_id}
        if statuses:
            query["status"] = {"$in": list(statuses)}
        if cursor:
            query |= _before(cursor)
        return await self.db[APPLICATIONS].find(query, sort=NEWEST_FIRST, limit=limit).to_list()

    async def place_in_turn(self, tenant: str, doc: Doc) -> int:
        """A pending application's place in its pool's turn (1: served by the next lead it may take)."""
        ahead = await self.db[APPLICATIONS].count_documents({
            "tenant_id": tenant, "pool_id": doc["pool_id"], "status": PENDING,
            "$or": [{"applied_at": {"$lt": doc["applied_at"]}},
                    {"applied_at": doc["applied_at"], "_id": {"$lt": doc["_id"]}}]})
        return ahead + 1

    async def pending_applications(self, tenant: str, pool_id: str, limit: int = 100) -> list[Doc]:
        """Pending applications for a pool in the order they were made."""
        return await self.db[APPLICATIONS].find(
            {"tenant_id": tenant, "pool_id": pool_id, "status": PENDING},
            sort=[("applied_at", ASCENDING), ("_id", ASCENDING)], limit=limit).to_list()

    async def pools_with_pending(self, tenant: str, pool_ids: Collection[str]) -> set[str]:
        """Which of these pools have applications pending (one round trip; most often none)."""
        if not pool_ids:
            return set()
        return set(await self.db[APPLICATIONS].distinct(
            "pool_id", {"tenant_id": tenant, "pool_id": {"$in": sorted(pool_ids)}, "status": PENDING}))

    def decision(self, tenant: str, application_id: str, *, status: str, now: datetime,
                 lead_id: str | None = None, reason: str | None = None) -> Alongside:
        """Deciding a still pending application, as a write to make with another (or alone)."""
        return Alongside(APPLICATIONS, {"_id": application_id, "tenant_id": tenant, "status": PENDING},
                         {"$set": {"status": status, "lead_id": lead_id, "reason": reason, "decided_at": now}})

    async def decide_application(self, tenant: str, application_id: str, *, status: str, now: datetime,
                                 lead_id: str | None = None, reason: str | None = None) -> bool:
        write = self.decision(tenant, application_id, status=status, now=now, lead_id=lead_id, reason=reason)
        return (await self.db[write.collection].update_one(write.query, write.update)).modified_count == 1

    async def cancel_application(self, tenant: str, agent_id: str, application_id: str, now: datetime
                                 ) -> Doc | None:
        """Cancel the agent's application if still pending: the application after, or None (unknown,
        another agent's, or decided already)."""
        return await self.db[APPLICATIONS].find_one_and_update(
            {"_id": application_id, "tenant_id": tenant, "agent_id": agent_id, "status": PENDING},
            {"$set": {"status": CANCELLED, "reason": None, "decided_at": now}}, return_document=ReturnDocument.AFTER)

    async def next_pooled_lead(self, tenant: str, pool_id: str, agent_id: str, now: datetime, skip: list[str],
                               grade_filter: tuple[Sequence[Tier], Sequence[Tier]] | None = None) -> Doc | None:
        """The best pooled lead of the pool that the agent never dropped, that is not resting and, with
        `grade_filter` (domain.pushing.grade_filter), that the agent's grade opens."""
        query: Doc = {"tenant_id": tenant, "pool_id": pool_id, "status": POOLED, "dropped_by": {"$ne": agent_id},
                      "_id": {"$nin": skip}, "$and": [{"$or": [{"rest_until": None}, {"rest_until": {"$lte": now}}]}]}
        if grade_filter is not None:
            query["$and"].append(opened_query(*grade_filter))
        return self.sealing.open(await self.leads.find_one(query, {"outbox": 0, "recent_calls": 0, "holds": 0,
                                                                   "history": 0},
                                                           sort=[("score", DESCENDING), ("_id", ASCENDING)]), tenant)
