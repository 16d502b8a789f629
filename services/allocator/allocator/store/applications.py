"""Applications of 轮询申领: an agent asks for the next lead of a pool; the oldest pending application is
served first. One document per application; an agent has at most one pending at a time (a unique partial
index), so applicants take turns."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from ..domain.lead import POOLED
from .roster import StoreBase

Doc = dict[str, Any]
PENDING, SERVED, REFUSED = "pending", "served", "refused"


class ApplicationStore(StoreBase):
    async def ensure_application_indexes(self) -> None:
        await self.db["applications"].create_indexes([
            IndexModel([("tenant_id", ASCENDING), ("agent_id", ASCENDING)], unique=True, name="one_pending_each",
                       partialFilterExpression={"status": PENDING}),
            IndexModel([("tenant_id", ASCENDING), ("pool_id", ASCENDING), ("applied_at", ASCENDING),
                        ("_id", ASCENDING)], name="pending_in_turn", partialFilterExpression={"status": PENDING}),
        ])

    async def add_application(self, tenant: str, agent_id: str, pool_id: str, now: datetime) -> Doc | None:
        """A pending application; None if the agent has one pending already."""
        doc = {"_id": uuid.uuid4().hex, "tenant_id": tenant, "agent_id": agent_id, "pool_id": pool_id,
               "status": PENDING, "applied_at": now, "lead_id": None, "reason": None, "decided_at": None}
        try:
            await self.db["applications"].insert_one(doc)
        except DuplicateKeyError:
            return None
        return doc

    async def get_application(self, tenant: str, application_id: str) -> Doc | None:
        return await self.db["applications"].find_one({"_id": application_id, "tenant_id": tenant})

    async def pending_applications(self, tenant: str, pool_id: str, limit: int = 100) -> list[Doc]:
        """Pending applications for a pool in the order they were made."""
        return await self.db["applications"].find(
            {"tenant_id": tenant, "pool_id": pool_id, "status": PENDING},
            sort=[("applied_at", ASCENDING), ("_id", ASCENDING)], limit=limit).to_list()

    async def decide_application(self, tenant: str, application_id: str, *, status: str, now: datetime,
                                 lead_id: str | None = None, reason: str | None = None) -> bool:
        result = await self.db["applications"].update_one(
            {"_id": application_id, "tenant_id": tenant, "status": PENDING},
            {"$set": {"status": status, "lead_id": lead_id, "reason": reason, "decided_at": now}})
        return result.modified_count == 1

    async def next_pooled_lead(self, tenant: str, pool_id: str, agent_id: str, now: datetime,
                               skip: list[str]) -> Doc | None:
        """The best pooled lead of the pool that the agent never dropped and that is not resting."""
        return await self.leads.find_one(
            {"tenant_id": tenant, "pool_id": pool_id, "status": POOLED, "dropped_by": {"$ne": agent_id},
             "_id": {"$nin": skip}, "$or": [{"rest_until": None}, {"rest_until": {"$lte": now}}]},
            {"outbox": 0, "recent_calls": 0, "holds": 0, "history": 0},
            sort=[("score", DESCENDING), ("_id", ASCENDING)])
