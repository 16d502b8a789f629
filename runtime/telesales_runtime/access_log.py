"""Who saw which personal data: the access log and the unmasking budget (plumbing only; each service decides
who sees what and its store owns the collection).

- An answer that shows a phone number or a name in full is recorded once (a list: one record naming every
  lead shown in full): who (sub, roles, team), when, which leads, through which route (method and route
  template) and why it was full (`holder`, `supervisor`, `operator`, `service`). The collection is written
  by `AccessLog.record` only (insert, never update or delete) and forgets records after the retention
  (a TTL index); no API edits it.
- Unmasking has a budget per user and hour, counted in Redis across replicas and services (INCRBY on a key
  per tenant, user and hour, which expires). Past it the answer stays masked. If Redis cannot be reached the
  budget fails closed (the answer is masked, `unmask_budget_unavailable`): an outage must not be a way
  round the control meant to stop a list being copied out, and the caller is told why.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection

log = logging.getLogger(__name__)

FullReason = Literal["holder", "supervisor", "operator", "service", "admin"]
MaskedReason = Literal["unmask_budget_exceeded", "unmask_budget_unavailable"]
BUDGET_EXCEEDED: MaskedReason = "unmask_budget_exceeded"
BUDGET_UNAVAILABLE: MaskedReason = "unmask_budget_unavailable"
# The response header that tells a caller why an answer it would have seen in full is masked.
MASKED_REASON_HEADER = "X-Masked-Reason"
DEFAULT_RETENTION_DAYS = 365
DEFAULT_UNMASK_BUDGET = 200
Doc = dict[str, Any]



@dataclass(frozen=True)
class Viewer:
    """Who an answer is for (the token's principal, as the access log records it)."""

    sub: str
    roles: tuple[str, ...]
    tenant: str
    team: str | None = None


@dataclass(frozen=True)
class AccessRecord:
    """One answer that showed personal data in full."""

    viewer: Viewer
    method: str
    route: str
    lead_ids: tuple[str, ...]
    reason: FullReason
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def document(self) -> Doc:
        return {"_id": ObjectId(), "tenant_id": self.viewer.tenant, "user": self.viewer.sub,
                "roles": sorted(self.viewer.roles), "team": self.viewer.team, "at": self.at,
                "method": self.method.upper(), "route": self.route, "lead_ids": list(self.lead_ids),
                "reason": self.reason}


def hour_of(at: datetime) -> str:
    """The UTC hour a budget counts in: 2026-12-07T03."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H")


@dataclass(frozen=True)
class BudgetVerdict:
    """What the budget says of an answer that would show `count` leads in full."""

    allowed: bool
    used: int  # full leads counted this hour, this answer included (0 when unknown)
    budget: int
    hour: str
    crossed: bool = False  # this answer is the one that went past the budget: say so, once an hour
    reason: MaskedReason | None = None


def verdict(*, used: int, count: int, budget: int, hour: str) -> BudgetVerdict:
    """The budget's verdict after the counter moved by `count` to `used`: allowed while `used` stays
    within `budget`; the one answer that moved it past the budget is the one that crosses (INCRBY is atomic,
    so across replicas exactly one answer does)."""
    if used <= budget:
        return BudgetVerdict(allowed=True, used=used, budget=budget, hour=hour)
    return BudgetVerdict(allowed=False, used=used, budget=budget, hour=hour, crossed=used - count <= budget,
                         reason=BUDGET_EXCEEDED)


class UnmaskBudget:
    """Full numbers a user may see per hour, counted in Redis (shared by every replica and service)."""

    KEY_SECONDS = 2 * 3600  # a little past its hour, so a late answer still counts in it

    def __init__(self, redis: Any, *, prefix: str = "unmask") -> None:
        self.redis = redis
        self.prefix = prefix

    def key(self, tenant: str, user: str, hour: str) -> str:
        return f"{self.prefix}:{tenant}:{user}:{hour}"

    async def take(self, *, tenant: str, user: str, count: int, budget: int,
                   at: datetime | None = None) -> BudgetVerdict:
        """Count `count` full leads for `user`; the verdict says whether the answer may show them."""
        hour = hour_of(at or datetime.now(UTC))
        if count <= 0:
            return BudgetVerdict(allowed=True, used=0, budget=budget, hour=hour)
        key = self.key(tenant, user, hour)
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.incrby(key, count)
                pipe.expire(key, self.KEY_SECONDS)
                used, _ = await pipe.execute()
        except Exception as error:  # any Redis failure: fail closed (module docstring)
            log.warning("unmask budget unavailable, masking: %s", error)
            return BudgetVerdict(allowed=False, used=0, budget=budget, hour=hour, reason=BUDGET_UNAVAILABLE)
        return verdict(used=int(used), count=count, budget=budget, hour=hour)


# ---- the log -------------------------------------------------------------------------------------------


def encode_cursor(doc: Doc) -> str:
    return base64.urlsafe_b64encode(f"{doc['at'].isoformat()}|{doc['_id']}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, ObjectId]:
    """The (at, _id) a page continues after; ValueError if the cursor is not one of ours."""
    try:
        at, _, oid = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return datetime.fromisoformat(at), ObjectId(oid)
    except (ValueError, InvalidId, UnicodeDecodeError) as error:
        raise ValueError("not a cursor of this log") from error


def log_filter(tenant: str, *, user: str | None = None, lead_id: str | None = None, since: datetime | None = None,
               until: datetime | None = None, after: tuple[datetime, ObjectId] | None = None) -> Doc:
    """The query of a page: the tenant's records, newest first, by user, lead and period."""
    query: Doc = {"tenant_id": tenant}
    if user is not None:
        query["user"] = user
    if lead_id is not None:
        query["lead_ids"] = lead_id
    period: Doc = {}
    if since is not None:
        period["$gte"] = since
    if until is not None:
        period["$lt"] = until
    if period:
        query["at"] = period
    if after is not None:
        at, oid = after
        query["$or"] = [{"at": {"$lt": at}}, {"at": at, "_id": {"$lt": oid}}]
    return query


class AccessLog:
    """A service's access-log collection: insert and read only."""

    def __init__(self, collection: AsyncCollection[Doc]) -> None:
        self.collection = collection

    async def ensure_indexes(self, retention_days: int) -> None:
        expire = int(timedelta(days=retention_days).total_seconds())
        existing = {i["name"]: i async for i in await self.collection.list_indexes()}
        ttl = existing.get("retention")
        if ttl is not None and ttl.get("expireAfterSeconds") != expire:
            await self.collection.database.command(
                {"collMod": self.collection.name, "index": {"name": "retention", "expireAfterSeconds": expire}})
        await self.collection.create_indexes([
            IndexModel([("at", ASCENDING)], name="retention", expireAfterSeconds=expire),
            IndexModel([("tenant_id", ASCENDING), ("user", ASCENDING), ("at", DESCENDING), ("_id", DESCENDING)],
                       name="by_user"),
            IndexModel([("tenant_id", ASCENDING), ("lead_ids", ASCENDING), ("at", DESCENDING), ("_id", DESCENDING)],
                       name="by_lead"),
            IndexModel([("tenant_id", ASCENDING), ("at", DESCENDING), ("_id", DESCENDING)], name="by_time"),
        ])

    async def record(self, record: AccessRecord) -> None:
        await self.collection.insert_one(record.document())

    async def page(self, tenant: str, *, limit: int, cursor: str | None = None, **filters: Any
                   ) -> tuple[list[Doc], str | None]:
        """A page of records, newest first, and the cursor of the next (None: no more)."""
        after = decode_cursor(cursor) if cursor else None
        docs = await self.collection.find(log_filter(tenant, after=after, **filters)) \
            .sort([("at", DESCENDING), ("_id", DESCENDING)]).limit(limit + 1).to_list()
        more = len(docs) > limit
        docs = docs[:limit]
        return docs, encode_cursor(docs[-1]) if more and docs else None
