"""MongoDB persistence of the ledger. Every document carries `tenant_id`, and every `_id` starts with it.

- `accounts`: one document per account with its `balance`; an account never written holds 0.
- `transfers`: one immutable document per transfer (`_id` = tenant|client id): debit, credit, amount,
  kind, state (a hold goes pending -> posted or voided; nothing else ever changes), linked group.
  A refused purchase is kept as `state: rejected` without accounts, so its id keeps its first answer.
- `operations`: allocations and blind-box draws (one client id for many transfers).
- `daily_counters`: purchases and coins per buyer and per buyer-seller pair and day.
- `users`: the roster as the allocator and the HR system announce it (role, grade, team, line).
- `reallocation_requests`, `config`, `outbox`, `inbox`, `leases`; `learners`, `learner_tips` (see learning.py).

Every change is one transaction (`Changes`, typed in the domain, compiled here): the transfers, the balances they move (debits guarded by
`balance >= amount` in the update's filter unless the account may go negative), the events (outbox)
and, for consumers, the processed event ids (inbox). A guarded update that matches nothing aborts the
transaction, so a balance the rules keep at or above zero can never be written below it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, IndexModel, ReturnDocument, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from telesales_runtime.consumer import Inbox
from telesales_runtime.mongo import ensure_collections, in_transaction, read_versioned, write_versioned
from telesales_runtime.outbox import write_outbox

from ..domain import PENDING, Balances, Changes, PurchaseRequest
from .documents import (
    Doc,
    account_doc_defaults,
    counter_update,
    request_filter,
    scoped,
    scoped_doc,
)
from .learning import COLLECTIONS as LEARNING_COLLECTIONS
from .learning import LearningStore
from .reads import ACCOUNT_FIELDS, PurchaseReads, account_state, purchase_reads

Session = AsyncClientSession
T = TypeVar("T")

class LedgerInvariantError(RuntimeError):
    """A guarded write matched nothing: the decision was made on balances that are no longer true. The
    transaction is aborted; nothing is written."""


class AlreadyWritten(Exception):
    """A unique index refused the transaction's write: a concurrent one wrote the same client id (or
    consumed the same event) first. Nothing of this transaction is written."""


def _one_batch(ids: list[str]) -> int:
    """A find by these ids answers in one reply: the server's first batch holds 101 documents, and each
    further one is a round trip more (inside a batch's transaction, while its accounts are held)."""
    return len(ids) + 1


class LedgerStore:
    def __init__(self, client: AsyncMongoClient[Doc], database: str, consumer: str) -> None:
        self.client = client
        self.db = client[database]
        self.accounts = self.db["accounts"]
        self.transfers = self.db["transfers"]
        self.operations = self.db["operations"]
        self.counters = self.db["daily_counters"]
        self.users = self.db["users"]
        self.requests = self.db["reallocation_requests"]
        self.config = self.db["config"]
        self.outbox = self.db["outbox"]
        self.leases = self.db["leases"]
        self.inbox = Inbox(self.db["inbox"], consumer)
        self.learning = LearningStore(self.db)

    async def ensure_indexes(self) -> None:
        # Every index on transfers costs every purchase: only the ones statements, sweeps and reports need.
        await self.transfers.create_indexes([
            IndexModel([("tenant_id", ASCENDING), ("debit", ASCENDING), ("created_at", ASCENDING), ("_id", ASCENDING)],
                       name="statement_debits", partialFilterExpression={"debit": {"$type": "string"}}),
            IndexModel([("tenant_id", ASCENDING), ("credit", ASCENDING), ("created_at", ASCENDING), ("_id", ASCENDING)],
                       name="statement_credits", partialFilterExpression={"credit": {"$type": "string"}}),
            IndexModel([("expires_at", ASCENDING)], name="pending_holds", partialFilterExpression={"state": PENDING}),
            IndexModel([("tenant_id", ASCENDING), ("kind", ASCENDING), ("created_at", ASCENDING)], name="by_kind"),
        ])
        await self.accounts.create_indexes([
            IndexModel([("tenant_id", ASCENDING), ("kind", ASCENDING), ("key", ASCENDING)], name="by_kind"),
            IndexModel([("tenant_id", ASCENDING), ("last_activity_at", ASCENDING)], name="funded_wallets_by_activity",
                       partialFilterExpression={"kind": "wallet", "balance": {"$gt": 0}}),
        ])
        await self.counters.create_index("expires_at", expireAfterSeconds=0, name="expire")
        await self.users.create_index([("tenant_id", ASCENDING), ("role", ASCENDING), ("grade", ASCENDING)],
                                      name="by_role_grade")
        await self.requests.create_indexes([
            IndexModel([("tenant_id", ASCENDING), ("user_id", ASCENDING)], name="one_pending_per_user", unique=True,
                       partialFilterExpression={"status": "pending"}),
            IndexModel([("tenant_id", ASCENDING), ("status", ASCENDING), ("requested_at", ASCENDING)],
                       name="by_status"),
        ])
        # Collections a transaction writes must exist before it starts.
        await ensure_collections(self.db, ("accounts", "transfers", "operations", "daily_counters", "users",
                                           "reallocation_requests", "outbox", "inbox", *LEARNING_COLLECTIONS))

    async def transaction(self, work: Callable[[Session], Awaitable[T]]) -> T:
        try:
            return await in_transaction(self.client, work)
        except DuplicateKeyError as error:
            raise AlreadyWritten(str(error)) from error

    # ---- reads (inside a transaction when given its session) -------------------------------------------

    async def balances(self, tenant: str, keys: Iterable[str], session: Session | None = None) -> Balances:
        ids = [scoped(tenant, k) for k in dict.fromkeys(keys)]
        return Balances([account_state(doc) async for doc in self.accounts.find(
            {"_id": {"$in": ids}}, ACCOUNT_FIELDS, session=session, batch_size=_one_batch(ids))])

    async def purchase_reads(self, tenant: str, requests: Sequence[PurchaseRequest], session: Session) -> PurchaseReads:
        """A purchase batch's inbox entries, transfers, wallets and daily counters, in one round trip."""
        return await purchase_reads(self.db, self.inbox, tenant, requests, session)

    async def transfers_by_id(self, tenant: str, transfer_ids: Iterable[str], session: Session | None = None,
                              projection: Doc | None = None) -> dict[str, Doc]:
        ids = [scoped(tenant, t) for t in dict.fromkeys(transfer_ids)]
        if not ids:
            return {}
        return {doc["transfer_id"]: doc async for doc in self.transfers.find({"_id": {"$in": ids}}, projection,
                                                                             session=session,
                                                                             batch_size=_one_batch(ids))}

    async def transfer(self, tenant: str, transfer_id: str, session: Session | None = None) -> Doc | None:
        return await self.transfers.find_one({"_id": scoped(tenant, transfer_id)}, session=session)

    async def operation(self, tenant: str, op_id: str, session: Session | None = None) -> Doc | None:
        return await self.operations.find_one({"_id": scoped(tenant, op_id)}, session=session)

    async def account(self, tenant: str, key: str, session: Session | None = None) -> Doc | None:
        return await self.accounts.find_one({"_id": scoped(tenant, key)}, session=session)

    async def list_accounts(self, tenant: str, *, kind: str | None, limit: int, after: str | None) -> list[Doc]:
        query: Doc = {"tenant_id": tenant}
        if kind is not None:
            query["kind"] = kind
        if after:
            query["key"] = {"$gt": after}
        return await self.accounts.find(query, sort=[("kind", ASCENDING), ("key", ASCENDING)], limit=limit).to_list()

    # ---- writes ----------------------------------------------------------------------------------------

    async def write(self, changes: Changes, session: Session) -> None:
        """Write one unit of work inside the caller's transaction (its events encoded in `outbox` already)."""
        tenant = changes.tenant
        if changes.transfers:
            await self.transfers.insert_many([scoped_doc(tenant, t.transfer_id, t.record()) for t in changes.transfers],
                                             ordered=True, session=session)
        await self._update_each(self.transfers, [({"_id": scoped(tenant, r.hold_id), "state": PENDING},
                                                  {"$set": r.fields}) for r in changes.hold_resolutions],
                                session, "a hold changed state meanwhile")
        ops = self._account_ops(changes)
        if ops:
            result = await self.accounts.bulk_write(ops, ordered=True, session=session)
            if result.matched_count + result.upserted_count != len(ops):
                raise LedgerInvariantError("an account no longer holds what its debit needs")
        if changes.counters:
            await self.counters.bulk_write([counter_update(tenant, c, changes.now) for c in changes.counters],
                                           ordered=False, session=session)
        if changes.operations:
            await self.operations.insert_many([scoped_doc(tenant, op.op_id, op.record()) for op in changes.operations],
                                              ordered=True, session=session)
        if changes.roster:
            await self.users.bulk_write([UpdateOne({"_id": scoped(tenant, u.user_id)}, {
                "$set": u.fields, "$setOnInsert": {"tenant_id": tenant, "user_id": u.user_id, **u.on_insert}},
                upsert=True) for u in changes.roster], ordered=True, session=session)
        if changes.new_requests:  # the unique index on pending requests refuses a second one per user
            await self.requests.insert_many([scoped_doc(tenant, r["request_id"], r) for r in changes.new_requests],
                                            ordered=True, session=session)
        await self._update_each(self.requests, [(request_filter(tenant, d), {"$set": d.fields})
                                                for d in changes.request_decisions],
                                session, "a reallocation request changed meanwhile")
        await self.learning.write(tenant, changes.learning, changes.now, session)
        if changes.outbox:
            await write_outbox(self.outbox, changes.outbox, session)
        if changes.inbox:
            await self.inbox.record([self.inbox.entry(tenant, p.event_id, p.fields) for p in changes.inbox],
                                    session=session)

    @staticmethod
    async def _update_each(collection: AsyncCollection[Doc], updates: list[tuple[Doc, Doc]], session: Session,
                           changed_meanwhile: str) -> None:
        """Apply each (filter, update); one that matches nothing aborts the transaction."""
        if updates:
            result = await collection.bulk_write([UpdateOne(f, u) for f, u in updates], ordered=True, session=session)
            if result.matched_count != len(updates):
                raise LedgerInvariantError(changed_meanwhile)

    def _account_ops(self, changes: Changes) -> list[UpdateOne]:
        balances = changes.balances or Balances()
        deltas = balances.changes()
        keys = list(dict.fromkeys([*deltas, *changes.account_fields, *changes.activity]))
        ops = []
        for key in keys:
            delta = deltas.get(key, 0)
            query: Doc = {"_id": scoped(changes.tenant, key)}
            update: Doc = {"$set": {"updated_at": changes.now, **changes.account_fields.get(key, {})}}
            if delta:
                update["$inc"] = {"balance": delta}
            if key in changes.activity:
                update["$max"] = {"last_activity_at": changes.activity[key]}
            guarded = delta < 0 and not balances.may_go_negative(key)
            if guarded:
                query["balance"] = {"$gte": -delta}
            else:
                taken = set(update["$set"]) | set(update.get("$inc", {})) | set(update.get("$max", {}))
                update["$setOnInsert"] = {k: v for k, v in account_doc_defaults(changes.tenant, key, changes.now).items()
                                          if k not in taken}
                if "balance" not in taken:
                    update["$setOnInsert"]["balance"] = 0
            ops.append(UpdateOne(query, update, upsert=not guarded))
        return ops

    async def set_account_flags(self, tenant: str, key: str, fields: Doc, now: datetime) -> Doc:
        defaults = {k: v for k, v in account_doc_defaults(tenant, key, now).items() if k not in fields}
        return await self.accounts.find_one_and_update(
            {"_id": scoped(tenant, key)},
            {"$set": {**fields, "updated_at": now}, "$setOnInsert": {**defaults, "balance": 0}},
            upsert=True, return_document=ReturnDocument.AFTER)

    # ---- statements and reports ------------------------------------------------------------------------

    async def statement(self, tenant: str, key: str, *, since: datetime | None, until: datetime | None,
                        kinds: Sequence[str], limit: int, after: tuple[datetime, str] | None) -> list[Doc]:
        """Transfers that debit or credit the account, oldest first, after the keyset cursor `after`."""
        rows: list[Doc] = []
        for side in ("debit", "credit"):
            query: Doc = {"tenant_id": tenant, side: {"$eq": key, "$type": "string"}}  # $type: the partial index
            span: Doc = {}
            if since is not None:
                span["$gte"] = since
            if after is not None:  # keyset: from the last line's time on (index bounds), past its _id there
                at, last_id = after
                span["$gte"] = max(at, since) if since is not None else at
                query["$or"] = [{"created_at": {"$gt": at}}, {"created_at": at, "_id": {"$gt": last_id}}]
            if until is not None:
                span["$lt"] = until
            if span:
                query["created_at"] = span
            if kinds:
                query["kind"] = {"$in": list(kinds)}
            rows += await self.transfers.find(query, {"fingerprint": 0}, sort=[("created_at", ASCENDING),
                                                                             ("_id", ASCENDING)],
                                              limit=limit).to_list()
        rows.sort(key=lambda d: (d["created_at"], d["_id"]))
        return rows[:limit]

    async def earned_by_sellers(self, tenant: str, since: datetime, until: datetime) -> dict[str, int]:
        """Coins each seller earned from purchases in the window (the blind box's top contributors)."""
        pipeline = [{"$match": {"tenant_id": tenant, "kind": "sale", "created_at": {"$gte": since, "$lt": until}}},
                    {"$group": {"_id": "$credit", "coins": {"$sum": "$amount"}}}]
        earned = {}
        async for row in await self.transfers.aggregate(pipeline):
            earned[row["_id"].removeprefix("earnings:")] = int(row["coins"])
        return earned

    async def audit(self, tenant: str) -> Doc:
        pipeline = [{"$match": {"tenant_id": tenant}},
                    {"$group": {"_id": None, "sum": {"$sum": "$balance"}, "accounts": {"$sum": 1}}}]
        rows = await (await self.accounts.aggregate(pipeline)).to_list()
        negative = await self.accounts.find({"tenant_id": tenant, "balance": {"$lt": 0}, "allow_negative": {"$ne": True}},
                                            {"key": 1, "balance": 1, "_id": 0}).to_list()
        total = int(rows[0]["sum"]) if rows else 0
        return {"sum": total, "accounts": int(rows[0]["accounts"]) if rows else 0, "negative": negative}

    async def journal_balances(self, tenant: str) -> dict[str, int]:
        """Every account's balance recomputed from the transfers alone."""
        out: dict[str, int] = {}
        for side, sign in (("debit", -1), ("credit", 1)):
            pipeline = [{"$match": {"tenant_id": tenant, side: {"$type": "string"}}},
                        {"$group": {"_id": f"${side}", "amount": {"$sum": "$amount"}}}]
            async for row in await self.transfers.aggregate(pipeline):
                out[row["_id"]] = out.get(row["_id"], 0) + sign * int(row["amount"])
        return out

    async def stored_balances(self, tenant: str) -> dict[str, int]:
        return {doc["key"]: int(doc["balance"]) async for doc in self.accounts.find({"tenant_id": tenant},
                                                                                   {"key": 1, "balance": 1})}

    # ---- background work -------------------------------------------------------------------------------

    async def expired_holds(self, now: datetime, limit: int) -> list[Doc]:
        return await self.transfers.find({"state": PENDING, "expires_at": {"$lt": now}},
                                         sort=[("expires_at", ASCENDING)], limit=limit).to_list()

    async def tenants_with_funded_wallets(self) -> list[str]:
        return [t for t in await self.accounts.distinct("tenant_id", {"kind": "wallet", "balance": {"$gt": 0}})
                if isinstance(t, str)]

    async def idle_wallets(self, tenant: str, cutoff: datetime, limit: int) -> list[Doc]:
        return await self.accounts.find({"tenant_id": tenant, "kind": "wallet", "balance": {"$gt": 0},
                                         "last_activity_at": {"$lt": cutoff}},
                                        sort=[("last_activity_at", ASCENDING)], limit=limit).to_list()

    async def idle_wallets_among(self, tenant: str, keys: Iterable[str], cutoff: datetime,
                                 session: Session) -> list[Doc]:
        """The wallets of `keys` still funded and still idle, as read in the reclaim's transaction."""
        return await self.accounts.find({"_id": {"$in": [scoped(tenant, k) for k in keys]}, "balance": {"$gt": 0},
                                         "last_activity_at": {"$lt": cutoff}}, session=session).to_list()

    # ---- roster ----------------------------------------------------------------------------------------

    async def users_by_id(self, tenant: str, user_ids: Iterable[str], session: Session | None = None) -> dict[str, Doc]:
        ids = [scoped(tenant, u) for u in dict.fromkeys(user_ids)]
        if not ids:
            return {}
        return {doc["user_id"]: doc async for doc in self.users.find({"_id": {"$in": ids}}, session=session)}

    async def user(self, tenant: str, user_id: str) -> Doc | None:
        return await self.users.find_one({"_id": scoped(tenant, user_id)})

    async def user_ids_of_teams(self, tenant: str, teams: Collection[str]) -> set[str]:
        if not teams:
            return set()
        return {d["user_id"] async for d in self.users.find({"tenant_id": tenant, "team_id": {"$in": sorted(teams)}},
                                                            {"user_id": 1})}

    async def select_users(self, tenant: str, query: Doc, limit: int) -> list[Doc]:
        return await self.users.find({"tenant_id": tenant, **query}, sort=[("user_id", ASCENDING)],
                                     limit=limit).to_list()

    # ---- reallocation requests -------------------------------------------------------------------------

    async def reallocation_request(self, tenant: str, request_id: str, session: Session | None = None) -> Doc | None:
        return await self.requests.find_one({"_id": scoped(tenant, request_id)}, session=session)

    async def pending_request_of(self, tenant: str, user_id: str, session: Session | None = None) -> Doc | None:
        return await self.requests.find_one({"tenant_id": tenant, "user_id": user_id, "status": "pending"},
                                            session=session)

    async def list_requests(self, tenant: str, status: str | None, limit: int,
                            user_ids: Collection[str] | None = None) -> list[Doc]:
        query: Doc = {"tenant_id": tenant}
        if status:
            query["status"] = status
        if user_ids is not None:
            query["user_id"] = {"$in": sorted(user_ids)}
        return await self.requests.find(query, sort=[("requested_at", DESCENDING)], limit=limit).to_list()

    # ---- configuration ---------------------------------------------------------------------------------

    async def get_config(self, tenant: str, kind: str) -> tuple[Any, int]:
        return await read_versioned(self.config, scoped(tenant, kind))

    async def put_config(self, tenant: str, kind: str, value: Any, expected_version: int | None,
                         now: datetime) -> int | None:
        """Store a configuration value; with `expected_version`, only if nobody changed it since (else None)."""
        body = {"value": value, "updated_at": now, "tenant_id": tenant, "kind": kind}
        return await write_versioned(self.config, scoped(tenant, kind), body, expected_version)
