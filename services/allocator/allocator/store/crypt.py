"""Which of the allocator's stored fields are personal data (telesales_runtime.pii_store): a lead's number and
name. A lead is found by number through the number's blind index. Its copy of the do-not-call list keeps no
number: a listing's `_id` is tenant|blind index, with the masked display (a listing stored before encryption,
`_id` tenant|number, is moved to its blind index `_id` by the rotation job, and read meanwhile)."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from telesales_runtime.masking import mask_phone
from telesales_runtime.pii_crypto import Keyring, key_id_of
from telesales_runtime.pii_rotation import RotationTarget
from telesales_runtime.pii_store import KID_FIELD, LEGACY, Doc, PiiFields, legacy_index

LEAD_FIELDS = {"phone_e164": "phone", "name": None}  # no index of names: common ones would show by their count
LISTING_FIELDS = {"phone_e164": "phone"}


class AllocatorSealing:
    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring
        self.leads = PiiFields(keyring, LEAD_FIELDS)
        self.listing = PiiFields(keyring, LISTING_FIELDS)

    def open(self, doc: Doc | None, tenant: str | None = None) -> Doc | None:
        return self.leads.open(doc, tenant)

    def open_all(self, docs: list[Doc], tenant: str | None = None) -> list[Doc]:
        return self.leads.open_all(docs, tenant)

    def phone_is(self, tenant: str, phone: str) -> Doc:
        """Leads with this number: by blind index, or (stored before encryption) by the plain number."""
        return {"$or": [{"tenant_id": tenant, "phone_e164_bidx": self.leads.index(tenant, "phone_e164", phone)},
                        {"tenant_id": tenant, **LEGACY, "phone_e164": {"$eq": phone, "$type": "string"}}]}

    def phone_index_is(self, tenant: str, phone_bidx: str, phone: str | None) -> Doc:
        """Leads with the number of this blind index (and, stored before encryption, with `phone` if known)."""
        if phone is None:
            return {"phone_e164_bidx": phone_bidx}
        return {"$or": [{"tenant_id": tenant, "phone_e164_bidx": phone_bidx},
                        {"tenant_id": tenant, **LEGACY, "phone_e164": {"$eq": phone, "$type": "string"}}]}

    def phone_index(self, tenant: str, phone: str) -> str:
        return self.listing.index(tenant, "phone_e164", phone)

    def listing_key(self, tenant: str, phone: str) -> str:
        return self.listing_key_of(tenant, self.phone_index(tenant, phone))

    @staticmethod
    def listing_key_of(tenant: str, phone_bidx: str) -> str:
        return f"{tenant}|{phone_bidx}"

    @staticmethod
    def listing_fields(phone_bidx: str, phone_masked: str | None) -> Doc:
        """What a listing keeps of its number: the blind index and the masked display, no key id (it seals
        nothing, so the rotation job never picks it up)."""
        return {"phone_e164_bidx": phone_bidx, "phone_masked": phone_masked, KID_FIELD: []}

    @staticmethod
    def legacy_listing_key(tenant: str, phone: str) -> str:
        return f"{tenant}|{phone}"

    def lead_indexes(self) -> list[IndexModel]:
        return [IndexModel([("tenant_id", ASCENDING), ("phone_e164_bidx", ASCENDING)], name="by_phone_bidx",
                           partialFilterExpression={"phone_e164_bidx": {"$type": "string"}}),
                IndexModel([(KID_FIELD, ASCENDING)], name="pii_kid"),
                legacy_index("tenant_id", "phone_e164")]  # leads stored before encryption, until sealed

    def rotation_targets(self, leads: AsyncCollection[Doc], do_not_call: AsyncCollection[Doc]) -> list[RotationTarget]:
        async def rekey(stored: Doc) -> bool:
            """A listing stored before encryption (its `_id` names the number) moves to its sealed `_id`."""
            phone = stored.get("phone_e164")
            if not isinstance(phone, str) or key_id_of(phone) is not None:
                return False
            tenant = stored["tenant_id"]
            moved = {**{k: v for k, v in stored.items() if k != "phone_e164"}, "_id": self.listing_key(tenant, phone),
                     **self.listing_fields(self.phone_index(tenant, phone), mask_phone(phone))}
            try:  # the later change of the number wins, as in record_listing
                await do_not_call.update_one(
                    {"_id": moved["_id"], "$or": [{"changed_at": {"$lte": stored.get("changed_at")}},
                                                  {"changed_at": {"$exists": False}}]},
                    {"$set": {k: v for k, v in moved.items() if k != "_id"}}, upsert=True)
            except DuplicateKeyError:
                pass  # a later change is stored under the sealed `_id` already
            await do_not_call.delete_one({"_id": stored["_id"], "phone_e164": phone})
            return True

        return [RotationTarget(leads, self.leads), RotationTarget(do_not_call, self.listing, rekey=rekey)]


def latest(docs: list[Any]) -> Any:
    """Of a listing and its copy stored before encryption, the later change."""
    return max(docs, key=lambda d: d["changed_at"].timestamp() if d.get("changed_at") else 0.0) if docs else None
