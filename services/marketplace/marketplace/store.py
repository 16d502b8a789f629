"""MongoDB persistence of the marketplace. Every document carries `tenant_id`, and every `_id` starts with it.

- `tips`: one document per tip: author, status (unlisted, listed, delisted), the latest and the listed
  version, and the listed version's facts copied for browsing and search (`search_terms`: bigrams of
  its Chinese text and ASCII words, see domain.search_tokens), ratings and sales.
- `versions`: one document per version of a tip: the content (title, summary, body, stage, product
  line, tags, price, media), its review status and its reviews.
- `media.files` / `media.chunks`: GridFS bucket of the versions' media.
- `purchases`: one per buyer and tip: the current attempt's ledger transfer id and its state.
- `learning` (per buyer and tip), `learners` (per user), `ratings` (per tip, version and buyer),
  `forwards`, `daily_active` (per user and day), `recommendations`, `outbox`, `inbox`, `leases`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from gridfs import AsyncGridFSBucket
from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession

from telesales_runtime.consumer import Inbox
from telesales_runtime.mongo import ensure_collections, in_transaction

Doc = dict[str, Any]
Session = AsyncClientSession
T = TypeVar("T")

# The sort orders of browsing: field, then `_id` to break ties (both descending).
# The field each sort order pages by (computed by the search pipeline for relevance and rating).
# What the search index needs of a tip (search_index.SearchIndex.put).
SEARCH_FIELDS = {field: 1 for field in ("tenant_id", "tip_id", "status", "listed_version", "search_terms", "stage",
                                        "product_line", "tags", "author_id")}
# Replaced by indexes on rating_rank (rating_avg, or -1 while unrated: sortable and comparable in a keyset).
OBSOLETE_TIP_INDEXES = {"by_rating", "by_stage"}
CURSOR_FIELDS = {"relevance": "score", "rating": "rating_rank", "sales": "sales", "recency": "listed_at"}


def scoped(tenant: str, key: str) -> str:
    return f"{tenant}|{key}"


def version_key(tenant: str, tip_id: str, version: int) -> str:
    return scoped(tenant, f"{tip_id}#{version}")


class MarketplaceStore:
    COLLECTIONS = ("tips", "versions", "purchases", "learning", "learners", "ratings", "forwards", "daily_active",
                   "recommendations", "outbox", "inbox")

    def __init__(self, client: AsyncMongoClient[Doc], database: str, consumer: str, *,
                 chunk_bytes: int = 255 * 1024) -> None:
        self.client = client
        self.db = client[database]
        self.tips = self.db["tips"]
        self.versions = self.db["versions"]
        self.purchases = self.db["purchases"]
        self.learning = self.db["learning"]
        self.learners = self.db["learners"]
        self.ratings = self.db["ratings"]
        self.forwards = self.db["forwards"]
        self.daily_active = self.db["daily_active"]
        self.recommendations = self.db["recommendations"]
        self.outbox = self.db["outbox"]
        self.leases = self.db["leases"]
        self.inbox = Inbox(self.db["inbox"], consumer)
        self.media = AsyncGridFSBucket(self.db, bucket_name="media", chunk_size_bytes=chunk_bytes)

    async def ensure_indexes(self) -> None:
        listed = {"status": "listed"}
        await self.tips.create_indexes([
            IndexModel([("tenant_id", ASCENDING), ("search_terms", ASCENDING)], name="search_terms",
                       partialFilterExpression=listed),
            IndexModel([("tenant_id", ASCENDING), ("listed_at", DESCENDING), ("_id", DESCENDING)],
                       name="by_recency", partialFilterExpression=listed),
            IndexModel([("tenant_id", ASCENDING), ("rating_rank", DESCENDING), ("_id", DESCENDING)],
                       name="by_rating_rank", partialFilterExpression=listed),
            IndexModel([("tenant_id", ASCENDING), ("sales", DESCENDING), ("_id", DESCENDING)],
                       name="by_sales", partialFilterExpression=listed),
            IndexModel([("tenant_id", ASCENDING), ("stage", ASCENDING), ("rating_rank", DESCENDING),
                        ("_id", DESCENDING)], name="by_stage_rating", partialFilterExpression=listed),
            IndexModel([("tenant_id", ASCENDING), ("stage", ASCENDING), ("listed_at", DESCENDING),
                        ("_id", DESCENDING)], name="by_stage_recency", partialFilterExpression=listed),
            IndexModel([("tenant_id", ASCENDING), ("author_id", ASCENDING)], name="by_author"),
        ])
        existing = await self.tips.index_information()
        for obsolete in OBSOLETE_TIP_INDEXES & set(existing):
            await self.tips.drop_index(obsolete)
        # Tips stored before rating_rank existed get it (idempotent; a no-op once every tip has it).
        await self.tips.update_many({"rating_rank": {"$exists": False}},
                                    [{"$set": {"rating_rank": {"$ifNull": ["$rating_avg", -1]}}}])
        await self.versions.create_index([("tenant_id", ASCENDING), ("status", ASCENDING),
                                          ("submitted_at", ASCENDING)], name="review_queue")
        await self.purchases.create_indexes([
            # every attempt's transfer id (multikey): an answer of the ledger finds its purchase; an id is
            # never used by two purchases
            IndexModel([("tenant_id", ASCENDING), ("transfer_ids", ASCENDING)], name="by_transfer", unique=True),
            IndexModel([("tenant_id", ASCENDING), ("buyer_id", ASCENDING), ("status", ASCENDING)], name="by_buyer"),
            IndexModel([("tenant_id", ASCENDING), ("seller_id", ASCENDING), ("status", ASCENDING),
                        ("granted_at", DESCENDING)], name="by_seller"),
        ])
        await self.recommendations.create_index([("tenant_id", ASCENDING), ("agent_id", ASCENDING),
                                                  ("recommended_at", DESCENDING)], name="latest_per_agent")
        await self.ratings.create_index([("tenant_id", ASCENDING), ("tip_id", ASCENDING), ("rated_at", DESCENDING)],
                                        name="by_tip")
        # Collections a transaction writes must exist before it starts.
        await ensure_collections(self.db, self.COLLECTIONS)

    async def transaction(self, work: Callable[[Session], Awaitable[T]]) -> T:
        return await in_transaction(self.client, work)

    # ---- reads ----------------------------------------------------------------------------------------

    async def tip(self, tenant: str, tip_id: str, session: Session | None = None, *,
                  with_search_terms: bool = True) -> Doc | None:
        return await self.tips.find_one({"_id": scoped(tenant, tip_id)},
                                        None if with_search_terms else {"search_terms": 0}, session=session)

    # ---- what the in-memory search index is fed with (search_feed.py) -----------------------------------

    async def cluster_time(self) -> Any:
        """The cluster's time now: a change stream started there misses nothing written after."""
        async with self.client.start_session() as session:
            await self.db.command("ping", session=session)
            return session.operation_time

    def listed_for_search(self) -> Any:
        return self.tips.find({"status": "listed"}, SEARCH_FIELDS)

    async def tip_for_search(self, tenant: str, tip_id: str) -> Doc | None:
        return await self.tips.find_one({"_id": scoped(tenant, tip_id)}, SEARCH_FIELDS)

    async def watch_listings(self, *, resume_after: Any = None, start_at: Any = None) -> Any:
        """Changes of the tips that can change what search finds: new, replaced or deleted tips and
        updates of their status or search terms (not sales, visits or ratings)."""
        changed = [{"updateDescription.updatedFields." + field: {"$exists": True}} for field in SEARCH_FIELDS]
        pipeline = [{"$match": {"$or": [{"operationType": {"$in": ["insert", "replace", "delete"]}}, *changed]}},
                    {"$project": {"operationType": 1, "documentKey": 1, **{
                        "fullDocument." + field: 1 for field in SEARCH_FIELDS}}}]
        return await self.tips.watch(pipeline, full_document="updateLookup", resume_after=resume_after,
                                     start_at_operation_time=start_at)

    async def tips_by_ids(self, tenant: str, tip_ids: list[str]) -> list[Doc]:
        """Listed tips in the order of `tip_ids` (one that is not listed any more is left out)."""
        found = {doc["tip_id"]: doc async for doc in self.tips.find(
            {"_id": {"$in": [scoped(tenant, t) for t in tip_ids]}, "status": "listed"}, {"search_terms": 0})}
        return [found[t] for t in tip_ids if t in found]

    async def version(self, tenant: str, tip_id: str, version: int, session: Session | None = None) -> Doc | None:
        return await self.versions.find_one({"_id": version_key(tenant, tip_id, version)}, session=session)

    async def versions_of(self, tenant: str, tip_id: str) -> list[Doc]:
        return await self.versions.find({"tenant_id": tenant, "tip_id": tip_id}, {"body": 0},
                                        sort=[("version", ASCENDING)]).to_list()

    async def review_queue(self, tenant: str, limit: int) -> list[Doc]:
        return await self.versions.find({"tenant_id": tenant, "status": "submitted"}, {"body": 0},
                                        sort=[("submitted_at", ASCENDING)], limit=limit).to_list()

    async def purchase(self, tenant: str, purchase_id: str, session: Session | None = None) -> Doc | None:
        return await self.purchases.find_one({"_id": scoped(tenant, purchase_id)}, session=session)

    async def purchase_by_transfer(self, tenant: str, transfer_id: str, session: Session | None = None) -> Doc | None:
        """The purchase one of whose attempts used `transfer_id`."""
        return await self.purchases.find_one({"tenant_id": tenant, "transfer_ids": transfer_id}, session=session)

    async def owned_tip_ids(self, tenant: str, buyer_id: str) -> set[str]:
        found = self.purchases.find({"tenant_id": tenant, "buyer_id": buyer_id, "status": "granted"}, {"tip_id": 1})
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
        return await (await self.tips.aggregate(pipeline)).to_list()

    async def listed_of_stage(self, tenant: str, stage: str, limit: int) -> list[Doc]:
        return await self.tips.find({"tenant_id": tenant, "status": "listed", "stage": stage},
                                    {"search_terms": 0}, sort=[("rating_rank", DESCENDING), ("_id", DESCENDING)],
                                    limit=limit).to_list()

    async def seller_sales(self, tenant: str, seller_id: str, limit: int, before: datetime | None) -> list[Doc]:
        query: Doc = {"tenant_id": tenant, "seller_id": seller_id, "status": "granted"}
        if before is not None:
            query["granted_at"] = {"$lt": before}
        return await self.purchases.find(query, sort=[("granted_at", DESCENDING)], limit=limit).to_list()

    async def seller_summary(self, tenant: str, seller_id: str) -> Doc:
        tips = await self.tips.find({"tenant_id": tenant, "author_id": seller_id},
                                    {"status": 1, "sales": 1, "rating_sum": 1, "rating_count": 1}).to_list()
        earned = await (await self.purchases.aggregate([
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
