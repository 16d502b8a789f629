"""The console's part of an erasure: the notifications about the leads keep their kind, time and link (a lead
id), their subject's personal fields (a note, a reason, a detail that may name the person) cleared. The
logged calls it remembers hold event ids only; the live channel keeps nothing in Redis (publish/subscribe)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection

from telesales_runtime.erasure import Doc, Eraser, scrub, scrub_documents

from .notifications import Draft


def notification_eraser(notifications: AsyncCollection[Doc]) -> Eraser:
    async def erase(tenant: str, lead_ids: list[str], session: AsyncClientSession) -> dict[str, int]:
        query = {"tenant": tenant, "subject.lead_id": {"$in": lead_ids}}
        return {"notifications": await scrub_documents(notifications, query, session)}
    return erase


class ErasedLeads:
    """The leads this console has erased (its `erasures` records), so that a notification about one made from
    an event that was still on its way (a deal-mark note naming the person) is stored without the person."""

    def __init__(self, erasures: AsyncCollection[Doc]) -> None:
        self.erasures = erasures

    async def ensure_index(self) -> None:
        await self.erasures.create_index([("tenant_id", 1), ("lead_ids", 1)], name="by_lead")

    async def scrub_late(self, drafts: Sequence[Draft]) -> list[Draft]:
        wanted: dict[str, set[str]] = {}
        for draft in drafts:
            if isinstance(lead_id := draft.subject.get("lead_id"), str):
                wanted.setdefault(draft.tenant, set()).add(lead_id)
        erased: set[tuple[str, str]] = set()
        for tenant, lead_ids in wanted.items():
            async for doc in self.erasures.find({"tenant_id": tenant, "lead_ids": {"$in": sorted(lead_ids)}},
                                                {"lead_ids": 1}):
                erased.update((tenant, lead_id) for lead_id in doc["lead_ids"])
        return [replace(d, subject=scrub(d.subject)[0]) if (d.tenant, d.subject.get("lead_id")) in erased else d
                for d in drafts]
