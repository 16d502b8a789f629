"""MongoDB persistence of the allocator. Every document carries `tenant_id` and every query filters on it.

A lead document is the unit of consistency: a change of its holder and the event announcing it are one
atomic single-document update (the events wait in the document's embedded outbox until relayed), so a
claim needs no transaction. Consumers of outside events write their effects and their inbox entries in
one transaction per batch."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.cursor import AsyncCursor

from telesales_runtime.mongo import in_transaction
from telesales_runtime.outbox import write_outbox

from ..domain.changes import LeadChange
from ..domain.lead import CLOSED, DO_NOT_CALL, HELD, POOLED, WON, Lead
from .applications import ApplicationStore
from .consent import ConsentStore
from .do_not_call import DoNotCallStore
from .embedded_outbox import with_embedded_events
from .lead_writes import Alongside, AlongsideChanged, write_of
from .roster import RosterStore, agent_key
from .team_reads import TeamReads
from .tier_queries import tier_query

Doc = dict[str, Any]

__all__ = ["CLOSED", "Alongside", "AlongsideChanged", "DO_NOT_CALL", "HELD", "POOLED", "WON", "AllocatorStore", "Doc", "agent_key", "tier_query"]

# The order claims take pooled leads in, and the index keys that serve it without an in-memory sort.
BEST_FIRST = [("tenant_id", ASCENDING), ("pool_id", ASCENDING), ("score", DESCENDING), ("_id", ASCENDING)]
BEST_FIRST_SORT = [("score", DESCENDING), ("_id", ASCENDING)]
# Held leads by holder, with the status they are counted by: a holding count is read from the index alone.
HELD_BY_AGENT = [("tenant_id", ASCENDING), ("holder", ASCENDING), ("status", ASCENDING)]


def held_count_stages(tenant: str, agent_ids: Sequence[str]) -> list[Doc]:
    """How many leads each of these agents holds ({_id: agent, n}; none for an agent holding none),
    counted from the `held_by_agent_counted` index without reading a lead."""
    return [{"$match": {"tenant_id": tenant, "holder": {"$in": list(agent_ids)}, "status": HELD}},
            {"$group": {"_id": "$holder", "n": {"$sum": 1}}}]
# Indexes of earlier versions, dropped at start-up: they lacked _id, so every claim sorted the whole pool.
# by_phone indexed every lead's number: now sealed, found by blind index (or, stored before, by a legacy index).
OBSOLETE_LEAD_INDEXES = frozenset({"pooled_by_score", "pooled_buyers_by_score", "by_phone", "held_by_agent"})

# What a claim reads of its candidates: the fields its answer shows, and who dropped them.
CLAIM_CANDIDATE: dict[str, int] = {field: 1 for field in (
    "tenant_id", "phone_e164", "name", "company", "business_line", "product_interest", "region", "score", "lead_grade", "pool_id",
    "status", "holder", "held_since", "stage_percent", "funnel_step", "deal_in_progress", "call_count",
    "last_call_at", "drop_count", "buyer", "dedicated_agent", "rest_until", "dropped_by", "drops")}

# A lead without its embedded outbox and its histories (calls in the window, holds, history): what reads need.
LEAN_LEAD: dict[str, int] = {"outbox": 0, "recent_calls": 0, "holds": 0, "history": 0}


class _LeadChanged(Exception):  # noqa: N818 - the lead's condition failed: undo the alongside write
    pass


class AllocatorStore(RosterStore, DoNotCallStore, ApplicationStore, TeamReads, ConsentStore):
    async def ensure_indexes(self) -> None:
        existing = {index["name"] async for index in await self.leads.list_indexes()}
        for name in OBSOLETE_LEAD_INDEXES & existing:
            await self.leads.drop_index(name)
        # Every index on leads costs every claim: keep to the ones the hot paths need.
        await self.leads.create_indexes([
            # claim: the best-scored pooled leads of a pool, in the claim's full sort order (score, then
            # _id): without _id the server sorts every pooled lead of the pool for each claim
            IndexModel(BEST_FIRST, name="pooled_best_first", partialFilterExpression={"status": POOLED}),
            # the buyer tier is small: its own index spares a walk through every pooled lead
            IndexModel(BEST_FIRST, name="pooled_buyers_best_first",
                       partialFilterExpression={"status": POOLED, "buyer": True}),
            # the fresh tier (never dialed): without its own index its claims walk past every pooled lead
            # that was dialed and put back with a better score (a fifth of a floor's pool, growing all day)
            IndexModel(BEST_FIRST, name="pooled_fresh_best_first",
                       partialFilterExpression={"status": POOLED, "call_count": 0}),
            # holding cap counts and an agent's own list. `status` is a key too, so a count reads the index
            # alone: without it every held lead was fetched (13,485 documents, 740 ms, for one push on arrival
            # to a floor of 2,000 agents holding 7 each; claims fetch an agent's whole holding)
            IndexModel(HELD_BY_AGENT, name="held_by_agent_counted", partialFilterExpression={"status": HELD}),
            # the reclaim sweep: held leads by how long they have been held
            IndexModel([("tenant_id", ASCENDING), ("held_since", ASCENDING)], name="held_since",
                       partialFilterExpression={"status": HELD}),
            # wins of a week, for grading: confirmed ones (and those won before confirmation existed)
            IndexModel([("tenant_id", ASCENDING), ("won_at", ASCENDING)], name="won_at",
                       partialFilterExpression={"status": WON}),
            IndexModel([("tenant_id", ASCENDING), ("win_confirmed_at", ASCENDING)], name="win_confirmed_at",
                       partialFilterExpression={"status": WON, "win_confirmed": True}),
            # an order from a CRM names its lead by the CRM's own id
            IndexModel([("tenant_id", ASCENDING), ("external_refs.external_id", ASCENDING)], name="by_external_ref",
                       partialFilterExpression={"external_refs.0": {"$exists": True}}),
            # signals and listings that name a lead by number find it by the number's blind index
            *self.sealing.lead_indexes(),
        ])
        await self.leads.create_index("outbox_at", sparse=True, name="embedded_outbox_pending")
        await self.ensure_application_indexes()
        await self.ensure_consent_indexes()
        await self.ensure_team_read_indexes()
        await self.agents.create_indexes([
            IndexModel([("tenant_id", ASCENDING), ("agent_id", ASCENDING)], unique=True, name="one_agent"),
            IndexModel([("tenant_id", ASCENDING), ("team_id", ASCENDING)], name="by_team"),
        ])
        await self.teams.create_index([("tenant_id", ASCENDING), ("team_id", ASCENDING)], unique=True)
        await self.index_only_listings()  # the copy of the do-not-call list keeps no number (store/do_not_call.py)

    # ---- leads -----------------------------------------------------------------------------------------

    async def insert_leads(self, docs: list[Doc], inbox_entries: list[Doc]) -> None:
        sealed = [self.sealing.leads.seal(doc) for doc in docs]  # `docs` stay as they are for the caller
        async def work(session: AsyncClientSession) -> None:
            if docs:
                await self.leads.insert_many(sealed, ordered=True, session=session)
            await self.inbox.record(inbox_entries, session=session)

        await in_transaction(self.client, work)

    async def existing_lead_ids(self, tenant: str, lead_ids: Sequence[str]) -> set[str]:
        cursor = self.leads.find({"_id": {"$in": list(lead_ids)}, "tenant_id": tenant}, {"_id": 1},
                                 batch_size=len(lead_ids) + 1)  # one round trip (else 101, then a getMore)
        return {doc["_id"] async for doc in cursor}

    async def get_lead(self, tenant: str, lead_id: str, projection: Doc | None = None) -> Doc | None:
        return self.sealing.open(await self.leads.find_one({"_id": lead_id, "tenant_id": tenant}, projection), tenant)

    async def get_leads(self, tenant: str, lead_ids: Sequence[str], projection: Doc | None = None) -> dict[str, Doc]:
        cursor = self.leads.find({"_id": {"$in": list(lead_ids)}, "tenant_id": tenant}, projection or {"outbox": 0, "history": 0},
                                 batch_size=len(lead_ids) + 1)  # one round trip for a batch's leads
        return {doc["_id"]: self.sealing.open(doc, tenant) async for doc in cursor}

    async def lead_by_phone(self, tenant: str, phone: str) -> Doc | None:
        return self.sealing.open(await self.leads.find_one({"tenant_id": tenant, **self.sealing.phone_is(tenant, phone)},
                                                           LEAN_LEAD))

    async def lead_by_ref(self, tenant: str, source_system: str, external_id: str) -> Doc | None:
        """The lead an outside system names by its own id."""
        ref = {"source_system": source_system, "external_id": external_id}
        return self.sealing.open(await self.leads.find_one({"tenant_id": tenant, "external_refs": {"$elemMatch": ref}},
                                                           LEAN_LEAD))

    async def held_count(self, tenant: str, agent_id: str) -> int:
        return await self.leads.count_documents({"tenant_id": tenant, "holder": agent_id, "status": HELD})

    async def agent_and_held_count(self, tenant: str, agent_id: str) -> tuple[Doc | None, int]:
        """The agent's document and how many leads it holds, read in one round trip (a claim's check)."""
        return (await self.agents_and_held_counts(tenant, [agent_id]))[agent_id]

    async def agents_and_held_counts(self, tenant: str, agent_ids: Sequence[str]) -> dict[str, tuple[Doc | None, int]]:
        """`agent_and_held_count` for several agents in one round trip (claims arriving together): the held
        counts from the `held_by_agent_counted` index alone, the agents' documents joined by `$unionWith`."""
        wanted = sorted(set(agent_ids))
        pipeline = [*held_count_stages(tenant, wanted),
                    {"$unionWith": {"coll": self.agents.name, "pipeline": [
                        {"$match": {"_id": {"$in": [agent_key(tenant, a) for a in wanted]}}},
                        {"$replaceWith": {"_id": None, "agent": "$$ROOT"}}]}}]
        found: dict[str, tuple[Doc | None, int]] = {a: (None, 0) for a in wanted}
        held: dict[str, int] = {}
        async for row in await self.leads.aggregate(pipeline):
            if "agent" in row:
                doc = row["agent"]
                found[doc["agent_id"]] = (doc, 0)
            else:
                held[row["_id"]] = row["n"]
        return {a: (doc, held.get(a, 0)) for a, (doc, _) in found.items()}

    async def held_counts(self, tenant: str, agent_ids: Sequence[str]) -> dict[str, int]:
        counts = {a: 0 for a in agent_ids}
        async for row in await self.leads.aggregate(held_count_stages(tenant, list(counts)),
                                                    batchSize=len(counts) + 1):  # one round trip
            counts[row["_id"]] = row["n"]
        return counts

    async def take_best(self, query: Doc, update: list[Doc]) -> Doc | None:
        """Atomically take the best-scored lead matching `query` (a lone claim's single write)."""
        return self.sealing.open(await self.leads.find_one_and_update(
            query, update, sort=BEST_FIRST_SORT, projection=CLAIM_CANDIDATE, return_document=ReturnDocument.AFTER))

    async def claim_candidates(self, query: Doc, limit: int) -> list[Doc]:
        """The best-scored leads matching `query`: what a claim's answer shows and who dropped them."""
        return self.sealing.open_all(await self.leads.find(query, CLAIM_CANDIDATE, sort=BEST_FIRST_SORT,
                                                           limit=limit).to_list())

    async def take_picked(self, query: Doc, drop_counts: dict[str, int], update: list[Doc]) -> int:
        """Apply a group claim's `update` to the picked leads that still match `query` and have not been
        dropped since they were read (same drop count); how many it took."""
        picked = [{"_id": lead_id, "drop_count": drops} for lead_id, drops in drop_counts.items()]
        return (await self.leads.update_many({"$and": [query, {"$or": picked}]}, update)).modified_count

    async def leads_of_claim(self, lead_ids: Sequence[str], claim_id: str) -> list[Doc]:
        """Which of these leads a group claim took (after a race lost some of them)."""
        return self.sealing.open_all(await self.leads.find({"_id": {"$in": list(lead_ids)}, "claim_id": claim_id},
                                                           CLAIM_CANDIDATE, sort=BEST_FIRST_SORT).to_list())

    async def update_lead_if(self, query: Doc, update: Doc | list[Doc], events: list[Doc], now: datetime) -> Doc | None:
        """Apply `update` (with `events` appended to the lead's outbox) if `query` still matches; the
        lead after the change, or None when it no longer matched."""
        return self.sealing.open(await self.leads.find_one_and_update(query, with_embedded_events(update, events, now),
                                                                      projection=LEAN_LEAD,
                                                                      return_document=ReturnDocument.AFTER))

    async def apply_lead_updates(self, updates: list[tuple[Doc, Doc | list[Doc], list[Doc]]], now: datetime,
                                 inbox_entries: list[Doc] | None = None, outbox_rows: list[Doc] | None = None) -> int:
        """Conditional updates of many leads with their events (and, for consumers, the processed event
        ids and collection-outbox rows) in one transaction. Returns how many leads matched."""
        ops = [UpdateOne(q, with_embedded_events(u, e, now)) for q, u, e in updates]

        async def work(session: AsyncClientSession) -> int:
            matched = 0
            if ops:
                matched = (await self.leads.bulk_write(ops, ordered=True, session=session)).matched_count
            if inbox_entries:
                await self.inbox.record(inbox_entries, session=session)
            if outbox_rows:
                await write_outbox(self.outbox, outbox_rows, session)
            return matched

        if inbox_entries or outbox_rows:
            return await in_transaction(self.client, work)
        if not ops:
            return 0
        return (await self.leads.bulk_write(ops, ordered=False)).matched_count

    async def holders_of(self, tenant: str, lead_ids: Sequence[str]) -> dict[str, str | None]:
        """Who holds each of these leads now (None: nobody)."""
        found = self.leads.find({"tenant_id": tenant, "_id": {"$in": list(lead_ids)}}, {"holder": 1})
        return {doc["_id"]: doc.get("holder") async for doc in found}

    async def commit_if(self, lead: Lead, change: LeadChange, events: list[Doc], now: datetime, *,
                        alongside: Alongside | None = None) -> Doc | None:
        """Make one change of the Lead aggregate (with its events) if its condition still holds when
        written; the lead after, or None when it no longer did. With `alongside`, that write too, in one
        transaction: raises AlongsideChanged (and writes nothing) when its condition no longer holds."""
        query, update = write_of(lead, change)
        if alongside is None:
            return await self.update_lead_if(query, update, events, now)

        async def work(session: AsyncClientSession) -> Doc:
            other = await self.db[alongside.collection].update_one(alongside.query, alongside.update, session=session)
            if other.matched_count != 1:
                raise AlongsideChanged(alongside.collection)
            doc = await self.leads.find_one_and_update(query, with_embedded_events(update, events, now),
                                                       projection=LEAN_LEAD, return_document=ReturnDocument.AFTER,
                                                       session=session)
            if doc is None:
                raise _LeadChanged
            return self.sealing.open(doc)  # type: ignore[return-value]

        try:
            return await in_transaction(self.client, work)
        except _LeadChanged:
            return None

    async def commit(self, writes: Sequence[tuple[Lead, LeadChange, list[Doc]]], now: datetime,
                     inbox_entries: list[Doc] | None = None) -> int:
        """Changes of many leads, each with its events (and a consumer's processed event ids), as
        apply_lead_updates writes them; how many leads still matched their condition."""
        return await self.apply_lead_updates([(*write_of(lead, change), events) for lead, change, events in writes],
                                             now, inbox_entries=inbox_entries)

    async def browse_pool(self, tenant: str, pool_ids: Sequence[str], extra: Doc, limit: int,
                          after: tuple[int, str] | None) -> list[Doc]:
        query: Doc = {"tenant_id": tenant, "status": POOLED, "pool_id": {"$in": list(pool_ids)}, **extra}
        if after is not None:
            score, lead_id = after
            query["$or"] = [{"score": {"$lt": score}}, {"score": score, "_id": {"$gt": lead_id}}]
        return self.sealing.open_all(await self.leads.find(query, LEAN_LEAD, sort=[("score", DESCENDING), ("_id", ASCENDING)],
                                                           limit=limit).to_list(), tenant)

    async def held_by(self, tenant: str, agent_id: str, limit: int, after: str | None) -> list[Doc]:
        query: Doc = {"tenant_id": tenant, "status": HELD, "holder": agent_id}
        if after:
            query["_id"] = {"$gt": after}
        return self.sealing.open_all(await self.leads.find(query, LEAN_LEAD, sort=[("_id", ASCENDING)],
                                                           limit=limit).to_list(), tenant)

    def held_before_sealed(self, tenant: str, horizon: datetime, *, batch_size: int) -> AsyncCursor[Doc]:
        """Held leads held since `horizon` or before, longest held first (what the reclaim sweep judges),
        with the personal fields left sealed: the sweep opens only the leads it acts on (most held leads
        are not due, and opening each cost it a sixth of its time)."""
        return self.leads.find({"tenant_id": tenant, "status": HELD, "held_since": {"$lte": horizon}},
                               {"outbox": 0, "recent_calls": 0, "holds": 0, "drops": 0, "history": 0},
                               sort=[("held_since", 1)], batch_size=batch_size)

    async def tenants_with_held_leads(self) -> list[str]:
        return [t for t in await self.leads.distinct("tenant_id", {"status": HELD}) if isinstance(t, str)]

    async def conversions(self, tenant: str, agent_ids: Sequence[str], since: datetime) -> dict[str, tuple[int, int]]:
        """Per agent: (leads it received since `since`, how many of those it won), distinct leads. A win
        counts once confirmed (a win stored before confirmation existed has no `win_confirmed`: it counts)."""
        pipeline = [
            {"$match": {"tenant_id": tenant, "holds": {"$elemMatch": {"agent_id": {"$in": list(agent_ids)},
                                                                      "at": {"$gte": since}}}}},
            {"$project": {"holds": 1, "status": 1, "won_by": 1, "win_confirmed": 1}},
            {"$unwind": "$holds"},
            {"$match": {"holds.agent_id": {"$in": list(agent_ids)}, "holds.at": {"$gte": since}}},
            {"$group": {"_id": {"agent": "$holds.agent_id", "lead": "$_id"},
                        "won": {"$max": {"$cond": [{"$and": [{"$eq": ["$status", WON]},
                                                             {"$eq": ["$won_by", "$holds.agent_id"]},
                                                             {"$ne": ["$win_confirmed", False]}]}, 1, 0]}}}},
            {"$group": {"_id": "$_id.agent", "received": {"$sum": 1}, "won": {"$sum": "$won"}}},
        ]
        return {row["_id"]: (row["received"], row["won"]) async for row in await self.leads.aggregate(pipeline)}

    async def note_push_missed(self, tenant: str, missed: Sequence[tuple[str, str]], now: datetime) -> None:
        """Record on each still pooled lead why a push on arrival could not place it (one round trip)."""
        if missed:
            await self.leads.bulk_write([UpdateOne({"_id": lead_id, "tenant_id": tenant, "status": POOLED},
                                                   {"$set": {"push_missed": {"reason": reason, "at": now}}})
                                         for lead_id, reason in missed], ordered=False)

    async def fairness(self, tenant: str, since: datetime, until: datetime) -> list[Doc]:
        """Per agent grade (at the time a lead was received): leads received, their mean score, and how
        many of those leads the same agent went on to win."""
        pipeline = [
            {"$match": {"tenant_id": tenant, "holds.at": {"$gte": since, "$lt": until}}},
            {"$project": {"holds": 1, "score": 1, "status": 1, "won_by": 1}},
            {"$unwind": "$holds"},
            {"$match": {"holds.at": {"$gte": since, "$lt": until}}},
            {"$group": {
                "_id": {"$ifNull": ["$holds.grade", "?"]},
                "received": {"$sum": 1},
                "score_sum": {"$sum": "$score"},
                "claimed": {"$sum": {"$cond": [{"$eq": ["$holds.via", "claimed"]}, 1, 0]}},
                "conversions": {"$sum": {"$cond": [{"$and": [{"$eq": ["$status", WON]},
                                                              {"$eq": ["$won_by", "$holds.agent_id"]}]}, 1, 0]}},
                "agents": {"$addToSet": "$holds.agent_id"},
            }},
            {"$sort": {"_id": 1}},
        ]
        return [row async for row in await self.leads.aggregate(pipeline)]

