"""The console's part of an erasure: the notifications about the leads keep their kind, time and link (a lead
id), their subject's personal fields (a note, a reason, a detail that may name the person) cleared. The
logged calls it remembers hold event ids only; the live channel keeps nothing in Redis (publish/subscribe)."""

from __future__ import annotations

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection

from telesales_runtime.erasure import Doc, Eraser, scrub_documents


def notification_eraser(notifications: AsyncCollection[Doc]) -> Eraser:
    async def erase(tenant: str, lead_ids: list[str], session: AsyncClientSession) -> dict[str, int]:
        query = {"tenant": tenant, "subject.lead_id": {"$in": lead_ids}}
        return {"notifications": await scrub_documents(notifications, query, session)}
    return erase
