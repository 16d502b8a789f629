"""Purchases from the marketplace (ledger.transfer-requested.v1): a batch of one tenant decided by the
domain in one transaction with its transfers, balances, daily counters, answers (outbox) and processed
event ids (inbox)."""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import Counter as MetricCounter

from telesales_contracts.topics import LEDGER_TRANSFER_POSTED, LEDGER_TRANSFER_REJECTED
from telesales_runtime.consumer import Delivery
from telesales_runtime.observability import MESSAGES_CONSUMED

from .. import domain
from ..domain import BUDGET, Changes, Processed, PurchaseDecision, PurchaseRequest, earnings, escrow, wallet
from ..store import AlreadyWritten, Doc, Session
from .core import LedgerCore, utcnow

PURCHASES = MetricCounter("ledger_purchases_total", "Purchase requests decided, by outcome and reason.", ["outcome", "reason"])


async def handle_transfer_requests(*, ledger: LedgerCore, deliveries: Sequence[Delivery]) -> None:
    """Each tenant's requests in one transaction, which also leaves out the ones processed before (inbox).
    When another consumer processed some of them meanwhile (a rebalance hands a partition over while its
    batch is still being written), the transaction fails on the inbox's unique id and runs once more: it
    then reads them as processed."""
    by_tenant: dict[str, list[Delivery]] = {}
    for delivery in deliveries:
        by_tenant.setdefault(delivery.event.tenantid, []).append(delivery)
    for tenant, items in by_tenant.items():
        try:
            await purchase_batch(ledger=ledger, tenant=tenant, deliveries=items)
        except AlreadyWritten:
            await purchase_batch(ledger=ledger, tenant=tenant, deliveries=items)


async def purchase_batch(*, ledger: LedgerCore, tenant: str, deliveries: Sequence[Delivery]) -> list[PurchaseDecision]:
    """Decide a batch of purchase requests of one tenant in one transaction: the transfers, balances,
    daily counters, answers (outbox) and processed event ids (inbox) commit together. Requests whose event
    id this consumer processed before (its inbox, read in the same transaction) are left out: no second
    effect, no second answer. The decisions of the others, in order."""
    policy = await ledger.policy(tenant)
    requests = [PurchaseRequest(event_id=d.event.id, transfer_id=d.event.data.transfer_id,
                                buyer_id=d.event.data.buyer_id, seller_id=d.event.data.seller_id,
                                tip_id=d.event.data.tip_id, price=d.event.data.price,
                                day=domain.business_day(d.event.time, ledger.tz)) for d in deliveries]
    sources = {d.event.id: d.event.source for d in deliveries}

    async def build(session: Session) -> tuple[Changes, list[PurchaseDecision]]:
        now = utcnow()
        reads = await ledger.store.purchase_reads(tenant, requests, session)  # one round trip
        fresh = [r for r in requests if r.event_id not in reads.processed]
        prints = {tid: doc.get("fingerprint", "") for tid, doc in reads.transfers.items()}
        balances = reads.balances
        decisions = domain.decide_purchases(fresh, prints, balances, reads.counters, policy)
        changes = Changes(tenant, now, balances)
        _record_decisions(ledger, changes, decisions, reads.transfers, sources=sources)
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
                      prior: dict[str, Doc], *, sources: dict[str, str]) -> None:
    """The transfers, answers, daily counters and processed event ids of decided purchases (spending does not
    move a wallet's idle clock: learning does, 不学回收)."""
    tenant, now = changes.tenant, changes.now
    first: dict[str, Doc] = dict(prior)  # the record each answer is given from
    for decision in decisions:
        r = decision.request
        if decision.outcome == "posted":
            transfers = domain.purchase_transfers(decision, now=now, by=sources[r.event_id])
            changes.transfers += transfers
            first[r.transfer_id] = transfers[0].record()
        elif decision.outcome == "rejected":
            rejection = domain.RejectedPurchase(decision, now, sources[r.event_id])
            changes.transfers.append(rejection)
            first[r.transfer_id] = rejection.record()
        if decision.outcome == "conflict":  # the first decision stands; this request is answered on its own
            row = ledger.trusted_row(LEDGER_TRANSFER_REJECTED, domain.conflict_answer(decision, now), tenant,
                                     r.buyer_id, r.transfer_id)
        else:
            row = _answer_row(ledger, tenant, first[r.transfer_id], r, repeat=decision.outcome == "repeat")
        changes.outbox.append(row)
        changes.inbox.append(Processed(r.event_id, {"status": decision.outcome, "transfer_id": r.transfer_id}))
    changes.counters = domain.counter_increments(decisions)


def _answer_row(ledger: LedgerCore, tenant: str, first: Doc, request: PurchaseRequest, *, repeat: bool) -> Doc:
    """The answer to a purchase request, from the record of its (first) decision. Encoded without validating
    it again (`trusted_row`: the hot path; the tests parse every answer)."""
    posted, data = domain.answer(first, request, repeat=repeat)
    topic = LEDGER_TRANSFER_POSTED if posted else LEDGER_TRANSFER_REJECTED
    return ledger.trusted_row(topic, data, tenant, data["buyer_id"], first["transfer_id"])
