"""MongoDB persistence of the simulated number-privacy provider: one document per live binding (collection
`privacy_bindings`), as an outside provider would keep it. A unique index on the middle number gives each
number to one binding at a time, one on the reference gives an agent and a lead one binding; a TTL index
removes bindings once expired (MongoDB's TTL monitor runs every minute: until then an expired binding is
only skipped, and removed by the next binding of its number or reference). The customer's and the agent's
numbers are stored sealed under the tenant's key (telesales_runtime.pii_crypto), like every other number the
allocator keeps: the tenant is the reference's first part (`tenant:lead:agent`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, AsyncMongoClient, IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError

from telesales_runtime.pii_crypto import Keyring

Doc = dict[str, Any]
SEALED = ("customer_number", "agent_number")


def _tenant_of(reference: str) -> str:
    return reference.split(":", 1)[0]


class SimulatedNumberStore:
    def __init__(self, client: AsyncMongoClient[Doc], database: str, *, keyring: Keyring) -> None:
        self.bindings = client[database]["privacy_bindings"]
        self.keyring = keyring

    def _sealed(self, reference: str, field: str, value: str | None) -> str | None:
        return None if value is None else self.keyring.seal(_tenant_of(reference), f"privacy_bindings.{field}", value)

    def _opened(self, doc: Doc | None) -> Doc | None:
        if doc is None:
            return None
        tenant = _tenant_of(doc["reference"])
        return {**doc, **{field: self.keyring.open(tenant, f"privacy_bindings.{field}", doc[field])
                          for field in SEALED if doc.get(field) is not None}}

    async def ensure_indexes(self) -> None:
        await self.bindings.create_indexes([
            IndexModel([("middle_number", ASCENDING)], unique=True, name="one_binding_per_middle_number"),
            IndexModel([("reference", ASCENDING)], unique=True, name="one_binding_per_reference"),
            IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="expire_bindings"),
        ])

    async def renew(self, *, reference: str, now: datetime, expires_at: datetime) -> Doc | None:
        """The reference's live binding, now lasting until `expires_at` (None: it has none)."""
        return self._opened(await self.bindings.find_one_and_update(
            {"reference": reference, "expires_at": {"$gt": now}}, {"$set": {"expires_at": expires_at}},
            return_document=ReturnDocument.AFTER))

    async def live_numbers(self, numbers: Sequence[str], now: datetime) -> dict[str, datetime]:
        """The middle numbers of `numbers` bound now, with when each binding expires."""
        cursor = self.bindings.find({"middle_number": {"$in": list(numbers)}, "expires_at": {"$gt": now}},
                                    {"middle_number": 1, "expires_at": 1})
        return {doc["middle_number"]: doc["expires_at"] async for doc in cursor}

    async def take(self, *, middle_number: str, reference: str, customer_number: str, agent_number: str | None,
                   now: datetime, expires_at: datetime) -> Doc | None:
        """Bind `middle_number` (None: someone bound it, or this reference, meanwhile)."""
        await self.bindings.delete_many({"$or": [{"middle_number": middle_number}, {"reference": reference}],
                                         "expires_at": {"$lte": now}})
        doc = {"_id": uuid.uuid4().hex, "middle_number": middle_number, "reference": reference,
               "customer_number": customer_number, "agent_number": agent_number, "bound_at": now,
               "expires_at": expires_at}
        try:
            await self.bindings.insert_one({**doc, **{field: self._sealed(reference, field, doc[field])
                                                      for field in SEALED}})
        except DuplicateKeyError:
            return None
        return doc

    async def remove(self, binding_id: str) -> None:
        await self.bindings.delete_one({"_id": binding_id})

    async def live_binding(self, middle_number: str, now: datetime) -> Doc | None:
        """Whom a call to `middle_number` reaches now (what the simulated exchange routes by)."""
        return self._opened(await self.bindings.find_one({"middle_number": middle_number, "expires_at": {"$gt": now}}))
