"""Purchases from the marketplace (ledger.transfer-requested.v1): a batch of one tenant decided by the
domain in one transaction with its transfers, balances, daily counters, answers (outbox) and processed
event ids (inbox)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from prometheus_client import Counter as MetricCounter
from pymongo import UpdateOne

from telesales_contracts.topics import LEDGER_TRANSFER_POSTED, LEDGER_TRANSFER_REJECTED
from telesales_runtime.consumer import Delivery
from telesales_runtime.observability import MESSAGES_CONSUMED

from .. import domain
from ..domain import BUDGET, PurchaseDecision, PurchaseRequest, earnings, escrow, wallet
from ..store import REJECTED, Changes, Doc, Session, buyer_counter_id, counter_expiry, pair_counter_id, scoped
from .core import LedgerCore, transfer_doc, utcnow

PURCHASES = MetricCounter("ledger_purchases_total", "Purchase requests decided, by outcome and reason.", ["outcome", "reason"])


async def handle_transfer_requests(*, ledger: LedgerCore, deliveries: Sequence[Delivery]) -> None:
    await ledger.per_tenant(deliveries, lambda tenant, fresh: purchase_batch(ledger=ledger, tenant=tenant,
                                                                             deliveries=fresh))


async def purchase_batch(*, ledger: LedgerCore, tenant: str, deliveries: Sequence[Delivery]) -> list[PurchaseDecision]:
    """Decide a batch of purchase requests of one tenant in one transaction: the transfers, balances,
    daily counters, answers (outbox) and processed event ids (inbox) commit together."""
    policy = await ledger.policy(tenant)
    requests = [PurchaseRequest(event_id=d.event.id, transfer_id=d.event.data.transfer_id,
                                buyer_id=d.event.data.buyer_id, seller_id=d.event.data.seller_id,
                                tip_id=d.event.data.tip_id, price=d.event.data.price,
                                day=domain.business_day(d.event.time, ledger.tz)) for d in deliveries]
    requested_at = {d.event.id: min(d.event.time, utcnow()) for d in deliveries}
    sources = {d.event.id: d.event.source for d in deliveries}

    async def build(session: Session) -> tuple[Changes, list[PurchaseDecision]]:
        now = utcnow()
        prior_docs = await ledger.store.transfers_by_id(tenant, [r.transfer_id for r in requests], session)
        balances = await ledger.store.balances(tenant, [wallet(r.buyer_id) for r in requests], session)
        counters = await ledger.store.daily_counters(
            tenant, [(r.day, r.buyer_id) for r in requests], [(r.day, r.buyer_id, r.seller_id) for r in requests],
            session)
        prior = {tid: doc.get("fingerprint", "") for tid, doc in prior_docs.items()}
        decisions = domain.decide_purchases(requests, prior, balances, counters, policy)
        changes = Changes(tenant, now, balances)
        _record_decisions(ledger, changes, decisions, prior_docs, requested_at=requested_at, sources=sources)
        return changes, decisions

    accounts = {BUDGET}
    for r in requests:
        accounts.update((wallet(r.buyer_id), escrow(wallet(r.buyer_id)), earnings(r.seller_id)))
    decisions = await ledger.commit(build, accounts)
    for decision in decisions:
        PURCHASES.labels(decision.outcome, decision.reason.value if decision.reason else "").inc()
    MESSAGES_CONSUMED.labels(ledger.settings.service_name, "ledger.transfer-requested.v1", "processed").inc(
        len(decisions))
    return decisions


def _record_decisions(ledger: LedgerCore, changes: Changes, decisions: Sequence[PurchaseDecision],
                      prior_docs: dict[str, Doc], *, requested_at: dict[str, datetime], sources: dict[str, str]) -> None:
    """The transfers, answers, buyers' activity, daily counters and inbox entries of decided purchases."""
    tenant, now = changes.tenant, changes.now
    first: dict[str, Doc] = dict(prior_docs)
    buyer_counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    pair_counts: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for decision in decisions:
        r = decision.request
        if decision.outcome == "posted":
            docs = _purchase_docs(tenant, decision, now, sources[r.event_id])
            changes.transfers += docs
            first[r.transfer_id] = docs[0]
            changes.outbox.append(_answer_row(ledger, tenant, docs[0], r, repeat=False))
            at = requested_at[r.event_id]
            changes.activity[wallet(r.buyer_id)] = max(changes.activity.get(wallet(r.buyer_id), at), at)
            b, p = buyer_counts[(r.day, r.buyer_id)], pair_counts[(r.day, r.buyer_id, r.seller_id)]
            b[0], b[1], p[0], p[1] = b[0] + 1, b[1] + r.price, p[0] + 1, p[1] + r.price
        elif decision.outcome == "rejected":
            doc = _rejected_doc(tenant, decision, now, sources[r.event_id])
            changes.transfers.append(doc)
            first[r.transfer_id] = doc
            changes.outbox.append(_answer_row(ledger, tenant, doc, r, repeat=False))
        elif decision.outcome == "repeat":
            changes.outbox.append(_answer_row(ledger, tenant, first[r.transfer_id], r, repeat=True))
        else:  # conflict: the first decision stands; this request is answered on its own
            changes.outbox.append(_conflict_row(ledger, tenant, decision, now))
        changes.inbox.append(ledger.store.inbox.entry(tenant, r.event_id, {
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


def _purchase_docs(tenant: str, decision: PurchaseDecision, now: datetime, by: str) -> list[Doc]:
    r = decision.request
    buyer, hold = wallet(r.buyer_id), escrow(wallet(r.buyer_id))
    purchase = {"buyer_id": r.buyer_id, "seller_id": r.seller_id, "tip_id": r.tip_id, "price": r.price,
                "seller_amount": decision.seller_amount, "platform_amount": decision.platform_amount,
                "buyer_balance": decision.buyer_balance, "day": r.day, "request_event_id": r.event_id}
    docs = [transfer_doc(tenant, r.transfer_id, kind="purchase", debit=buyer, credit=hold, amount=r.price,
                         now=now, by=by, linked_group=r.transfer_id, fingerprint=r.fingerprint,
                         target=earnings(r.seller_id), held_at=now, purchase=purchase)]
    if decision.seller_amount:
        docs.append(transfer_doc(tenant, f"{r.transfer_id}/sale", kind="sale", debit=hold,
                                 credit=earnings(r.seller_id), amount=decision.seller_amount, now=now, by=by,
                                 linked_group=r.transfer_id, hold_id=r.transfer_id))
    if decision.platform_amount:
        docs.append(transfer_doc(tenant, f"{r.transfer_id}/fee", kind="fee", debit=hold, credit=BUDGET,
                                 amount=decision.platform_amount, now=now, by=by,
                                 linked_group=r.transfer_id, hold_id=r.transfer_id))
    return docs


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


def _answer_row(ledger: LedgerCore, tenant: str, doc: Doc, request: PurchaseRequest, *, repeat: bool) -> Doc:
    """The answer to a purchase request, from its (first) decision."""
    p = doc["purchase"]
    base = {"transfer_id": doc["transfer_id"], "buyer_id": p["buyer_id"], "seller_id": p["seller_id"],
            "tip_id": p["tip_id"], "price": p["price"], "request_event_id": request.event_id, "repeat": repeat}
    if doc["state"] == REJECTED:
        data = base | {"reason": p["reason"], "limit": p["limit"], "limit_value": p["limit_value"],
                       "message": p["message"], "rejected_at": doc["created_at"]}
        return ledger.trusted_row(LEDGER_TRANSFER_REJECTED, data, tenant, p["buyer_id"], doc["transfer_id"])
    data = base | {"seller_amount": p["seller_amount"], "platform_amount": p["platform_amount"],
                   "buyer_balance": p["buyer_balance"], "day": p["day"], "posted_at": doc["posted_at"]}
    return ledger.trusted_row(LEDGER_TRANSFER_POSTED, data, tenant, p["buyer_id"], doc["transfer_id"])


def _conflict_row(ledger: LedgerCore, tenant: str, decision: PurchaseDecision, now: datetime) -> Doc:
    r = decision.request
    assert decision.reason is not None
    data = {"transfer_id": r.transfer_id, "buyer_id": r.buyer_id, "seller_id": r.seller_id, "tip_id": r.tip_id,
            "price": r.price, "request_event_id": r.event_id, "repeat": False, "reason": decision.reason.value,
            "limit": None, "limit_value": None, "message": decision.message, "rejected_at": now}
    return ledger.trusted_row(LEDGER_TRANSFER_REJECTED, data, tenant, r.buyer_id, r.transfer_id)
