"""How the ledger's records are keyed and shaped in MongoDB: every `_id` starts with the tenant, account
documents get their defaults on first write, daily counters expire by a TTL index."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pymongo import UpdateOne

from ..domain import CounterIncrement, Record, RequestDecision, allows_negative_by_default, parse_account

Doc = dict[str, Any]


def scoped(tenant: str, key: str) -> str:
    return f"{tenant}|{key}"


def scoped_doc(tenant: str, key: str, record: Record) -> Doc:
    """A fresh record completed as stored: its `_id` scoped to the tenant (BSON puts `_id` first), and the
    tenant. Completed in place: a copy would cost every purchase."""
    record["_id"] = scoped(tenant, key)
    record["tenant_id"] = tenant
    return record


def account_doc_defaults(tenant: str, key: str, now: datetime) -> Doc:
    ref = parse_account(key)
    defaults: Doc = {"tenant_id": tenant, "key": key, "kind": ref.kind.value, "owner": ref.owner,
                     "allow_negative": allows_negative_by_default(key), "allocation_blocked": False,
                     "created_at": now}
    if ref.kind.value == "wallet":
        defaults["last_activity_at"] = now  # a wallet's idle clock starts when it is opened
    return defaults


def buyer_counter_id(tenant: str, day: str, buyer: str) -> str:
    return f"{tenant}|{day}|{buyer}"


def pair_counter_id(tenant: str, day: str, buyer: str, seller: str) -> str:
    return f"{tenant}|{day}|{buyer}|{seller}"


def counter_expiry(day: str, now: datetime) -> datetime:
    """Counters are kept two days past their day (a TTL index drops them), and at least a day after they are
    first written: the counters of a day that passed long ago (requests published late, a replay of dead
    letters) would otherwise be dropped within a minute, between two requests of that day, and the limits
    would start again at zero."""
    return max(datetime.fromisoformat(day + "T00:00:00+00:00") + timedelta(days=3), now + timedelta(days=1))


def counter_update(tenant: str, c: CounterIncrement, now: datetime) -> UpdateOne:
    counter_id = (buyer_counter_id(tenant, c.day, c.buyer_id) if c.seller_id is None
                  else pair_counter_id(tenant, c.day, c.buyer_id, c.seller_id))
    return UpdateOne({"_id": counter_id}, {"$inc": {"count": c.count, "coins": c.coins}, "$setOnInsert": {
        "tenant_id": tenant, "day": c.day, "buyer_id": c.buyer_id, "seller_id": c.seller_id,
        "expires_at": counter_expiry(c.day, now)}}, upsert=True)


def request_filter(tenant: str, decision: RequestDecision) -> Doc:
    """A reallocation request still pending and, for an approval before the last, still holding the approvals
    it was decided on (a concurrent approval makes the transaction fail instead of being overwritten)."""
    query: Doc = {"_id": scoped(tenant, decision.request_id), "status": "pending"}
    if decision.approvals_before is not None:
        query["approvals"] = {"$size": decision.approvals_before}
    return query
