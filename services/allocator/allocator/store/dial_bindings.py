"""The bindings the allocator made for dials (collection `dial_bindings`), whatever the provider: which agent,
which lead, the provider's binding id and when it expires; no number. One document per reference (tenant,
lead, agent), removed by a TTL index once expired. The sweep reads the live ones to end those whose lead has
left the agent (service/dialing.py, `end_outlived_bindings`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, AsyncMongoClient, IndexModel

Doc = dict[str, Any]


class DialBindingStore:
    def __init__(self, client: AsyncMongoClient[Doc], database: str) -> None:
        self.bindings = client[database]["dial_bindings"]

    async def ensure_indexes(self) -> None:
        await self.bindings.create_indexes([
            IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="expire_dial_bindings"),
        ])

    async def record(self, *, reference: str, tenant: str, lead_id: str, agent_id: str, provider: str,
                     binding_id: str, expires_at: datetime) -> None:
        await self.bindings.update_one({"_id": reference}, {"$set": {
            "tenant_id": tenant, "lead_id": lead_id, "agent_id": agent_id, "provider": provider,
            "binding_id": binding_id, "expires_at": expires_at}}, upsert=True)

    async def live(self, now: datetime, limit: int) -> list[Doc]:
        cursor = self.bindings.find({"expires_at": {"$gt": now}}).sort("expires_at", ASCENDING).limit(limit)
        return [doc async for doc in cursor]

    async def forget(self, reference: str, binding_id: str) -> None:
        """Forget an ended binding (only that one: the same agent may have bound the lead again meanwhile)."""
        await self.bindings.delete_one({"_id": reference, "binding_id": binding_id})
