"""MongoDB persistence of the metrics service. Every document carries `tenant_id`, and every `_id` starts with it.

- `counters`: one document per tenant, family, period and labels (`$inc` only; see domain.FAMILY_DIMS): the
  all-time counts (period `all`) in `c`; the counts per day in a document per ISO week (period e.g.
  `2026-W48`), under `d.<ISO date>`, so that a checkpoint spanning days writes a family's labels once.
- `leads`, `agents`, `users`, `user_tips`: the states the counting rules read and write (domain.LeadState, ...).
- `tips`: facts of each tip (title, stage, author, status) for the tip funnel's rows.
- `seen`: the event ids counted, one document per checkpoint holding the packed 64-bit digests of its
  (tenant, event id) pairs (dedup.py), kept `inbox_retention_days`; `inbox` is the same in the 96-bit form
  of earlier versions, read (never written) until it expires.
- `checkpoints`: per consumer group, the next offset of every partition counted and a sequence number that
  fences a replica which lost the lease (MetricsStore.write).
- `leases`: the lease of the one replica that consumes (metrics.sole_consumer).
- `labels`: label values admitted on /metrics per tenant and label (bounded, see exposition.py).
- `changes`: one document for the whole service, the number of checkpoints written (each adds one in its
  transaction): /metrics is built again only when it moved (exposition.py).

A checkpoint (counters, states, tips, digests and offsets) is written in one transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import numpy as np
from bson import Binary
from pymongo import ASCENDING, AsyncMongoClient, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

from telesales_runtime.mongo import ensure_collections, in_transaction

from .dedup import DIGEST_DTYPE, legacy_digest, unpack
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
from .sole_consumer import Fenced

Doc = dict[str, Any]
Session = AsyncClientSession
T = TypeVar("T")
Position = tuple[str, int]

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


# What the update of a counter document needs besides its counts, per key: its _id, the fields set when it is
# made, and the prefix of its counts (the same keys come back checkpoint after checkpoint).
_COUNTER_DOCS: dict[CounterKey, tuple[dict[str, str], dict[str, Any], str]] = {}
_COUNTER_DOCS_MAX = 200_000


def _counter_doc(key: CounterKey) -> tuple[dict[str, str], dict[str, Any], str]:
    known = _COUNTER_DOCS.get(key)
    if known is None:
        if len(_COUNTER_DOCS) >= _COUNTER_DOCS_MAX:
            _COUNTER_DOCS.clear()
        known = _COUNTER_DOCS[key] = (
            {"_id": counter_id(key)},
            {"tenant_id": key.tenant, "family": key.family, "period": stored_period(key), "dims": key.dims},
            "c." if key.period == ALL else f"d.{key.period}.")
    return known


def counter_update(key: CounterKey, counts: Mapping[str, int]) -> Statement:
    selector, on_insert, prefix = _counter_doc(key)
    return {"q": selector, "u": {"$inc": {prefix + name: value for name, value in counts.items()},
                                 "$setOnInsert": on_insert}, "upsert": True}


def counter_statements(increments: Increments) -> list[Statement]:
    """One statement per counter document: the days of a week of the same labels go to one document (their
    counts under `d.<day>`), so they make one update."""
    merged: dict[str, Statement] = {}
    for key, counts in increments.items():
        if not counts:
            continue
        selector, on_insert, prefix = _counter_doc(key)
        statement = merged.get(selector["_id"])
        if statement is None:
            merged[selector["_id"]] = counter_update(key, counts)
            continue
        inc = statement["u"]["$inc"]
        for name, value in counts.items():
            inc[prefix + name] = value
    return list(merged.values())


def days_of(docs: Iterable[Doc], first: str, last: str) -> list[Doc]:
    """Week documents as one document per day first..last: {tenant_id, family, period (the day), dims, c}."""
    out = []
    for doc in docs:
        for day, counts in (doc.get("d") or {}).items():
            if first <= day <= last:
                out.append({"tenant_id": doc["tenant_id"], "family": doc["family"], "period": day,
                            "dims": doc.get("dims") or {}, "c": counts})
    return out


@dataclass(frozen=True)
class Fence:
    """The checkpoint a replica read (sequence `seq` of `group`): its next write must follow that one."""

    group: str
    seq: int


# One statement of an `update` command: {"q": filter, "u": update or replacement, "upsert": True}. A checkpoint
# writes tens of thousands of them; the driver's UpdateOne/ReplaceOne objects cost more to make and validate
# than the statements themselves.
Statement = dict[str, Any]
# Statements per command: few round trips (each waits for the event loop, busy counting), well under the 16 MiB
# of a command: a state is under 1 KiB, a counter document's statement under 3 KiB (its family's fields).
STATES_PER_COMMAND = 10_000
COUNTERS_PER_COMMAND = 4_000


@dataclass
class Checkpoint:
    """What one transaction writes: built from the states in memory when the checkpoint is taken (the
    counting goes on meanwhile), written later."""

    counters: list[Statement] = field(default_factory=list)
    states: dict[str, list[Statement]] = field(default_factory=dict)
    tips: list[Statement] = field(default_factory=list)
    digests: bytes = b""  # packed 64-bit digests of the events counted (dedup.pack)
    events: int = 0
    positions: dict[Position, int] | None = None  # next offset per partition (consumed through Kafka)
    fence: Fence | None = None  # None: not consumed through the sole consumer (tests, tools)


def prepare_checkpoint(increments: Increments, changed: Mapping[str, Mapping[str, Iterable[Any]]],
                       worlds: Mapping[str, World], tips: Mapping[str, Mapping[str, Doc]], now: datetime) -> Checkpoint:
    """The writes of a checkpoint: the counter increments, the states changed (as they are now) and the facts
    of tips. `changed`: per tenant, per kind, the keys changed."""
    out = Checkpoint(counters=counter_statements(increments))
    for tenant, kinds in changed.items():
        world = worlds[tenant]
        for name, keys in kinds.items():
            states = getattr(world, name)
            ops = out.states.setdefault(name, [])
            for key in keys:
                parts = key if isinstance(key, tuple) else (key,)
                doc = state_doc(states[key])
                doc["tenant_id"], doc["key"] = tenant, list(parts)
                ops.append({"q": {"_id": scoped(tenant, *parts)}, "u": doc, "upsert": True})
    out.tips = [{"q": {"_id": scoped(tenant, tip_id)},
                 "u": {"$set": {**facts, "updated_at": now}, "$setOnInsert": {"tenant_id": tenant, "tip_id": tip_id}},
                 "upsert": True}
                for tenant, by_tip in tips.items() for tip_id, facts in by_tip.items()]
    return out


class MetricsStore:
    COLLECTIONS = ("counters", "leads", "agents", "users", "user_tips", "tips", "seen", "checkpoints", "leases",
                   "labels", "changes")

    def __init__(self, client: AsyncMongoClient[Doc], database: str, *, inbox_retention_days: int = 30) -> None:
        self.client = client
        self.db = client[database]
        self.counters = self.db["counters"]
        self.tips = self.db["tips"]
        self.seen = self.db["seen"]
        self.legacy_inbox = self.db["inbox"]
        self.checkpoints = self.db["checkpoints"]
        self.leases = self.db["leases"]
        self.labels = self.db["labels"]
        self.changes = self.db["changes"]  # one document: how many checkpoints were written (see change_mark)
        self.states = {name: self.db[name] for name in STATES}
        self.inbox_retention_seconds = inbox_retention_days * 86400

    async def ensure_indexes(self) -> None:
        await self.counters.create_indexes([
            IndexModel([("tenant_id", ASCENDING), ("family", ASCENDING), ("period", ASCENDING)], name="by_family"),
            IndexModel([("period", ASCENDING), ("family", ASCENDING)], name="by_period"),
        ])
        await self.seen.create_index([("at", ASCENDING)], name="expiry", expireAfterSeconds=self.inbox_retention_seconds)
        await self.states["agents"].create_index([("tenant_id", ASCENDING), ("team", ASCENDING)], name="by_team")
        # Collections a transaction writes must exist before it starts.
        await ensure_collections(self.db, self.COLLECTIONS)

    async def transaction(self, work: Callable[[Session], Awaitable[T]]) -> T:
        return await in_transaction(self.client, work)

    # ---- counting ---------------------------------------------------------------------------------------

    async def load(self, tenant: str, needs: Needs, session: Session | None = None, world: World | None = None) -> World:
        """The states `needs` names that `world` does not hold yet, read into it (a new one when not given);
        the kinds are read at the same time (one round trip's wait instead of one per kind)."""
        world = world or World()
        wanted: dict[str, Iterable[Any]] = {"leads": needs.leads, "agents": needs.agents, "users": needs.users,
                                            "user_tips": needs.user_tips}
        reads = []
        for name, keys in wanted.items():
            target: dict[Any, Any] = getattr(world, name)
            ids = {(scoped(tenant, *key) if isinstance(key, tuple) else scoped(tenant, key)): key
                   for key in keys if key not in target}
            if ids:
                reads.append((name, target, ids))

        async def found(name: str, ids: Mapping[str, Any]) -> dict[str, Doc]:
            return {doc["_id"]: doc async for doc in self.states[name].find({"_id": {"$in": list(ids)}},
                                                                             session=session)}

        # (one session runs one operation at a time: within a transaction, the kinds are read in turn)
        if session is None:
            results = await asyncio.gather(*(found(name, ids) for name, _, ids in reads))
        else:
            results = [await found(name, ids) for name, _, ids in reads]
        for (name, target, ids), docs in zip(reads, results, strict=True):
            for doc_id, key in ids.items():
                target[key] = state_from(STATES[name], docs.get(doc_id))
        return world

    async def write(self, checkpoint: Checkpoint) -> None:
        """One checkpoint in one transaction: counters, states, tips, the digests of the events counted and,
        when consumed through Kafka, the offsets, after the fence (Fenced: another replica wrote since)."""
        now = datetime.now(UTC)

        async def work(session: Session) -> None:
            if checkpoint.fence is not None:
                await self._advance(checkpoint.fence, checkpoint.positions or {}, now, session)
            await self._update(self.counters, checkpoint.counters, COUNTERS_PER_COMMAND, session)
            for name, statements in checkpoint.states.items():
                await self._update(self.states[name], statements, STATES_PER_COMMAND, session)
            await self._update(self.tips, checkpoint.tips, STATES_PER_COMMAND, session)
            if checkpoint.digests:
                await self.seen.insert_one({"at": now, "digests": Binary(checkpoint.digests)}, session=session)
            await self.changes.update_one({"_id": "checkpoints"}, {"$inc": {"written": 1}}, upsert=True,
                                          session=session)

        await self.transaction(work)

    async def change_mark(self) -> int:
        """How many checkpoints were ever written: what /metrics shows can only have moved when this did."""
        doc = await self.changes.find_one({"_id": "checkpoints"})
        return int(doc["written"]) if doc else 0

    async def _update(self, collection: AsyncCollection[Doc], statements: list[Statement], per_command: int,
                      session: Session) -> None:
        """`update` commands of the statements, in the transaction; a statement refused raises BulkWriteError."""
        for start in range(0, len(statements), per_command):
            result = await self.db.command({"update": collection.name, "ordered": False,
                                            "updates": statements[start:start + per_command]}, session=session)
            if result.get("writeErrors") or result.get("writeConcernError"):
                raise BulkWriteError({"writeErrors": result.get("writeErrors", []),
                                      "writeConcernErrors": [result["writeConcernError"]]
                                      if "writeConcernError" in result else [], "nInserted": 0,
                                      "nUpserted": result.get("nModified", 0), "nMatched": result.get("n", 0),
                                      "nModified": result.get("nModified", 0), "nRemoved": 0, "upserted": []})

    async def _advance(self, fence: Fence, positions: Mapping[Position, int], now: datetime, session: Session) -> None:
        """Move the group's checkpoint from `fence.seq` to the next, with the offsets; Fenced when another
        replica moved it first. (Written first: two replicas' transactions conflict here at once.)"""
        body = {"seq": fence.seq + 1, "at": now, "offsets": [[t, p, o] for (t, p), o in sorted(positions.items())]}
        if fence.seq == 0:
            try:
                await self.checkpoints.insert_one({"_id": fence.group, **body}, session=session)
            except DuplicateKeyError as error:
                raise Fenced(f"checkpoint of {fence.group} written by another replica") from error
            return
        result = await self.checkpoints.update_one({"_id": fence.group, "seq": fence.seq}, {"$set": body},
                                                   session=session)
        if result.matched_count != 1:
            raise Fenced(f"checkpoint of {fence.group} moved past {fence.seq} by another replica")

    async def checkpoint(self, group: str) -> tuple[Fence, dict[Position, int] | None]:
        """The fence of the group's last checkpoint and the next offset of each partition it stored (None:
        never checkpointed)."""
        doc = await self.checkpoints.find_one({"_id": group})
        if doc is None:
            return Fence(group, 0), None
        return Fence(group, doc["seq"]), {(t, p): o for t, p, o in doc.get("offsets") or ()}

    async def digests(self) -> AsyncIterator[tuple[datetime, np.ndarray]]:
        """The digests of the events counted within the retention, per checkpoint document, with its time
        (and those an earlier version kept in `inbox`)."""
        since = datetime.now(UTC) - timedelta(seconds=self.inbox_retention_seconds)
        async for doc in self.seen.find({"at": {"$gte": since}}):
            yield doc["at"], unpack(doc["digests"])
        async for doc in self.legacy_inbox.find({"at": {"$gte": since}}, {"ids": 1, "at": 1}):
            yield doc["at"], np.fromiter((legacy_digest(d) for d in doc.get("ids") or ()), dtype=DIGEST_DTYPE)

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

    async def top_tips(self, tenant: str, *, sort: str, limit: int) -> list[Doc]:
        """The all-time counter documents of the tenant's tips, the most `sort` first (ties by id)."""
        return await self.counters.find({"tenant_id": tenant, "family": "tip", "period": ALL},
                                        sort=[(f"c.{sort}", -1), ("_id", 1)], limit=limit).to_list()

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
