"""The service layer of the ledger: takes validated events and requests, asks the domain, and writes each
change with the events announcing it in one MongoDB transaction. Decisions are made inside the
transaction on balances read in it (snapshot), so a concurrent change of the same accounts makes the
transaction conflict and run again on fresh balances; the store's guarded updates refuse a balance
below zero even if a decision were wrong."""

from __future__ import annotations

import asyncio
import logging
import secrets
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from prometheus_client import Counter as MetricCounter
from pydantic import BaseModel
from pymongo import UpdateOne
from pymongo.errors import DuplicateKeyError

from telesales_contracts import Topic
from telesales_contracts.ledger import (
    AllocationSelection,
    BonusAward,
    BonusAwarded,
    CoinsAllocated,
    CoinsReclaimed,
    CoinsRedeemed,
    ReallocationDecided,
    TransferRecorded,
)
from telesales_contracts.topics import (
    LEDGER_BONUS_AWARDED,
    LEDGER_COINS_ALLOCATED,
    LEDGER_COINS_RECLAIMED,
    LEDGER_COINS_REDEEMED,
    LEDGER_REALLOCATION_DECIDED,
    LEDGER_TRANSFER_POSTED,
    LEDGER_TRANSFER_RECORDED,
    LEDGER_TRANSFER_REJECTED,
)
from telesales_runtime.cache import TtlCache
from telesales_runtime.consumer import Delivery
from telesales_runtime.deadletter import DeadLetterPublisher
from telesales_runtime.observability import MESSAGES_CONSUMED
from telesales_runtime.outbox import encoded_outbox_row, outbox_row

from . import domain
from .domain import (
    BONUS_POOL,
    BUDGET,
    ISSUANCE,
    REDEEMED,
    Balances,
    DomainError,
    LedgerPolicy,
    Move,
    PurchaseDecision,
    PurchaseRequest,
    TransferSpec,
    earnings,
    escrow,
    wallet,
)
from .settings import LedgerSettings
from .store import (
    PENDING,
    POSTED,
    REJECTED,
    VOIDED,
    Changes,
    Doc,
    LedgerStore,
    Session,
    buyer_counter_id,
    counter_expiry,
    pair_counter_id,
    scoped,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

PURCHASES = MetricCounter("ledger_purchases_total", "Purchase requests decided, by outcome and reason.", ["outcome", "reason"])
COINS_MOVED = MetricCounter("ledger_coins_moved_total", "Coins moved by transfers, by kind.", ["kind"])

SYSTEM_ACTOR = "system"


def utcnow() -> datetime:
    """Now, to the millisecond MongoDB keeps (so a stored time reads back equal)."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def move_all_or_explain(balances: Balances, moves: Sequence[Move], shortfall: Callable[[], str]) -> None:
    """`balances.move_all(moves)`; when a debit account lacks the coins, `insufficient_funds` says what the
    whole operation needs (`shortfall()`) instead of naming the first account short."""
    try:
        balances.move_all(moves)
    except DomainError as error:
        if error.code != "insufficient_funds":
            raise
        raise DomainError("insufficient_funds", shortfall()) from error


class AccountLocks:
    """In-process locks per account: operations of this process on the same accounts wait for each other
    instead of failing each other's transactions (write conflicts, retried after a back-off). Correctness
    never depends on them: between processes MongoDB's conflict detection decides, as it would here."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._waiting: Counter[str] = Counter()

    @asynccontextmanager
    async def hold(self, keys: Iterable[str]) -> AsyncIterator[None]:
        ordered = sorted(set(keys))  # one order for everyone: no deadlock
        for key in ordered:
            self._waiting[key] += 1
            self._locks.setdefault(key, asyncio.Lock())
        acquired: list[str] = []
        try:
            for key in ordered:
                await self._locks[key].acquire()
                acquired.append(key)
            yield
        finally:
            for key in reversed(acquired):
                self._locks[key].release()
            for key in ordered:
                self._waiting[key] -= 1
                if not self._waiting[key]:
                    del self._waiting[key], self._locks[key]


@dataclass(frozen=True)
class RosterSelection:
    """Users picked in bulk from the roster (active ones only): by role, grade, team and business line."""

    roles: tuple[str, ...] = ("agent",)
    grades: tuple[str, ...] = ()
    team_id: str | None = None
    business_line: str | None = None

    def query(self) -> Doc:
        query: Doc = {"active": {"$ne": False}, "role": {"$in": list(self.roles)}}
        if self.grades:
            query["grade"] = {"$in": list(self.grades)}
        if self.team_id is not None:
            query["team_id"] = self.team_id
        if self.business_line is not None:
            query["business_line"] = self.business_line
        return query

    def describe(self) -> Doc:
        return {"roles": list(self.roles), "grades": list(self.grades), "team_id": self.team_id,
                "business_line": self.business_line}


@dataclass(frozen=True)
class Result:
    """What an idempotent operation returns: the stored record, and whether it was decided before."""

    doc: Doc
    replayed: bool


class LedgerService:
    def __init__(self, settings: LedgerSettings, store: LedgerStore, dead_letters: DeadLetterPublisher,
                 notify_outbox: Callable[[], None]) -> None:
        self.settings = settings
        self.store = store
        self.dead_letters = dead_letters
        self.notify_outbox = notify_outbox
        self.tz = settings.tz
        self._config = TtlCache(settings.config_cache_seconds)
        self.locks = AccountLocks()

    # ---- configuration -------------------------------------------------------------------------------

    async def policy(self, tenant: str) -> LedgerPolicy:
        cached = self._config.get(tenant)
        if cached is None:
            value, _ = await self.store.get_config(tenant, "policy")
            cached = LedgerPolicy() if value is None else LedgerPolicy.model_validate(value)
            self._config.put(tenant, cached)
        return cached

    def forget_policy(self, tenant: str) -> None:
        self._config.drop(tenant)

    # ---- plumbing ------------------------------------------------------------------------------------

    def _row(self, topic: Topic, data: BaseModel, tenant: str, key: str, subject: str | None = None) -> Doc:
        event = topic.event(data, source=self.settings.source, tenantid=tenant, subject=subject or key)
        return outbox_row(topic.name, event, key)

    def _trusted_row(self, topic: Topic, data: Doc, tenant: str, key: str, subject: str) -> Doc:
        event_id, payload = topic.encode_trusted(data, source=self.settings.source, tenantid=tenant, subject=subject)
        return encoded_outbox_row(topic.name, event_id, tenant, payload, key)

    async def _commit(self, build: Callable[[Session], Awaitable[tuple[Changes, T]]], keys: Iterable[str] = ()) -> T:
        """Run `build` in a transaction and write what it decided (holding this process's locks on the
        accounts `keys`); the outbox relay is woken afterwards."""
        async with self.locks.hold(keys):
            return await self._commit_unlocked(build)

    async def _commit_once(self, build: Callable[[Session], Awaitable[tuple[Changes, T]]], keys: Iterable[str]) -> T:
        """`_commit` of an operation under a client-chosen id: when a concurrent request committed the same
        id meanwhile (a unique index refuses the second), `build` runs again, finds the first and answers
        as to a retry."""
        try:
            return await self._commit(build, keys)
        except DuplicateKeyError:
            return await self._commit(build, keys)

    async def _commit_unlocked(self, build: Callable[[Session], Awaitable[tuple[Changes, T]]]) -> T:
        written: list[Changes] = []

        async def work(session: Session) -> T:
            written.clear()
            changes, result = await build(session)
            if not changes.empty():
                await self.store.write(changes, session)
                written.append(changes)
            return result

        result = await self.store.transaction(work)
        if written:
            self.notify_outbox()
            for doc in written[0].transfers:
                if doc["state"] != REJECTED:
                    COINS_MOVED.labels(doc["kind"]).inc(doc["amount"])
        return result

    @staticmethod
    def _transfer_doc(tenant: str, transfer_id: str, *, kind: str, debit: str, credit: str, amount: int, now: datetime,
                      by: str, state: str = POSTED, linked_group: str | None = None, hold_id: str | None = None,
                      fingerprint: str | None = None, **extra: Any) -> Doc:
        doc: Doc = {"_id": scoped(tenant, transfer_id), "tenant_id": tenant, "transfer_id": transfer_id, "kind": kind,
                    "state": state, "debit": debit, "credit": credit, "amount": amount, "linked_group": linked_group,
                    "hold_id": hold_id, "created_at": now, "posted_at": now if state == POSTED else None, "by": by}
        if fingerprint is not None:
            doc["fingerprint"] = fingerprint
        doc.update(extra)
        return doc

    def _recorded_row(self, tenant: str, doc: Doc) -> Doc:
        data = TransferRecorded(transfer_id=doc["transfer_id"], kind=doc["kind"], state=doc["state"],
                                debit_account=doc["debit"], credit_account=doc["credit"], amount=doc["amount"],
                                hold_id=doc.get("hold_id"), linked_group=doc.get("linked_group"),
                                expires_at=doc.get("expires_at"), by=doc["by"], at=doc["created_at"])
        return self._row(LEDGER_TRANSFER_RECORDED, data, tenant, doc.get("hold_id") or doc["transfer_id"])

    # ---- direct transfers and holds (HTTP) -----------------------------------------------------------

    async def transfer(self, tenant: str, specs: Sequence[TransferSpec], *, actor: str, linked: bool = False,
                       issue: bool = False) -> tuple[list[Doc], bool]:
        """Record transfers, all or none (a linked group; a single transfer is a group of one). Returns the
        transfer documents and whether they were recorded before (a retry with the same ids and content)."""
        if not specs:
            raise DomainError("no_transfers", "send at least one transfer")
        for spec in specs:
            domain.check_transfer(spec, issue=issue)
        ids = [s.transfer_id for s in specs]
        if len(set(ids)) != len(ids):
            raise DomainError("duplicate_id", "each transfer of a group needs its own id")
        group = ids[0] if linked else None
        prints = {s.transfer_id: s.fingerprint(group) for s in specs}
        policy = await self.policy(tenant)
        now = utcnow()
        accounts = [k for s in specs for k in (s.debit, s.credit, escrow(s.debit))]

        async def build(session: Session) -> tuple[Changes, tuple[list[Doc], bool]]:
            existing = await self.store.transfers_by_id(tenant, ids, session)
            if existing:
                if len(existing) == len(ids) and all(existing[t].get("fingerprint") == prints[t] for t in ids):
                    return Changes(tenant, now), ([existing[t] for t in ids], True)
                clash = next(iter(existing))
                raise DomainError("transfer_id_conflict", f"transfer id {clash} was used before with other content",
                                  transfer_id=clash)
            balances = await self.store.balances(tenant, accounts, session)
            balances.move_all([m for s in specs for m in s.moves()])
            changes = Changes(tenant, now, balances)
            docs = []
            for spec in specs:
                if spec.pending:
                    expires = now + timedelta(seconds=spec.timeout_seconds or policy.hold_timeout_seconds)
                    doc = self._transfer_doc(tenant, spec.transfer_id, kind=spec.kind, debit=spec.debit,
                                             credit=escrow(spec.debit), amount=spec.amount, now=now, by=actor,
                                             state=PENDING, linked_group=group, fingerprint=prints[spec.transfer_id],
                                             target=spec.credit, expires_at=expires, note=spec.note)
                else:
                    doc = self._transfer_doc(tenant, spec.transfer_id, kind=spec.kind, debit=spec.debit,
                                             credit=spec.credit, amount=spec.amount, now=now, by=actor,
                                             linked_group=group, fingerprint=prints[spec.transfer_id], note=spec.note)
                docs.append(doc)
                changes.outbox.append(self._recorded_row(tenant, doc))
                if spec.debit.startswith("wallet:"):
                    changes.activity[spec.debit] = now
            changes.transfers = docs
            return changes, (docs, False)

        return await self._commit_once(build, accounts)

    async def issue(self, tenant: str, transfer_id: str, amount: int, *, actor: str, note: str | None) -> tuple[Doc, bool]:
        """New coins into the operators' budget (the issuance account goes negative by as much)."""
        docs, replayed = await self.transfer(tenant, [TransferSpec(transfer_id, ISSUANCE, BUDGET, amount, "issue",
                                                                   note=note)], actor=actor, issue=True)
        return docs[0], replayed

    async def post_hold(self, tenant: str, hold_id: str, amount: int | None, *, actor: str) -> Result:
        """Post a hold: `amount` (all of it when None) to its target, the rest back to its debit account."""
        return await self._settle(tenant, hold_id, mode="post", post_amount=amount, actor=actor)

    async def void_hold(self, tenant: str, hold_id: str, *, actor: str) -> Result:
        """Void a hold: everything held goes back to its debit account."""
        return await self._settle(tenant, hold_id, mode="void", post_amount=None, actor=actor)

    async def _settle(self, tenant: str, hold_id: str, *, mode: str, post_amount: int | None, actor: str,
                      now: datetime | None = None) -> Result:
        """mode: post, void, or expire (void only if past its timeout). A hold found past its timeout is
        voided whatever the mode, and a post of it then fails with `hold_expired`."""
        now = now or utcnow()
        seen = await self.store.transfer(tenant, hold_id)
        accounts = [seen[k] for k in ("debit", "credit", "target") if k in seen] if seen else []

        async def build(session: Session) -> tuple[Changes, tuple[Result, bool]]:
            hold = await self.store.transfer(tenant, hold_id, session)
            if hold is None or hold.get("kind") == "purchase" or "target" not in hold:
                raise DomainError("unknown_hold", f"there is no hold {hold_id!r}")
            unchanged = Changes(tenant, now), (Result(hold, True), False)
            if hold["state"] == POSTED:
                if mode == "expire" or (mode == "post" and post_amount in (None, hold.get("posted_amount"))):
                    return unchanged
                raise DomainError("hold_posted", f"hold {hold_id} was posted already")
            if hold["state"] == VOIDED:
                if mode != "post":
                    return unchanged
                code = "hold_expired" if hold.get("void_reason") == "expired" else "hold_voided"
                raise DomainError(code, f"hold {hold_id} was voided ({hold.get('void_reason')})")
            expired = hold["expires_at"] <= now
            if mode == "expire" and not expired:
                return unchanged
            voiding = mode != "post" or expired
            source, hold_account, target = hold["debit"], hold["credit"], hold["target"]
            balances = await self.store.balances(tenant, [source, hold_account, target], session)
            if voiding:
                posted, released = 0, hold["amount"]
            else:
                posted, released = domain.hold_settlement(hold["amount"], post_amount)
            legs = []
            if posted:
                legs.append(("post", target, posted))
            if released:
                legs.append(("void" if voiding else "release", source, released))
            balances.move_all([Move(hold_account, credit, amount) for _, credit, amount in legs])
            changes = Changes(tenant, now, balances)
            for suffix, credit, amount in legs:
                doc = self._transfer_doc(tenant, f"{hold_id}/{suffix}", kind=suffix, debit=hold_account, credit=credit,
                                         amount=amount, now=now, by=actor if mode != "expire" else SYSTEM_ACTOR,
                                         linked_group=hold.get("linked_group"), hold_id=hold_id)
                changes.transfers.append(doc)
                changes.outbox.append(self._recorded_row(tenant, doc))
            if voiding:
                reason = "voided" if mode == "void" else "expired"
                fields = {"state": VOIDED, "voided_at": now, "void_reason": reason,
                          "resolved_by": actor if mode == "void" else SYSTEM_ACTOR}
            else:
                fields = {"state": POSTED, "posted_at": now, "posted_amount": posted, "resolved_by": actor}
            changes.transfer_updates.append(({"_id": hold["_id"], "state": PENDING}, {"$set": fields}))
            return changes, (Result(hold | fields, False), mode == "post" and expired)

        result, refused = await self._commit(build, accounts)
        if refused:
            raise DomainError("hold_expired", f"hold {hold_id} passed its timeout and was voided")
        return result

    async def expire_holds(self, now: datetime | None = None) -> int:
        """Void every hold past its timeout (the sweeper's job). Returns how many were voided."""
        now = now or utcnow()
        voided = 0
        while True:
            holds = await self.store.expired_holds(now, self.settings.sweep_batch_size)
            for hold in holds:
                try:
                    result = await self._settle(hold["tenant_id"], hold["transfer_id"], mode="expire",
                                                post_amount=None, actor=SYSTEM_ACTOR, now=now)
                except DomainError:
                    continue
                voided += not result.replayed
            if len(holds) < self.settings.sweep_batch_size:
                return voided

    # ---- purchases (ledger.transfer-requested.v1) ----------------------------------------------------

    async def _per_tenant(self, deliveries: Sequence[Delivery],
                          handle: Callable[[str, list[Delivery]], Awaitable[Any]]) -> None:
        """Hand each tenant's unprocessed deliveries to `handle`. When another consumer processed some of
        them meanwhile (a rebalance hands a partition over while its batch is still being written), the
        transaction fails on the inbox's unique id and what is left is handled again."""
        for tenant, fresh in (await self.store.inbox.unprocessed_by_tenant(deliveries)).items():
            try:
                await handle(tenant, fresh)
            except DuplicateKeyError:
                left = (await self.store.inbox.unprocessed_by_tenant(fresh)).get(tenant)
                if left:
                    await handle(tenant, left)

    async def handle_transfer_requests(self, deliveries: Sequence[Delivery]) -> None:
        await self._per_tenant(deliveries, self.purchase_batch)

    async def purchase_batch(self, tenant: str, deliveries: Sequence[Delivery]) -> list[PurchaseDecision]:
        """Decide a batch of purchase requests of one tenant in one transaction: the transfers, balances,
        daily counters, answers (outbox) and processed event ids (inbox) commit together."""
        policy = await self.policy(tenant)
        requests = []
        for d in deliveries:
            data = d.event.data
            requests.append(PurchaseRequest(event_id=d.event.id, transfer_id=data.transfer_id, buyer_id=data.buyer_id,
                                            seller_id=data.seller_id, tip_id=data.tip_id, price=data.price,
                                            day=domain.business_day(d.event.time, self.tz)))
        requested_at = {d.event.id: min(d.event.time, utcnow()) for d in deliveries}
        sources = {d.event.id: d.event.source for d in deliveries}

        async def build(session: Session) -> tuple[Changes, list[PurchaseDecision]]:
            now = utcnow()
            prior_docs = await self.store.transfers_by_id(tenant, [r.transfer_id for r in requests], session)
            balances = await self.store.balances(tenant, [wallet(r.buyer_id) for r in requests], session)
            counters = await self.store.daily_counters(
                tenant, [(r.day, r.buyer_id) for r in requests], [(r.day, r.buyer_id, r.seller_id) for r in requests],
                session)
            prior = {tid: doc.get("fingerprint", "") for tid, doc in prior_docs.items()}
            decisions = domain.decide_purchases(requests, prior, balances, counters, policy)
            changes = Changes(tenant, now, balances)
            first: dict[str, Doc] = dict(prior_docs)
            buyer_counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
            pair_counts: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
            for decision in decisions:
                r = decision.request
                if decision.outcome == "posted":
                    docs = self._purchase_docs(tenant, decision, now, sources[r.event_id])
                    changes.transfers += docs
                    first[r.transfer_id] = docs[0]
                    changes.outbox.append(self._answer_row(tenant, docs[0], r, repeat=False))
                    at = requested_at[r.event_id]
                    changes.activity[wallet(r.buyer_id)] = max(changes.activity.get(wallet(r.buyer_id), at), at)
                    b, p = buyer_counts[(r.day, r.buyer_id)], pair_counts[(r.day, r.buyer_id, r.seller_id)]
                    b[0], b[1], p[0], p[1] = b[0] + 1, b[1] + r.price, p[0] + 1, p[1] + r.price
                elif decision.outcome == "rejected":
                    doc = self._rejected_doc(tenant, decision, now, sources[r.event_id])
                    changes.transfers.append(doc)
                    first[r.transfer_id] = doc
                    changes.outbox.append(self._answer_row(tenant, doc, r, repeat=False))
                elif decision.outcome == "repeat":
                    changes.outbox.append(self._answer_row(tenant, first[r.transfer_id], r, repeat=True))
                else:  # conflict: the first decision stands; this request is answered on its own
                    changes.outbox.append(self._conflict_row(tenant, decision, now))
                changes.inbox.append(self.store.inbox.entry(tenant, r.event_id, {
                    "status": decision.outcome, "transfer_id": r.transfer_id}))
            for (day, buyer), (n, coins) in buyer_counts.items():
                changes.counters.append(UpdateOne(
                    {"_id": buyer_counter_id(tenant, day, buyer)},
                    {"$inc": {"count": n, "coins": coins}, "$setOnInsert": {
                        "tenant_id": tenant, "day": day, "buyer_id": buyer, "seller_id": None,
                        "expires_at": counter_expiry(day, now)}}, upsert=True))
            for (day, buyer, seller), (n, coins) in pair_counts.items():
                changes.counters.append(UpdateOne(
                    {"_id": pair_counter_id(tenant, day, buyer, seller)},
                    {"$inc": {"count": n, "coins": coins}, "$setOnInsert": {
                        "tenant_id": tenant, "day": day, "buyer_id": buyer, "seller_id": seller,
                        "expires_at": counter_expiry(day, now)}}, upsert=True))
            return changes, decisions

        accounts = {BUDGET}
        for r in requests:
            accounts.update((wallet(r.buyer_id), escrow(wallet(r.buyer_id)), earnings(r.seller_id)))
        decisions = await self._commit(build, accounts)
        for decision in decisions:
            PURCHASES.labels(decision.outcome, decision.reason.value if decision.reason else "").inc()
        MESSAGES_CONSUMED.labels(self.settings.service_name, "ledger.transfer-requested.v1", "processed").inc(
            len(decisions))
        return decisions

    def _purchase_docs(self, tenant: str, decision: PurchaseDecision, now: datetime, by: str) -> list[Doc]:
        r = decision.request
        buyer, hold = wallet(r.buyer_id), escrow(wallet(r.buyer_id))
        purchase = {"buyer_id": r.buyer_id, "seller_id": r.seller_id, "tip_id": r.tip_id, "price": r.price,
                    "seller_amount": decision.seller_amount, "platform_amount": decision.platform_amount,
                    "buyer_balance": decision.buyer_balance, "day": r.day, "request_event_id": r.event_id}
        docs = [self._transfer_doc(tenant, r.transfer_id, kind="purchase", debit=buyer, credit=hold, amount=r.price,
                                   now=now, by=by, linked_group=r.transfer_id, fingerprint=r.fingerprint,
                                   target=earnings(r.seller_id), held_at=now, purchase=purchase)]
        if decision.seller_amount:
            docs.append(self._transfer_doc(tenant, f"{r.transfer_id}/sale", kind="sale", debit=hold,
                                           credit=earnings(r.seller_id), amount=decision.seller_amount, now=now, by=by,
                                           linked_group=r.transfer_id, hold_id=r.transfer_id))
        if decision.platform_amount:
            docs.append(self._transfer_doc(tenant, f"{r.transfer_id}/fee", kind="fee", debit=hold, credit=BUDGET,
                                           amount=decision.platform_amount, now=now, by=by,
                                           linked_group=r.transfer_id, hold_id=r.transfer_id))
        return docs

    @staticmethod
    def _rejected_doc(tenant: str, decision: PurchaseDecision, now: datetime, by: str) -> Doc:
        r = decision.request
        return {"_id": scoped(tenant, r.transfer_id), "tenant_id": tenant, "transfer_id": r.transfer_id,
                "kind": "purchase", "state": REJECTED, "amount": r.price, "fingerprint": r.fingerprint,
                "created_at": now, "by": by,
                "purchase": {"buyer_id": r.buyer_id, "seller_id": r.seller_id, "tip_id": r.tip_id, "price": r.price,
                             "day": r.day, "request_event_id": r.event_id, "reason": decision.reason.value
                             if decision.reason else None, "limit": decision.limit.value if decision.limit else None,
                             "limit_value": decision.limit_value, "message": decision.message,
                             "buyer_balance": decision.buyer_balance}}

    def _answer_row(self, tenant: str, doc: Doc, request: PurchaseRequest, *, repeat: bool) -> Doc:
        """The answer to a purchase request, from its (first) decision."""
        p = doc["purchase"]
        base = {"transfer_id": doc["transfer_id"], "buyer_id": p["buyer_id"], "seller_id": p["seller_id"],
                "tip_id": p["tip_id"], "price": p["price"], "request_event_id": request.event_id, "repeat": repeat}
        if doc["state"] == REJECTED:
            data = base | {"reason": p["reason"], "limit": p["limit"], "limit_value": p["limit_value"],
                           "message": p["message"], "rejected_at": doc["created_at"]}
            return self._trusted_row(LEDGER_TRANSFER_REJECTED, data, tenant, p["buyer_id"], doc["transfer_id"])
        data = base | {"seller_amount": p["seller_amount"], "platform_amount": p["platform_amount"],
                       "buyer_balance": p["buyer_balance"], "day": p["day"], "posted_at": doc["posted_at"]}
        return self._trusted_row(LEDGER_TRANSFER_POSTED, data, tenant, p["buyer_id"], doc["transfer_id"])

    def _conflict_row(self, tenant: str, decision: PurchaseDecision, now: datetime) -> Doc:
        r = decision.request
        assert decision.reason is not None
        data = {"transfer_id": r.transfer_id, "buyer_id": r.buyer_id, "seller_id": r.seller_id, "tip_id": r.tip_id,
                "price": r.price, "request_event_id": r.event_id, "repeat": False, "reason": decision.reason.value,
                "limit": None, "limit_value": None, "message": decision.message, "rejected_at": now}
        return self._trusted_row(LEDGER_TRANSFER_REJECTED, data, tenant, r.buyer_id, r.transfer_id)

    # ---- allocations (配置) ---------------------------------------------------------------------------

    async def allocate(self, tenant: str, allocation_id: str, amount: int, *, actor: str,
                       user_ids: Sequence[str] | None = None, selection: RosterSelection | None = None,
                       note: str | None = None) -> Result:
        """Coins from the budget to each user named, or to each active user the roster selection matches,
        all or none. Users whose wallet was reclaimed are skipped (they need an approved request)."""
        if (user_ids is None) == (selection is None):
            raise DomainError("invalid_allocation", "name users, or select them by role and grade")
        if not 0 < amount <= domain.MAX_AMOUNT:
            raise DomainError("invalid_amount", f"amounts are whole coins from 1 to {domain.MAX_AMOUNT}")
        print_ = domain.fingerprint({"op": "allocation", "amount": amount, "users": list(user_ids or []),
                                    "selection": selection.describe() if selection else None, "note": note})
        existing = await self.store.operation(tenant, allocation_id)
        if existing is not None:
            return self._replay(existing, print_, allocation_id)
        limit = self.settings.allocation_max_recipients
        if user_ids is not None:
            recipients = list(dict.fromkeys(user_ids))
            roster = await self.store.users_by_id(tenant, recipients)
        else:
            assert selection is not None
            docs = await self.store.select_users(tenant, selection.query(), limit + 1)
            recipients = [d["user_id"] for d in docs]
            roster = {d["user_id"]: d for d in docs}
        if not recipients:
            raise DomainError("no_recipients", "no active user matches")
        if len(recipients) > limit:
            raise DomainError("too_many_recipients", f"at most {limit} users per allocation")
        how = AllocationSelection.USERS if user_ids is not None else AllocationSelection.ROSTER
        now = utcnow()

        async def build(session: Session) -> tuple[Changes, Result]:
            op = await self.store.operation(tenant, allocation_id, session)
            if op is not None:
                return Changes(tenant, now), self._replay(op, print_, allocation_id)
            balances = await self.store.balances(tenant, [BUDGET, *(wallet(u) for u in recipients)], session)
            granted = [u for u in recipients if not balances.state(wallet(u)).allocation_blocked]
            skipped = [{"user_id": u, "reason": "reallocation_needs_approval"} for u in recipients if u not in granted]
            if not granted:
                raise DomainError("reallocation_needs_approval", "every user named had their coins reclaimed: each "
                                  "needs an approved reallocation request first", skipped=skipped)
            move_all_or_explain(balances, [Move(BUDGET, wallet(u), amount) for u in granted],
                                lambda: f"the budget holds {balances.balance(BUDGET)} coins; "
                                        f"{amount * len(granted)} needed for {len(granted)} users")
            changes = Changes(tenant, now, balances)
            allocated = []
            for user in granted:
                doc = self._transfer_doc(tenant, f"{allocation_id}/{user}", kind="allocation", debit=BUDGET,
                                         credit=wallet(user), amount=amount, now=now, by=actor,
                                         linked_group=allocation_id, note=note)
                changes.transfers.append(doc)
                allocated.append({"user_id": user, "transfer_id": doc["transfer_id"]})
                info = roster.get(user, {})
                changes.outbox.append(self._row(LEDGER_COINS_ALLOCATED, CoinsAllocated(
                    allocation_id=allocation_id, transfer_id=doc["transfer_id"], user_id=user, amount=amount,
                    selection=how, role=info.get("role"), grade=info.get("grade"), allocated_by=actor, note=note,
                    allocated_at=now), tenant, user))
            op_doc = {"_id": scoped(tenant, allocation_id), "tenant_id": tenant, "op_id": allocation_id,
                      "kind": "allocation", "fingerprint": print_, "amount": amount, "selection": how.value,
                      "filter": selection.describe() if selection else None, "allocated": allocated,
                      "skipped": skipped, "total": amount * len(granted), "by": actor, "note": note,
                      "created_at": now}
            changes.operations.append(op_doc)
            return changes, Result(op_doc, False)

        accounts = [BUDGET, *(wallet(u) for u in recipients)]
        return await self._commit_once(build, accounts)

    @staticmethod
    def _replay(op: Doc, print_: str, op_id: str) -> Result:
        if op.get("fingerprint") != print_:
            raise DomainError("operation_id_conflict", f"id {op_id} was used before with other content")
        return Result(op, True)

    # ---- idle reclaim (回收) and reallocation approval ------------------------------------------------

    async def reclaim_idle(self, tenant: str, now: datetime | None = None) -> list[Doc]:
        """Move the coins of wallets unused for `idle_days` back to the budget and block further
        allocations to them until a reallocation request is approved."""
        now = now or utcnow()
        policy = await self.policy(tenant)
        if policy.idle_days is None:
            return []
        idle_days = policy.idle_days
        cutoff = domain.idle_cutoff(now, idle_days)
        reclaimed: list[Doc] = []
        while True:
            candidates = await self.store.idle_wallets(tenant, cutoff, self.settings.sweep_batch_size)
            if not candidates:
                return reclaimed
            keys = [c["key"] for c in candidates]

            async def build(session: Session, keys: list[str] = keys) -> tuple[Changes, list[Doc]]:
                docs = await self.store.accounts.find(
                    {"_id": {"$in": [scoped(tenant, k) for k in keys]}, "balance": {"$gt": 0},
                     "last_activity_at": {"$lt": cutoff}}, session=session).to_list()
                balances = await self.store.balances(tenant, [BUDGET, *(d["key"] for d in docs)], session)
                changes = Changes(tenant, now, balances)
                done = []
                for account in docs:
                    user, amount = account["owner"], int(account["balance"])
                    balances.move(account["key"], BUDGET, amount)
                    transfer_id = f"reclaim/{user}/{now.strftime('%Y%m%dT%H%M%S%f')}"
                    changes.transfers.append(self._transfer_doc(
                        tenant, transfer_id, kind="reclaim", debit=account["key"], credit=BUDGET, amount=amount,
                        now=now, by=SYSTEM_ACTOR, idle_since=account["last_activity_at"], idle_days=idle_days))
                    changes.account_fields[account["key"]] = {"allocation_blocked": True, "reclaimed_at": now}
                    changes.outbox.append(self._row(LEDGER_COINS_RECLAIMED, CoinsReclaimed(
                        transfer_id=transfer_id, user_id=user, amount=amount,
                        last_activity_at=account["last_activity_at"], idle_days=idle_days, reclaimed_at=now),
                        tenant, user))
                    done.append({"user_id": user, "amount": amount, "transfer_id": transfer_id,
                                 "last_activity_at": account["last_activity_at"]})
                return changes, done

            batch = await self._commit(build, [BUDGET, *keys])
            reclaimed += batch
            if not batch or len(candidates) < self.settings.sweep_batch_size:
                return reclaimed

    async def reclaim_all(self, now: datetime | None = None) -> int:
        total = 0
        for tenant in await self.store.tenants_with_funded_wallets():
            total += len(await self.reclaim_idle(tenant, now))
        return total

    async def request_reallocation(self, tenant: str, user_id: str, reason: str, *, actor: str) -> Doc:
        account = await self.store.account(tenant, wallet(user_id))
        if account is None or not account.get("allocation_blocked"):
            raise DomainError("not_reclaimed", f"{user_id}'s coins were not reclaimed: allocate to them directly")
        now = utcnow()
        request_id = uuid.uuid4().hex[:16]
        doc = {"_id": scoped(tenant, request_id), "tenant_id": tenant, "request_id": request_id, "user_id": user_id,
               "reason": reason, "status": "pending", "requested_by": actor, "requested_at": now}
        if not await self.store.insert_request(doc):
            open_ = await self.store.pending_request_of(tenant, user_id)
            raise DomainError("request_pending", f"{user_id} has a pending request already",
                              request_id=open_["request_id"] if open_ else None)
        return doc

    async def decide_reallocation(self, tenant: str, request_id: str, *, approve: bool, actor: str,
                                  amount: int | None = None, reason: str | None = None) -> Result:
        """Approve (unblocking the wallet, with an optional allocation from the budget) or reject."""
        decision = "approved" if approve else "rejected"
        if amount is not None and (not approve or not 0 < amount <= domain.MAX_AMOUNT):
            raise DomainError("invalid_amount", "an amount goes only with an approval, in whole coins above 0")
        now = utcnow()
        seen = await self.store.reallocation_request(tenant, request_id)
        accounts = [BUDGET, wallet(seen["user_id"])] if seen else []

        async def build(session: Session) -> tuple[Changes, Result]:
            request = await self.store.reallocation_request(tenant, request_id, session)
            if request is None:
                raise DomainError("unknown_request", f"there is no reallocation request {request_id!r}")
            if request["status"] != "pending":
                if request["status"] == decision and request.get("amount") == amount:
                    return Changes(tenant, now), Result(request, True)
                raise DomainError("request_decided", f"request {request_id} was {request['status']} already")
            user = request["user_id"]
            changes = Changes(tenant, now)
            allocation_id = None
            if approve:
                key = wallet(user)
                changes.balances = await self.store.balances(tenant, [BUDGET, key], session)
                changes.account_fields[key] = {"allocation_blocked": False, "reopened_at": now}
                changes.activity[key] = now  # the idle clock starts again
                if amount:
                    allocation_id = f"reallocation/{request_id}"
                    changes.balances.move(BUDGET, key, amount)
                    changes.transfers.append(self._transfer_doc(
                        tenant, allocation_id, kind="allocation", debit=BUDGET, credit=key, amount=amount, now=now,
                        by=actor, note=reason, request_id=request_id))
                    info = (await self.store.users_by_id(tenant, [user], session)).get(user, {})
                    changes.outbox.append(self._row(LEDGER_COINS_ALLOCATED, CoinsAllocated(
                        allocation_id=allocation_id, transfer_id=allocation_id, user_id=user, amount=amount,
                        selection=AllocationSelection.APPROVAL, role=info.get("role"), grade=info.get("grade"),
                        allocated_by=actor, note=reason, allocated_at=now), tenant, user))
            fields = {"status": decision, "decided_by": actor, "decided_at": now, "amount": amount,
                      "allocation_id": allocation_id, "decision_reason": reason}
            changes.request_updates.append(({"_id": request["_id"], "status": "pending"}, {"$set": fields}))
            changes.outbox.append(self._row(LEDGER_REALLOCATION_DECIDED, ReallocationDecided(
                request_id=request_id, user_id=user, decision=decision, amount=amount, allocation_id=allocation_id,
                decided_by=actor, reason=reason, decided_at=now), tenant, user))
            return changes, Result(request | fields, False)

        return await self._commit(build, accounts)

    # ---- redemption (兑换) ----------------------------------------------------------------------------

    async def redeem(self, tenant: str, redemption_id: str, user_id: str, *, actor: str, coins: int | None = None,
                     yuan: int | None = None, item: str | None = None) -> Result:
        """A seller's earnings to the redemption sink, in whole yuan (100 coins = 1 yuan)."""
        coins, fen = domain.redemption(coins=coins, yuan=yuan)
        domain.parse_account(earnings(user_id))
        print_ = domain.fingerprint({"op": "redemption", "user": user_id, "coins": coins, "item": item})
        now = utcnow()

        async def build(session: Session) -> tuple[Changes, Result]:
            existing = await self.store.transfer(tenant, redemption_id, session)
            if existing is not None:
                if existing.get("fingerprint") != print_:
                    raise DomainError("transfer_id_conflict", f"transfer id {redemption_id} was used before "
                                      "with other content", transfer_id=redemption_id)
                return Changes(tenant, now), Result(existing, True)
            source = earnings(user_id)
            balances = await self.store.balances(tenant, [source, REDEEMED], session)
            balances.move(source, REDEEMED, coins)
            doc = self._transfer_doc(tenant, redemption_id, kind="redemption", debit=source, credit=REDEEMED,
                                     amount=coins, now=now, by=actor, fingerprint=print_,
                                     redemption={"user_id": user_id, "coins": coins, "yuan_fen": fen, "item": item})
            changes = Changes(tenant, now, balances, transfers=[doc])
            changes.outbox.append(self._row(LEDGER_COINS_REDEEMED, CoinsRedeemed(
                transfer_id=redemption_id, user_id=user_id, coins=coins, yuan_fen=fen, item=item, redeemed_by=actor,
                redeemed_at=now), tenant, user_id))
            return changes, Result(doc, False)

        accounts = [earnings(user_id), REDEEMED]
        return await self._commit_once(build, accounts)

    # ---- blind box (盲盒) -----------------------------------------------------------------------------

    async def blind_box(self, tenant: str, draw_id: str, *, actor: str, min_amount: int, max_amount: int,
                        user_ids: Sequence[str] | None = None, top: int | None = None,
                        since: datetime | None = None, until: datetime | None = None,
                        seed: str | None = None) -> Result:
        """Random bonuses from the bonus pool to the users named, or to the `top` sellers by coins earned
        in [since, until), all or none. The seed is recorded (drawn when not given)."""
        if (user_ids is None) == (top is None):
            raise DomainError("invalid_draw", "name the users, or ask for the top sellers")
        print_ = domain.fingerprint({"op": "blind_box", "users": list(user_ids or []), "top": top,
                                    "since": since, "until": until, "min": min_amount, "max": max_amount,
                                    "seed": seed})
        existing = await self.store.operation(tenant, draw_id)
        if existing is not None:
            return self._replay(existing, print_, draw_id)
        if user_ids is not None:
            recipients = list(user_ids)
            for user in recipients:
                domain.parse_account(earnings(user))
        else:
            assert top is not None
            until = until or utcnow()
            since = since or until - timedelta(days=30)
            recipients = domain.rank_contributors(await self.store.earned_by_sellers(tenant, since, until), top)
        if not recipients:
            raise DomainError("no_recipients", "nobody to reward")
        if len(recipients) > self.settings.blind_box_max_recipients:
            raise DomainError("too_many_recipients", f"at most {self.settings.blind_box_max_recipients} per draw")
        drawn_seed = seed or secrets.token_hex(16)
        amounts = domain.draw_amounts(drawn_seed, recipients, min_amount, max_amount)
        now = utcnow()

        async def build(session: Session) -> tuple[Changes, Result]:
            op = await self.store.operation(tenant, draw_id, session)
            if op is not None:
                return Changes(tenant, now), self._replay(op, print_, draw_id)
            balances = await self.store.balances(tenant, [BONUS_POOL], session)
            move_all_or_explain(balances, [Move(BONUS_POOL, earnings(u), a) for u, a in zip(recipients, amounts, strict=True)],
                                lambda: f"the bonus pool holds {balances.balance(BONUS_POOL)} coins; "
                                        f"the draw needs {sum(amounts)}")
            changes = Changes(tenant, now, balances)
            awards = []
            for user, amount in zip(recipients, amounts, strict=True):
                doc = self._transfer_doc(tenant, f"{draw_id}/{user}", kind="bonus", debit=BONUS_POOL,
                                         credit=earnings(user), amount=amount, now=now, by=actor, linked_group=draw_id)
                changes.transfers.append(doc)
                awards.append({"user_id": user, "amount": amount, "transfer_id": doc["transfer_id"]})
            op_doc = {"_id": scoped(tenant, draw_id), "tenant_id": tenant, "op_id": draw_id, "kind": "blind_box",
                      "fingerprint": print_, "seed": drawn_seed, "algorithm": domain.DRAW_ALGORITHM,
                      "recipients": recipients, "min_amount": min_amount, "max_amount": max_amount,
                      "awards": awards, "total": sum(amounts), "selection": {"user_ids": list(user_ids or []) or None,
                                                                             "top": top, "since": since, "until": until},
                      "by": actor, "created_at": now}
            changes.operations.append(op_doc)
            changes.outbox.append(self._row(LEDGER_BONUS_AWARDED, BonusAwarded(
                draw_id=draw_id, seed=drawn_seed, algorithm=domain.DRAW_ALGORITHM, min_amount=min_amount,
                max_amount=max_amount, awards=[BonusAward(**a) for a in awards], total=sum(amounts), drawn_by=actor,
                drawn_at=now), tenant, draw_id))
            return changes, Result(op_doc, False)

        accounts = [BONUS_POOL, *(earnings(u) for u in recipients)]
        return await self._commit_once(build, accounts)

    @staticmethod
    def replay_draw(op: Doc) -> list[dict[str, Any]]:
        """The draw recomputed from its recorded seed and recipients."""
        amounts = domain.draw_amounts(op["seed"], op["recipients"], op["min_amount"], op["max_amount"])
        return [{"user_id": u, "amount": a} for u, a in zip(op["recipients"], amounts, strict=True)]

    # ---- roster (agents.changed.v1, agents.graded.v1) ------------------------------------------------

    async def handle_agents_changed(self, deliveries: Sequence[Delivery]) -> None:
        """Keep the latest roster record per person (by the event's time; an older one arriving late is ignored)."""
        await self._per_tenant(deliveries, self._roster_changes)

    async def _roster_changes(self, tenant: str, fresh: list[Delivery]) -> None:
        def update(user_id: str, d: Delivery, now: datetime) -> Doc:
            record = d.event.data.model_dump(mode="json")
            return {"$set": {**{k: v for k, v in record.items() if k != "agent_id"}, "hr_time": d.event.time,
                             "updated_at": now},
                    "$setOnInsert": {"tenant_id": tenant, "user_id": user_id, "grade": None, "created_at": now}}

        await self._keep_latest(tenant, fresh, lambda d: d.event.time, "hr_time", update, "roster_updated")

    async def handle_agents_graded(self, deliveries: Sequence[Delivery]) -> None:
        """Keep each agent's latest weekly grade (an older week arriving late is ignored)."""
        await self._per_tenant(deliveries, self._grade_changes)

    async def _grade_changes(self, tenant: str, fresh: list[Delivery]) -> None:
        def update(user_id: str, d: Delivery, now: datetime) -> Doc:
            return {"$set": {"grade": d.event.data.grade, "graded_week": d.event.data.week, "updated_at": now},
                    "$setOnInsert": {"tenant_id": tenant, "user_id": user_id, "name": user_id, "role": "agent",
                                     "active": True, "team_id": d.event.data.team_id, "created_at": now}}

        await self._keep_latest(tenant, fresh, lambda d: d.event.data.week, "graded_week", update, "grade_updated")

    async def _keep_latest(self, tenant: str, fresh: list[Delivery], version: Callable[[Delivery], Any],
                           stored_version: str, update: Callable[[str, Delivery, datetime], Doc], status: str) -> None:
        """Upsert each agent's latest record of `fresh` (by `version`) unless the user stored already holds a
        later one (its field `stored_version`), and record every delivery in the inbox with `status`."""
        latest: dict[str, Delivery] = {}
        for d in fresh:
            known = latest.get(d.event.data.agent_id)
            if known is None or version(known) <= version(d):
                latest[d.event.data.agent_id] = d
        now = utcnow()

        async def build(session: Session) -> tuple[Changes, None]:
            stored = await self.store.users_by_id(tenant, latest, session)
            changes = Changes(tenant, now)
            for user_id, d in latest.items():
                seen = stored.get(user_id, {}).get(stored_version)
                if seen is not None and seen > version(d):
                    continue
                changes.users.append(UpdateOne({"_id": scoped(tenant, user_id)}, update(user_id, d, now), upsert=True))
            changes.inbox = [self.store.inbox.entry(tenant, d.event.id, {"status": status}) for d in fresh]
            return changes, None

        await self._commit(build)

    # ---- accounts, statements, audit -----------------------------------------------------------------

    async def set_allow_negative(self, tenant: str, key: str, allow: bool) -> Doc:
        ref = domain.parse_account(key)
        if ref.kind not in domain.CONFIGURABLE:
            raise DomainError("not_configurable", f"{key} keeps its own rule")
        return await self.store.set_account_flags(tenant, key, {"allow_negative": allow}, utcnow())

    async def audit(self, tenant: str, *, verify: bool) -> Doc:
        """Conservation (the balances sum to zero), no balance below zero where not allowed, and with
        `verify` every balance recomputed from the transfers alone."""
        summary = await self.store.audit(tenant)
        report: Doc = {"accounts": summary["accounts"], "sum_of_balances": summary["sum"],
                       "conserved": summary["sum"] == 0, "negative_accounts": summary["negative"],
                       "journal_checked": verify, "journal_mismatches": []}
        if verify:
            journal = await self.store.journal_balances(tenant)
            stored = await self.store.stored_balances(tenant)
            report["journal_mismatches"] = [
                {"account": key, "stored": stored.get(key, 0), "journal": journal.get(key, 0)}
                for key in sorted(set(journal) | set(stored)) if stored.get(key, 0) != journal.get(key, 0)]
        report["ok"] = report["conserved"] and not report["negative_accounts"] and not report["journal_mismatches"]
        return report


def statement_line(doc: Doc, account: str) -> Doc:
    """One transfer as a line of an account's statement: debits negative, credits positive."""
    outgoing = doc["debit"] == account
    amount = int(doc["amount"])
    reference = None
    if "purchase" in doc:
        reference = doc["purchase"].get("tip_id")
    elif "redemption" in doc:
        reference = doc["redemption"].get("item")
    return {"at": doc["created_at"], "transfer_id": doc["transfer_id"], "kind": doc["kind"], "state": doc["state"],
            "direction": "debit" if outgoing else "credit", "amount": amount,
            "signed_amount": -amount if outgoing else amount,
            "counterparty": doc["credit"] if outgoing else doc["debit"], "linked_group": doc.get("linked_group"),
            "hold_id": doc.get("hold_id"), "reference": reference, "note": doc.get("note"), "by": doc.get("by")}
