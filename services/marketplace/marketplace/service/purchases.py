"""Buying a tip, a saga over the ledger's events: the request (HTTP) asks the ledger to pay through the
outbox; the ledger's answer (ledger.transfer-posted.v1 / ledger.transfer-rejected.v1) grants or refuses
the pending attempt. Each answer is handled once (the inbox)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client import Counter

from telesales_contracts.ledger import TransferPosted, TransferRejected
from telesales_contracts.marketplace import ActivityKind
from telesales_runtime.consumer import Delivery
from telesales_runtime.observability import MESSAGES_CONSUMED

from ..domain import Actor, DailyActive, Purchase, purchase_id, request_purchase, requested
from ..domain.purchases import FlagConflict, OpenPurchase
from ..domain.tips import CountOnTip
from ..store import Unit, WrittenMeanwhile
from .context import MarketplaceService, utcnow

log = logging.getLogger(__name__)

PURCHASES = Counter("marketplace_purchases_total", "Purchases by outcome (requested, granted, refused).",
                    ["outcome"])


@dataclass(frozen=True)
class Result:
    purchase: Purchase
    replayed: bool  # the purchase as it stood (pending or granted): nothing was asked of the ledger


async def buy(*, market: MarketplaceService, tenant: str, actor: Actor, tip_id: str) -> Result:
    """Ask the ledger to pay for the listed version: the purchase (pending) and the request
    (ledger.transfer-requested.v1, keyed by buyer) commit together. A pending or granted purchase is
    answered as it stands; a refused one is tried again under a new transfer id."""
    buyer = actor.user_id
    now = utcnow()

    async def work(unit: Unit) -> Result:
        tip = await unit.tip(tip_id)
        existing = await unit.purchase(purchase_id(buyer, tip_id))
        change = request_purchase(existing, tip, buyer, now)
        if change is None:
            assert existing is not None
            return Result(existing, True)
        if isinstance(change, OpenPurchase):
            await unit.open_purchase(change)
            purchase = change.purchase
        else:
            purchase = await unit.retry_purchase(change)
        unit.announce(*requested(purchase))
        await unit.daily_active(DailyActive.of(buyer, ActivityKind.PURCHASE, now, market.tz))
        return Result(purchase, False)

    try:
        result = await market.commit(tenant, work)
    except WrittenMeanwhile:  # a concurrent first request of the same buyer and tip won
        result = await market.commit(tenant, work)
    if not result.replayed:
        PURCHASES.labels("requested").inc()
    return result


Decide = Callable[[Unit, Purchase, Any, datetime], Awaitable[str]]  # the answer's data


async def _answered(market: MarketplaceService, tenant: str, delivery: Delivery, decide: Decide) -> str | None:
    """The purchase a ledger answer is about, decided on by `decide` when it is the pending attempt;
    the inbox entry records what came of the event (None: a concurrent consumer recorded it first)."""
    transfer_id = delivery.event.data.transfer_id
    now = utcnow()

    async def work(unit: Unit) -> str:
        purchase = await unit.purchase_by_transfer(transfer_id)
        if purchase is None:
            status = "unknown_transfer"  # not a purchase of this marketplace (or of another deployment)
        else:
            status = purchase.answered_status(transfer_id) or await decide(unit, purchase, delivery.event.data, now)
            if status == "earlier_attempt":
                log.error("ledger answered an earlier attempt of a purchase",
                          extra={"transfer_id": transfer_id, "purchase": purchase.purchase_id})
        await unit.record_answer(delivery.event.id, {"status": status, "transfer_id": transfer_id})
        return status

    status, written = await market.store.commit_consumed(tenant, market.settings.source, delivery.key, work)
    if written:
        market.notify_outbox()
    return status


async def _each_fresh(market: MarketplaceService, deliveries: Sequence[Delivery], topic: str, decide: Decide) -> None:
    """Each unprocessed delivery in one transaction with its inbox entry."""
    for tenant, fresh in (await market.store.inbox.unprocessed_by_tenant(deliveries)).items():
        for delivery in fresh:
            status = await _answered(market, tenant, delivery, decide) or "duplicate"
            MESSAGES_CONSUMED.labels(market.settings.service_name, topic, "processed").inc()
            log.debug("answer handled", extra={"topic": topic, "status": status})


async def _posted(unit: Unit, purchase: Purchase, posted: TransferPosted, now: datetime) -> str:
    change, event = purchase.grant(posted, now)
    if not await unit.grant(change):
        return "changed"
    await unit.count(CountOnTip(purchase.tip_id, {"sales": 1}))
    unit.announce(event)
    PURCHASES.labels("granted").inc()
    return "granted"


async def _rejected(unit: Unit, purchase: Purchase, rejected: TransferRejected, now: datetime) -> str:
    decision = purchase.refuse(rejected, now)
    if isinstance(decision, FlagConflict):
        await unit.flag_conflict(decision)
        log.error("ledger reports a transfer id conflict for a purchase", extra={"transfer_id": rejected.transfer_id})
        return "conflict"
    change, event = decision
    if not await unit.refuse(change):
        return "changed"
    unit.announce(event)
    PURCHASES.labels("refused").inc()
    return "refused"


async def handle_transfers_posted(deliveries: Sequence[Delivery], *, market: MarketplaceService) -> None:
    await _each_fresh(market, deliveries, "ledger.transfer-posted.v1", _posted)


async def handle_transfers_rejected(deliveries: Sequence[Delivery], *, market: MarketplaceService) -> None:
    await _each_fresh(market, deliveries, "ledger.transfer-rejected.v1", _rejected)
