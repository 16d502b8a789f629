"""Metrics' part of an erasure: its per-lead states (collection `leads`, one per tenant and lead) hold the
lead's funnel steps and holder, never the person; the counters are aggregates. Their personal fields, should
a state ever carry one, are cleared by name; the states and every count stay."""

from __future__ import annotations

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection

from telesales_runtime.erasure import Doc, Eraser, scrub_documents

from .store import scoped


def lead_state_eraser(leads: AsyncCollection[Doc]) -> Eraser:
    async def erase(tenant: str, lead_ids: list[str], session: AsyncClientSession) -> dict[str, int]:
        ids = [scoped(tenant, lead_id) for lead_id in lead_ids]
        return {"leads": await scrub_documents(leads, {"_id": {"$in": ids}}, session)}
    return erase
