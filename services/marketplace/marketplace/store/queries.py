"""The reads the API serves (and the service's read-only lookups): plain documents for the views, never
written back."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from pymongo import ASCENDING, DESCENDING

from .keys import Doc, scoped

if TYPE_CHECKING:
    from .base import MarketplaceStore

# The sort orders of browsing: the field each pages by (computed by the search pipeline for relevance),
# then `_id` to break ties (both descending).
CURSOR_FIELDS = {"relevance": "score", "rating": "rating_rank", "sales": "sales", "recency": "listed_at"}


class Queries:
    def __init__(self, store: MarketplaceStore) -> None:
        self.store = store

    async def tip(self, tenant: str, tip_id: str) -> Doc | None:
        """A tip as browsing shows it (without its search terms)."""
        return await self.store.tip(tenant, tip_id, with_search_terms=False)

    async def tip_and_purchase(self, tenant: str, tip_id: str, purchase_id: str) -> tuple[Doc | None, Doc | None]:
        """A tip as browsing shows it and a purchase of it, in one round trip (a tip's detail reads both for
        every buyer: two round trips were most of its cost)."""
        pipeline: list[Doc] = [
            {"$match": {"_id": scoped(tenant, tip_id)}}, {"$project": {"search_terms": 0}},
            {"$lookup": {"from": self.store.purchases.name, "pipeline": [
                {"$match": {"_id": scoped(tenant, purchase_id)}}], "as": "_purchase"}},
        ]
        found = await (await self.store.tips.aggregate(pipeline)).to_list()
        if not found:
            return None, None
        purchases = found[0].pop("_purchase")
        return found[0], purchases[0] if purchases else None

    async def version(self, tenant: str, tip_id: str, version: int) -> Doc | None:
        return await self.store.version(tenant, tip_id, version)

    async def purchase(self, tenant: str, purchase_id: str) -> Doc | None:
        return await self.store.purchase(tenant, purchase_id)

    async def reviews_of(self, tenant: str, tip_id: str) -> list[Doc]:
        """Every review of every version of the tip."""
        versions = await self.store.versions.find({"tenant_id": tenant, "tip_id": tip_id}, {"reviews": 1}).to_list()
        return [r for v in versions for r in v.get("reviews", [])]

    async def learner(self, tenant: str, user_id: str) -> Doc:
        return await self.store.learners.find_one({"_id": scoped(tenant, user_id)}) or {}

    async def ratings(self, tenant: str, tip_id: str, limit: int) -> list[Doc]:
        return await self.store.ratings.find({"tenant_id": tenant, "tip_id": tip_id}, sort=[("rated_at", -1)],
                                             limit=limit).to_list()

    async def latest_recommendation(self, tenant: str, agent_id: str) -> Doc | None:
        return await self.store.recommendations.find_one({"tenant_id": tenant, "agent_id": agent_id},
                                                         sort=[("recommended_at", -1)])

    async def agents_calling_since(self, since: datetime) -> list[Doc]:
        """Every tenant's agents who logged a call since `since` (tenant_id, agent_id)."""
        return await self.store.call_agents.find({"last_call_at": {"$gte": since}},
                                                 {"tenant_id": 1, "agent_id": 1}).to_list()

    async def tips_by_ids(self, tenant: str, tip_ids: list[str]) -> list[Doc]:
        """Listed tips in the order of `tip_ids` (one that is not listed any more is left out)."""
        found = {doc["tip_id"]: doc async for doc in self.store.tips.find(
            {"_id": {"$in": [scoped(tenant, t) for t in tip_ids]}, "status": "listed"}, {"search_terms": 0})}
        return [found[t] for t in tip_ids if t in found]

    async def versions_of(self, tenant: str, tip_id: str) -> list[Doc]:
        return await self.store.versions.find({"tenant_id": tenant, "tip_id": tip_id}, {"body": 0},
                                              sort=[("version", ASCENDING)]).to_list()

    async def review_queue(self, tenant: str, limit: int) -> list[Doc]:
        return await self.store.versions.find({"tenant_id": tenant, "status": "submitted"}, {"body": 0},
                                              sort=[("submitted_at", ASCENDING)], limit=limit).to_list()

    async def owned_tip_ids(self, tenant: str, buyer_id: str) -> set[str]:
        found = self.store.purchases.find({"tenant_id": tenant, "buyer_id": buyer_id, "status": "granted"},
                                          {"tip_id": 1})
        return {doc["tip_id"] async for doc in found}

    async def search(self, tenant: str, *, tokens: list[str], filters: Doc, sort: str, limit: int,
                     after: tuple[Any, str] | None) -> list[Doc]:
        """Listed tips matching `filters` and, with `tokens`, at least one of them. Sorted by `sort`
        (relevance: the number of tokens matched) descending, then `_id` descending; keyset pages after
        (value, _id)."""
        match: Doc = {"tenant_id": tenant, "status": "listed",
                      **{k: {"$all": v} if k == "tags" else v for k, v in filters.items()}}
        if tokens:
            match["search_terms"] = {"$in": tokens}
        key = CURSOR_FIELDS[sort]
        pipeline: list[Doc] = [{"$match": match}]
        if sort == "relevance":
            pipeline.append({"$addFields": {"score": {"$size": {"$setIntersection": ["$search_terms", tokens]}}}})
        if after is not None:
            value, last_id = after
            pipeline.append({"$match": {"$or": [{key: {"$lt": value}}, {key: value, "_id": {"$lt": last_id}}]}})
        pipeline += [{"$sort": {key: -1, "_id": -1}}, {"$limit": limit}, {"$project": {"search_terms": 0}}]
        return await (await self.store.tips.aggregate(pipeline)).to_list()

    async def listed_of_stage(self, tenant: str, stage: str, limit: int) -> list[Doc]:
        return await self.store.tips.find({"tenant_id": tenant, "status": "listed", "stage": stage},
                                          {"search_terms": 0},
                                          sort=[("rating_rank", DESCENDING), ("_id", DESCENDING)], limit=limit).to_list()

    async def seller_sales(self, tenant: str, seller_id: str, limit: int, before: datetime | None) -> list[Doc]:
        query: Doc = {"tenant_id": tenant, "seller_id": seller_id, "status": "granted"}
        if before is not None:
            query["granted_at"] = {"$lt": before}
        return await self.store.purchases.find(query, sort=[("granted_at", DESCENDING)], limit=limit).to_list()

    async def seller_summary(self, tenant: str, seller_id: str) -> Doc:
        tips = await self.store.tips.find({"tenant_id": tenant, "author_id": seller_id},
                                          {"status": 1, "sales": 1, "rating_sum": 1, "rating_count": 1}).to_list()
        earned = await (await self.store.purchases.aggregate([
            {"$match": {"tenant_id": tenant, "seller_id": seller_id, "status": "granted"}},
            {"$group": {"_id": None, "sales": {"$sum": 1}, "coins": {"$sum": "$price"},
                        "earnings": {"$sum": "$seller_amount"}}},
        ])).to_list()
        ratings = sum(t.get("rating_count", 0) for t in tips)
        stars = sum(t.get("rating_sum", 0) for t in tips)
        totals = earned[0] if earned else {"sales": 0, "coins": 0, "earnings": 0}
        return {"tips": len(tips), "listed": sum(t["status"] == "listed" for t in tips), "sales": totals["sales"],
                "sales_coins": totals["coins"], "earnings": totals["earnings"], "ratings": ratings,
                "rating_avg": round(stars / ratings, 2) if ratings else None}
