"""A lead's consent as the allocator keeps it (from leads.qualified.v1 and leads.consent-changed.v1), and the
changes that came before their lead: lead-intake announces a new lead and a later withdrawal on two topics, so
the allocator may read the withdrawal first. It is kept (`pending_consent`, one per tenant and lead) and
applied when the lead is stored, so a withdrawal is never lost nor waits for a replay."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

from .roster import StoreBase

Doc = dict[str, Any]


# A change whose lead never came (it should not happen: lead-intake announces only known leads) holds a consent
# statement: it is forgotten after this long.
PENDING_DAYS = 14


def _pending_key(tenant: str, lead_id: str) -> str:
    return f"{tenant}|{lead_id}"


class ConsentStore(StoreBase):
    @property
    def pending_consent(self) -> Any:
        return self.db["pending_consent"]

    async def ensure_consent_indexes(self) -> None:
        await self.pending_consent.create_index("kept_at", name="forget_pending_consent",
                                                expireAfterSeconds=PENDING_DAYS * 86400)

    async def keep_consent(self, tenant: str, lead_id: str, consent: list[Doc], *, at: datetime) -> bool | None:
        """Set the lead's consent unless a later change was kept already (False); None: no such lead."""
        result = await self.leads.update_one({"_id": lead_id, "tenant_id": tenant, "$nor": [{"consent_at": {"$gt": at}}]},
                                             {"$set": {"consent": consent, "consent_at": at}})
        if result.matched_count:
            return True
        return False if await self.leads.count_documents({"_id": lead_id, "tenant_id": tenant}, limit=1) else None

    async def keep_pending_consent(self, tenant: str, lead_id: str, consent: list[Doc], *, at: datetime,
                                   event_id: str) -> None:
        """Keep a change for a lead not stored yet (the latest by `at` wins)."""
        try:
            await self.pending_consent.update_one(
                {"_id": _pending_key(tenant, lead_id), "$nor": [{"at": {"$gt": at}}]},
                {"$set": {"tenant_id": tenant, "lead_id": lead_id, "consent": consent, "at": at, "event_id": event_id,
                          "kept_at": datetime.now(UTC)}},
                upsert=True)
        except DuplicateKeyError:
            pass  # a later change is pending already: the upsert found no older one to replace

    async def pending_consents(self, tenant: str, lead_ids: list[str]) -> list[Doc]:
        cursor = self.pending_consent.find({"_id": {"$in": [_pending_key(tenant, lead_id) for lead_id in lead_ids]}})
        return await cursor.to_list()

    async def drop_pending_consent(self, pending: Doc) -> None:
        """Forget a pending change once applied (unless a later one replaced it meanwhile)."""
        await self.pending_consent.delete_one({"_id": pending["_id"], "at": pending["at"]})
