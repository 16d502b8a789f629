"""Key rotation of personal data without downtime: once a new key id is active (a keyring change and a rolling
restart), every replica writes with it, and this leased job re-seals, in batches, the documents still sealed
with another key or never sealed (written before encryption). `telesales_pii_stale_documents` says how many
remain per collection: at zero the old key can leave the keyring.

Each re-seal is conditional on the document's personal fields being what the job read, so a concurrent write
(or an erasure) wins and the document is simply looked at again next round."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from .observability import PII_STALE_DOCUMENTS as PII_STALE
from .periodic import LeasedLoop
from .pii_store import KID_FIELD, Doc, PiiFields, not_only


@dataclass(frozen=True)
class RotationTarget:
    """A collection to keep sealed with the active keys. `resealed` makes the `$set` of a document (its plain
    values opened) for what PiiFields' top-level fields do not cover (nested values); `rekey` replaces
    documents whose `_id` holds plain data instead of updating them in place."""

    collection: AsyncCollection[Doc]
    fields: PiiFields
    resealed: Callable[[Doc, str], Doc] | None = None
    rekey: Callable[[Doc], Any] | None = None
    nested: tuple[str, ...] = ()  # fields `resealed` rewrites: a concurrent change of them wins too

    def stale_query(self) -> Doc:
        keyring = self.fields.keyring
        tenant, own = self.fields.tenant_field, keyring.tenants
        clauses: list[Doc] = [{tenant: {"$nin": list(own)}, **not_only(keyring.masters.active)}]
        clauses += [{tenant: name, **not_only(keys.active)} for name, keys in own.items()]
        return clauses[0] if len(clauses) == 1 else {"$or": clauses}

    async def reseal_batch(self, batch_size: int) -> int:
        """Re-seal up to `batch_size` stale documents; how many were."""
        done = 0
        async for stored in self.collection.find(self.stale_query(), limit=batch_size):
            if self.rekey is not None and await self.rekey(stored):
                done += 1
                continue
            tenant = stored[self.fields.tenant_field]
            plain = self.fields.open(copy.deepcopy(stored))
            assert plain is not None
            update = self.fields.seal({k: plain.get(k) for k in self.fields.fields if k in plain}, tenant)
            if self.resealed is not None:
                update |= self.resealed(plain, tenant)
            unchanged = {name: stored.get(name) for name in (*self.fields.fields, *self.nested)}
            unchanged[KID_FIELD] = stored.get(KID_FIELD)
            result = await self.collection.update_one({"_id": stored["_id"], **unchanged}, {"$set": update})
            done += result.modified_count
        return done

    async def stale_count(self) -> int:
        return await self.collection.count_documents(self.stale_query())


class PiiRotation(LeasedLoop):
    """Re-seals stale personal data of the service's collections, in one replica at a time."""

    failure = "pii rotation round failed; retried next round"

    def __init__(self, leases: AsyncCollection[Doc], targets: list[RotationTarget], *, service: str,
                 interval_seconds: float, lease_seconds: float, batch_size: int, enabled: bool = True) -> None:
        super().__init__(leases, f"pii-rotation-{service}", interval_seconds=interval_seconds,
                         lease_seconds=lease_seconds, enabled=enabled)
        self.targets = targets
        self.service = service
        self.batch_size = batch_size

    async def tick(self) -> None:
        for target in self.targets:
            await self.run_target(target)

    async def run_target(self, target: RotationTarget) -> int:
        """One round on one collection (a batch, while batches come back full); how many it re-sealed."""
        total = 0
        while True:
            done = await target.reseal_batch(self.batch_size)
            total += done
            # a first run over millions of documents outlasts the lease: renewed between batches, and given
            # up (the round ends) as soon as another replica holds it
            if done < self.batch_size or not await self.lease.hold():
                break
        PII_STALE.labels(self.service, target.collection.name).set(await target.stale_count())
        return total

    async def until_done(self) -> int:
        """Every round needed until no target has stale documents (tests, an operator's one-off run)."""
        total = 0
        for target in self.targets:
            total += await self.run_target(target)
        return total
