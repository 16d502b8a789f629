"""The tenant's do-not-call list as the allocator knows it (from leads.do-not-call.v1; lead-intake owns the
list), and the leads that carry a number. One document per tenant and number, `_id` = tenant|number; the
latest change of a number (by `changed_at`) wins, whatever order the changes arrive in."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

from ..domain.lead import CLOSED, HELD, POOLED
from .roster import StoreBase

Doc = dict[str, Any]

# What the do-not-call rule reads of a lead (Lead.number_listed, Lead.may_dial): no outbox, no histories.
LISTING_VIEW: dict[str, int] = {"outbox": 0, "recent_calls": 0, "holds": 0, "history": 0, "drops": 0}


def _key(tenant: str, phone: str) -> str:
    return f"{tenant}|{phone}"


class DoNotCallStore(StoreBase):
    async def record_listing(self, *, tenant: str, phone: str, listed: bool, reason: str | None, source: str,
                             changed_at: datetime, event_id: str) -> bool:
        """Keep the number's change unless a later one is stored already; whether it was kept."""
        try:
            result = await self.do_not_call.update_one(
                {"_id": _key(tenant, phone), "$or": [{"changed_at": {"$lte": changed_at}},
                                                     {"changed_at": {"$exists": False}}]},
                {"$set": {"tenant_id": tenant, "phone_e164": phone, "listed": listed, "reason": reason,
                          "source": source, "changed_at": changed_at, "event_id": event_id}},
                upsert=True)
        except DuplicateKeyError:
            return False  # a later change of the number is stored: the upsert found no older one to replace
        return result.matched_count == 1 or result.upserted_id is not None

    async def listing(self, tenant: str, phone: str) -> Doc | None:
        return await self.do_not_call.find_one({"_id": _key(tenant, phone)})

    async def listed_numbers(self, tenant: str, phones: Sequence[str]) -> set[str]:
        """Which of these numbers are on the tenant's list now."""
        if not phones:
            return set()
        cursor = self.do_not_call.find({"_id": {"$in": [_key(tenant, p) for p in phones]}, "listed": True},
                                       {"phone_e164": 1})
        return {doc["phone_e164"] async for doc in cursor}

    async def open_leads_with_number(self, tenant: str, phone: str) -> list[Doc]:
        """The tenant's leads with this number that a listing closes (pooled, held, closed), in every pool."""
        return await self.leads.find({"tenant_id": tenant, "phone_e164": {"$eq": phone, "$type": "string"},
                                      "status": {"$in": [POOLED, HELD, CLOSED]}}, LISTING_VIEW).to_list()
