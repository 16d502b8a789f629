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
- `push_counts` (struggle pushes per agent and day: the daily cap), `call_agents` (per agent: its latest
  call, so the rolling window's job knows whom to look at).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from gridfs import AsyncGridFSBucket
from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, IndexModel, UpdateOne
from pymongo.errors import DuplicateKeyError

from telesales_runtime.consumer import Inbox
from telesales_runtime.mongo import ensure_collections, in_transaction
from telesales_runtime.outbox import outbox_row, write_outbox

from .keys import Doc, Session, scoped, version_key
from .media import MediaFiles
from .queries import Queries
from .unit import Unit

T = TypeVar("T")

# What the search index needs of a tip (search_index.SearchIndex.put).
SEARCH_FIELDS = {field: 1 for field in ("tenant_id", "tip_id", "status", "listed_version", "search_terms", "stage",
                                        "product_line", "tags", "author_id")}
# Replaced by indexes on rating_rank (rating_avg, or -1 while unrated: sortable and comparable in a keyset).
OBSOLETE_TIP_INDEXES = {"by_rating", "by_stage"}


class WrittenMeanwhile(Exception):
    """A unique key refused a write of a transaction: a concurrent request wrote the same first."""


class MarketplaceStore:
    COLLECTIONS = ("tips", "versions", "purchases", "learning", "learners", "ratings", "forwards", "daily_active",
                   "recommendations", "push_counts", "call_agents", "outbox", "inbox")

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
        self.push_counts = self.db["push_counts"]
        self.call_agents = self.db["call_agents"]
        self.outbox = self.db["outbox"]
        self.leases = self.db["leases"]
        self.inbox = Inbox(self.db["inbox"], consumer)
        self.media = AsyncGridFSBucket(self.db, bucket_name="media", chunk_size_bytes=chunk_bytes)
        self.queries = Queries(self)
        self.files = MediaFiles(self)

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
        await self.call_agents.create_index([("last_call_at", DESCENDING)], name="by_last_call")
        await self.ratings.create_index([("tenant_id", ASCENDING), ("tip_id", ASCENDING), ("rated_at", DESCENDING)],
                                        name="by_tip")
        # Collections a transaction writes must exist before it starts.
        await ensure_collections(self.db, self.COLLECTIONS)

    async def transaction(self, work: Callable[[Session], Awaitable[T]]) -> T:
        return await in_transaction(self.client, work)

    async def commit(self, tenant: str, source: str, work: Callable[[Unit], Awaitable[T]]) -> tuple[T, int]:
        """Run `work` in one transaction on a unit of work of `tenant`, with the events it announced
        written to the outbox (as CloudEvents from `source`); the result and how many events there were.
        A unique key refusing a write (a concurrent request wrote first) raises WrittenMeanwhile."""
        try:
            return await self._commit(tenant, source, work)
        except DuplicateKeyError as error:
            raise WrittenMeanwhile(str(error)) from error

    async def commit_consumed(self, tenant: str, source: str, event_key: tuple[str, str],
                              work: Callable[[Unit], Awaitable[T]]) -> tuple[T | None, int]:
        """`commit` for a consumed event that `work` records in the inbox: None when a concurrent consumer
        recorded it meanwhile (the inbox's unique id refused the second)."""
        try:
            return await self._commit(tenant, source, work)
        except DuplicateKeyError:
            if not await self.inbox.processed([event_key]):
                raise
            return None, 0

    async def _commit(self, tenant: str, source: str, work: Callable[[Unit], Awaitable[T]]) -> tuple[T, int]:
        written = 0

        async def run(session: Session) -> T:
            nonlocal written
            unit = Unit(self, tenant, session)
            result = await work(unit)
            rows = [outbox_row(a.topic.name, a.topic.event(a.data, source=source, tenantid=tenant, subject=a.key),
                               a.key) for a in unit.announcements]
            await write_outbox(self.outbox, rows, session)
            written = len(rows)
            return result

        result = await self.transaction(run)
        return result, written

    def unit(self, tenant: str) -> Unit:
        """A unit of work outside a transaction: for a single guarded update that announces nothing."""
        return Unit(self, tenant, None)

    async def note_callers(self, latest_calls: dict[tuple[str, str], datetime]) -> None:
        """Each (tenant, agent)'s latest call start (kept at its latest: a replayed call changes nothing)."""
        if latest_calls:
            await self.call_agents.bulk_write([UpdateOne(
                {"_id": scoped(tenant, agent)},
                {"$max": {"last_call_at": at}, "$setOnInsert": {"tenant_id": tenant, "agent_id": agent}}, upsert=True)
                for (tenant, agent), at in latest_calls.items()], ordered=False)

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

    async def version(self, tenant: str, tip_id: str, version: int, session: Session | None = None) -> Doc | None:
        return await self.versions.find_one({"_id": version_key(tenant, tip_id, version)}, session=session)

    async def purchase(self, tenant: str, purchase_id: str, session: Session | None = None) -> Doc | None:
        return await self.purchases.find_one({"_id": scoped(tenant, purchase_id)}, session=session)
