"""The tenant's do-not-call list as the allocator knows it (from leads.do-not-call.v1; lead-intake owns the
list), and the leads that carry a number. One document per tenant and number, `_id` = tenant|the number's
blind index, with the number's masked display: the event names the number by that index only, and the
allocator finds the leads with it by their own `phone_e164_bidx` (store/crypt.py). The latest change of a
number (by `changed_at`) wins, whatever order the changes arrive in."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

from telesales_runtime.masking import mask_phone

from ..domain.lead import CLOSED, HELD, POOLED
from .crypt import latest
from .roster import StoreBase

Doc = dict[str, Any]

# What the do-not-call rule reads of a lead (Lead.number_listed, Lead.may_dial): no outbox, no histories.
LISTING_VIEW: dict[str, int] = {"outbox": 0, "recent_calls": 0, "holds": 0, "history": 0, "drops": 0}


class DoNotCallStore(StoreBase):
    async def record_listing(self, *, tenant: str, phone_bidx: str, phone_masked: str | None, listed: bool,
                             reason: str | None, source: str, changed_at: datetime, event_id: str) -> bool:
        """Keep the number's change unless a later one is stored already; whether it was kept."""
        try:
            result = await self.do_not_call.update_one(
                {"_id": self.sealing.listing_key_of(tenant, phone_bidx),
                 "$or": [{"changed_at": {"$lte": changed_at}}, {"changed_at": {"$exists": False}}]},
                {"$set": {**self.sealing.listing_fields(phone_bidx, phone_masked), "tenant_id": tenant,
                          "listed": listed, "reason": reason, "source": source, "changed_at": changed_at,
                          "event_id": event_id},
                 "$unset": {"phone_e164": ""}},  # a copy from before kept the number sealed
                upsert=True)
        except DuplicateKeyError:
            return False  # a later change of the number is stored: the upsert found no older one to replace
        return result.matched_count == 1 or result.upserted_id is not None

    async def index_only_listings(self) -> int:
        """Listings written with the number sealed (before the list kept blind indexes only) keep the blind index
        and the masked display only; how many were rewritten (at start: once, then none)."""
        done = 0
        async for doc in self.do_not_call.find({"phone_e164": {"$type": "string"}, "pii_kid.0": {"$exists": True}}):
            phone = self.sealing.listing.open(dict(doc)).get("phone_e164")  # type: ignore[union-attr]
            fields = self.sealing.listing_fields(self.sealing.phone_index(doc["tenant_id"], phone), mask_phone(phone))
            await self.do_not_call.update_one({"_id": doc["_id"], "phone_e164": doc["phone_e164"]},
                                              {"$set": fields, "$unset": {"phone_e164": ""}})
            done += 1
        return done

    async def forget_listing_reasons(self, tenant: str, lead_ids: list[str], session: Any) -> int:
        """An erasure of these leads: their numbers stay listed (blind index and masked display), the listings'
        free-text reasons (which may name the person) go. Run before the leads lose their blind indexes."""
        indexes = [doc["phone_e164_bidx"] async for doc in self.leads.find(
            {"tenant_id": tenant, "_id": {"$in": lead_ids}, "phone_e164_bidx": {"$type": "string"}},
            {"phone_e164_bidx": 1}, session=session)]
        if not indexes:
            return 0
        result = await self.do_not_call.update_many(
            {"_id": {"$in": [self.sealing.listing_key_of(tenant, i) for i in indexes]}, "reason": {"$ne": None}},
            {"$set": {"reason": None}}, session=session)
        return result.modified_count

    async def listing(self, tenant: str, phone: str) -> Doc | None:
        """The number's listing (the later one, when a copy stored before encryption is still there)."""
        keys = [self.sealing.listing_key(tenant, phone), self.sealing.legacy_listing_key(tenant, phone)]
        return self.sealing.listing.open(latest(await self.do_not_call.find({"_id": {"$in": keys}}).to_list()))

    async def listed_numbers(self, tenant: str, phones: Sequence[str]) -> set[str]:
        """Which of these numbers are on the tenant's list now."""
        if not phones:
            return set()
        keys = {self.sealing.listing_key(tenant, p): p for p in phones}
        keys |= {self.sealing.legacy_listing_key(tenant, p): p for p in phones}
        by_number: dict[str, list[Doc]] = {}
        async for doc in self.do_not_call.find({"_id": {"$in": list(keys)}}, {"listed": 1, "changed_at": 1}):
            by_number.setdefault(keys[doc["_id"]], []).append(doc)
        return {phone for phone, docs in by_number.items() if latest(docs)["listed"]}

    async def open_leads_with_number(self, tenant: str, phone_bidx: str, phone: str | None = None) -> list[Doc]:
        """The tenant's leads with this number that a listing closes (pooled, held, closed), in every pool: by
        the number's blind index, and by `phone` when known (leads stored before encryption)."""
        docs = await self.leads.find({"tenant_id": tenant, **self.sealing.phone_index_is(tenant, phone_bidx, phone),
                                      "status": {"$in": [POOLED, HELD, CLOSED]}}, LISTING_VIEW).to_list()
        return self.sealing.open_all(docs, tenant)
