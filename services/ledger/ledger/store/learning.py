"""The learning the ledger keeps (不学回收): `learner_tips` (per user and tip: the most watch time reported,
learned or not), `learners` (per user: seconds watched, tips learned, last learning) and the wallets' idle
clock (`last_activity_at`), moved by learning only. A wallet not opened yet is not created by learning:
its clock starts when it opens."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from pymongo import UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from ..domain import Learned, LearningTotals, TipProgress, wallet
from .documents import Doc, scoped

COLLECTIONS = ("learners", "learner_tips")


class LearningStore:
    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self.db = db
        self.learners = db["learners"]
        self.tips = db["learner_tips"]

    async def progress(self, tenant: str, pairs: Iterable[tuple[str, str]],
                       session: AsyncClientSession | None = None) -> dict[tuple[str, str], TipProgress]:
        ids = [scoped(tenant, f"{user}|{tip}") for user, tip in dict.fromkeys(pairs)]
        if not ids:
            return {}
        return {(doc["user_id"], doc["tip_id"]): TipProgress.of(doc)
                async for doc in self.tips.find({"_id": {"$in": ids}}, session=session)}

    async def totals(self, tenant: str, user_ids: Iterable[str],
                     session: AsyncClientSession | None = None) -> dict[str, LearningTotals]:
        ids = [scoped(tenant, u) for u in dict.fromkeys(user_ids)]
        if not ids:
            return {}
        return {doc["user_id"]: LearningTotals.of(doc)
                async for doc in self.learners.find({"_id": {"$in": ids}}, session=session)}

    async def write(self, tenant: str, learned: Sequence[Learned], now: datetime,
                    session: AsyncClientSession) -> None:
        """The learning of a batch, in the caller's transaction."""
        if not learned:
            return
        tips = [UpdateOne({"_id": scoped(tenant, f"{one.user_id}|{tip}")},
                          {"$max": {"watched_seconds": p.watched_seconds, "learned": p.learned},
                           "$set": {"updated_at": now},
                           "$setOnInsert": {"tenant_id": tenant, "user_id": one.user_id, "tip_id": tip}}, upsert=True)
                for one in learned for tip, p in one.progress.items()]
        await self.tips.bulk_write(tips, ordered=True, session=session)
        await self.learners.bulk_write([UpdateOne(
            {"_id": scoped(tenant, one.user_id)},
            {"$inc": {"seconds": one.seconds, "tips": one.tips}, "$max": {"last_learned_at": one.last_learned_at},
             "$set": {"updated_at": now}, "$setOnInsert": {"tenant_id": tenant, "user_id": one.user_id}},
            upsert=True) for one in learned], ordered=True, session=session)
        # The idle clock of wallets opened already (no upsert).
        clocks = [UpdateOne({"_id": scoped(tenant, wallet(one.user_id))},
                            {"$max": {"last_activity_at": one.last_learned_at}})
                  for one in learned if one.last_learned_at is not None]
        if clocks:
            await self.db["accounts"].bulk_write(clocks, ordered=True, session=session)
