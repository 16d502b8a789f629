"""MongoDB persistence of the metrics service. Every document carries `tenant_id`, and every `_id` starts with it.

- `counters`: one document per tenant, family, period and labels (`$inc` only; see domain.FAMILY_DIMS): the
  all-time counts (period `all`) in `c`; the counts per day in a document per ISO week (period e.g.
  `2026-W48`), under `d.<ISO date>`, so that a batch spanning days writes a family's labels once.
- `leads`, `agents`, `users`, `user_tips`: the states a batch reads and writes (domain.LeadState, ...).
- `tips`: facts of each tip (title, stage, author, status) for the tip funnel's rows.
- `inbox`: the events counted, one document per batch holding the digests of its (tenant, event id)
  pairs under a unique multikey index, written in the batch's transaction; kept `inbox_retention_days`.
- `labels`: label values admitted on /metrics per tenant and label (bounded, see exposition.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from pymongo import ASCENDING, AsyncMongoClient, IndexModel, ReplaceOne, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession

from telesales_runtime.mongo import ensure_collections, in_transaction

from .domain import (
    ALL,
    AgentState,
    CounterKey,
    Increments,
    LeadState,
    Needs,
    UserState,
    UserTipState,
    World,
    iso_week,
    state_doc,
    state_from,
)

Doc = dict[str, Any]
Session = AsyncClientSession
T = TypeVar("T")

STATES: dict[str, type[Any]] = {"leads": LeadState, "agents": AgentState, "users": UserState,
                                "user_tips": UserTipState}


def scoped(tenant: str, *parts: str) -> str:
    return "|".join((tenant, *parts))


def stored_period(key: CounterKey) -> str:
    """The period of the document holding a counter: `all`, or the ISO week of its day."""
    return key.period if key.period == ALL else iso_week(key.period)


def counter_id(key: CounterKey) -> str:
    # Labels are free text (a business line, a team): "%" and "|" escaped keep the id unambiguous.
    labels = (label.replace("%", "%25").replace("|", "%7C") for label in key.labels)
    return scoped(key.tenant, key.family, stored_period(key), *labels)


def counter_update(key: CounterKey, counts: Mapping[str, int]) -> UpdateOne:
    prefix = "c" if key.period == ALL else f"d.{key.period}"
    return UpdateOne({"_id": counter_id(key)},
                     {"$inc": {f"{prefix}.{name}": value for name, value in counts.items()},
                      "$setOnInsert": {"tenant_id": key.tenant, "family": key.family, "period": stored_period(key),
                                       "dims": key.dims}}, upsert=True)


def days_of(docs: Iterable[Doc], first: str, last: str) -> list[Doc]:
    """Week documents as one document per day first..last: {tenant_id, family, period (the day), dims, c}."""
    out = []
    for doc in docs:
        for day, counts in (doc.get("d") or {}).items():
            if first <= day <= last:
                out.append({"tenant_id": doc["tenant_id"], "family": doc["family"], "period": day,
                            "dims": doc.get("dims") or {}, "c": counts})
    return out


def event_digest(tenant: str, event_id: str) -> bytes:
    """96 bits naming an event of a tenant in the inbox."""
    return hashlib.blake2b(f"{tenant}|{event_id}".encode(), digest_size=12).digest()


class MetricsStore:
    COLLECTIONS = ("counters", "leads", "agents", "users", "user_tips", "tips", "inbox", "labels")

    def __init__(self, client: AsyncMongoClient[Doc], database: str, *, inbox_retention_days: int = 30) -> None:
        self.client = client
        self.db = client[database]
        self.counters = self.db["counters"]
        self.tips = self.db["tips"]
        self.inbox = self.db["inbox"]
        self.labels = self.db["labels"]
        self.states = {name: self.db[name] for name in STATES}
        self.inbox_retention_seconds = inbox_retention_days * 86400

    async def ensure_indexes(self) -> None:
        await self.counters.create_indexes([
            IndexModel([("tenant_id", ASCENDING), ("family", ASCENDING), ("period", ASCENDING)], name="by_family"),
            IndexModel([("period", ASCENDING), ("family", ASCENDING)], name="by_period"),
        ])
        await self.inbox.create_indexes([
            IndexModel([("ids", ASCENDING)], name="event_digests", unique=True),
            IndexModel([("at", ASCENDING)], name="expiry", expireAfterSeconds=self.inbox_retention_seconds),
        ])
        await self.states["agents"].create_index([("tenant_id", ASCENDING), ("team", ASCENDING)], name="by_team")
        # Collections a transaction writes must exist before it starts.
        await ensure_collections(self.db, self.COLLECTIONS)

    async def transaction(self, work: Callable[[Session], Awaitable[T]]) -> T:
        return await in_transaction(self.client, work)

    # ---- a batch --------------------------------------------------------------------------------------

    async def counted(self, digests: list[bytes], session: Session | None = None) -> set[bytes]:
        """The digests among `digests` of events counted before."""
        if not digests:
            return set()
        wanted = set(digests)
        found: set[bytes] = set()
        async for doc in self.inbox.find({"ids": {"$in": digests}}, {"ids": 1}, session=session):
            found.update(bytes(d) for d in doc["ids"] if bytes(d) in wanted)
        return found

    async def load(self, tenant: str, needs: Needs, session: Session | None = None, world: World | None = None) -> World:
        """The states a batch of `tenant` reads (into `world` when given: the agents read after the leads)."""
        world = world or World()
        wanted: dict[str, Iterable[Any]] = {"leads": needs.leads, "agents": needs.agents, "users": needs.users,
                                            "user_tips": needs.user_tips}
        for name, keys in wanted.items():
            target: dict[Any, Any] = getattr(world, name)
            ids = {(scoped(tenant, *key) if isinstance(key, tuple) else scoped(tenant, key)): key
                   for key in keys if key not in target}
            if not ids:
                continue
            found = {doc["_id"]: doc async for doc in self.states[name].find({"_id": {"$in": list(ids)}},
                                                                              session=session)}
            for doc_id, key in ids.items():
                target[key] = state_from(STATES[name], found.get(doc_id))
        return world

    async def write(self, increments: Increments, worlds: Mapping[str, World], digests: list[bytes],
                    session: Session) -> None:
        """The counters, the states changed, the tips' facts and the inbox entry of a batch."""
        now = datetime.now(UTC)
        if increments:
            await self.counters.bulk_write([counter_update(key, counts) for key, counts in increments.items() if counts],
                                           ordered=False, session=session)
        for name in STATES:
            ops = []
            for tenant, world in worlds.items():
                states = getattr(world, name)
                for key in world.changed.get(name, ()):
                    parts = key if isinstance(key, tuple) else (key,)
                    ops.append(ReplaceOne({"_id": scoped(tenant, *parts)},
                                          {"tenant_id": tenant, "key": list(parts), **state_doc(states[key])},
                                          upsert=True))
            if ops:
                await self.states[name].bulk_write(ops, ordered=False, session=session)
        tips = [UpdateOne({"_id": scoped(tenant, tip_id)}, {"$set": {**facts, "updated_at": now},
                                                           "$setOnInsert": {"tenant_id": tenant, "tip_id": tip_id}},
                          upsert=True)
                for tenant, world in worlds.items() for tip_id, facts in world.tips.items()]
        if tips:
            await self.tips.bulk_write(tips, ordered=False, session=session)
        if digests:
            await self.inbox.insert_one({"ids": digests, "at": now}, session=session)

    # ---- reads -----------------------------------------------------------------------------------------

    async def counter_docs(self, tenant: str, family: str, first: str, last: str, **match: Any) -> list[Doc]:
        """The family's counts of each day first..last (ISO dates), one document per day and labels, among
        the documents matching `match`."""
        docs = await self.counters.find({"tenant_id": tenant, "family": family, **match,
                                         "period": {"$gte": iso_week(first), "$lte": iso_week(last)}}).to_list()
        return days_of(docs, first, last)

    async def all_time(self, tenant: str, family: str) -> Doc | None:
        return await self.counters.find_one({"tenant_id": tenant, "family": family, "period": ALL})

    async def counter_docs_of_period(self, period: str) -> list[Doc]:
        """Every tenant's counter documents of one period (`all`, or a day)."""
        if period == ALL:
            return await self.counters.find({"period": ALL}, {"tenant_id": 1, "family": 1, "dims": 1, "c": 1}).to_list()
        docs = await self.counters.find({"period": iso_week(period), f"d.{period}": {"$exists": True}},
                                        {"tenant_id": 1, "family": 1, "dims": 1, f"d.{period}": 1}).to_list()
        return days_of(docs, period, period)

    async def state(self, name: str, tenant: str, *key: str) -> Doc | None:
        return await self.states[name].find_one({"_id": scoped(tenant, *key)})

    async def agents_of_team(self, tenant: str, team: str) -> list[str]:
        return [doc["key"][0] async for doc in self.states["agents"].find({"tenant_id": tenant, "team": team},
                                                                          {"key": 1})]

    async def cohort_sizes(self) -> dict[tuple[str, str], int]:
        """Agents per (tenant, learning cohort)."""
        rows = await (await self.states["agents"].aggregate([
            {"$group": {"_id": {"tenant": "$tenant_id", "cohort": "$cohort"}, "n": {"$sum": 1}}}])).to_list()
        return {(row["_id"]["tenant"], row["_id"]["cohort"]): row["n"] for row in rows}

    async def tip_facts(self, tenant: str, tip_ids: list[str]) -> dict[str, Doc]:
        return {doc["tip_id"]: doc async for doc in self.tips.find({"tenant_id": tenant, "tip_id": {"$in": tip_ids}})}

    # ---- label values admitted on /metrics -------------------------------------------------------------

    async def admitted_labels(self) -> dict[tuple[str, str], list[str]]:
        return {(doc["tenant_id"], doc["label"]): doc["values"] async for doc in self.labels.find({})}

    async def admit_label(self, tenant: str, label: str, value: str, cap: int) -> bool:
        """Admit `value` for the tenant's `label` unless `cap` values are admitted already; whether it is
        admitted now (by this call or before)."""
        doc_id = scoped(tenant, label)
        await self.labels.update_one({"_id": doc_id}, {"$setOnInsert": {"tenant_id": tenant, "label": label,
                                                                        "values": []}}, upsert=True)
        await self.labels.update_one({"_id": doc_id, f"values.{cap - 1}": {"$exists": False}},
                                     {"$addToSet": {"values": value}})
        doc = await self.labels.find_one({"_id": doc_id}, {"values": 1})
        return doc is not None and value in doc["values"]
