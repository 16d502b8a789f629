"""Kafka subscribers and publishers of the ledger.

Consumes (one consumer group, `ledger`, in batches): agents.changed.v1 and agents.graded.v1 (the roster,
for allocations by role and grade), ledger.transfer-requested.v1 (purchases from the marketplace),
marketplace.learn-progressed.v1 (learning keeps a wallet's coins: 不学回收).
Produces (from the outbox collection, written in the same transaction as each change):
ledger.transfer-posted.v1, ledger.transfer-rejected.v1, ledger.coins-allocated.v1,
ledger.coins-reclaimed.v1, ledger.coins-redeemed.v1, ledger.bonus-awarded.v1, ledger.transfer-recorded.v1,
ledger.reallocation-awaiting.v1, ledger.reallocation-decided.v1. Produces (directly): platform.dead-lettered.v1 for records that cannot
be processed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from faststream import Context
from faststream.kafka import KafkaRouter
from faststream.kafka.annotations import KafkaMessage

from telesales_contracts.topics import (
    AGENTS_CHANGED,
    AGENTS_GRADED,
    DEAD_LETTERS,
    LEDGER_BONUS_AWARDED,
    LEDGER_COINS_ALLOCATED,
    LEDGER_COINS_RECLAIMED,
    LEDGER_COINS_REDEEMED,
    LEDGER_REALLOCATION_AWAITING,
    LEDGER_REALLOCATION_DECIDED,
    LEDGER_TRANSFER_POSTED,
    LEDGER_TRANSFER_RECORDED,
    LEDGER_TRANSFER_REJECTED,
    LEDGER_TRANSFER_REQUESTED,
    MARKETPLACE_LEARN_PROGRESSED,
    PRIVACY_ERASURE_COMPLETED,
)
from telesales_runtime.consumer import Delivery, consume_by_topic
from telesales_runtime.erasure import subscribe_erasures
from telesales_runtime.kafka import consumed_description, declare_publishers, subscriber_options, topped_up

from .service import LedgerService
from .settings import LedgerSettings

# In this order within a batch: the roster first, so an allocation sees it (purchases do not need it).
CONSUMED_TOPICS = (AGENTS_CHANGED, AGENTS_GRADED, LEDGER_TRANSFER_REQUESTED, MARKETPLACE_LEARN_PROGRESSED)
PRODUCED_TOPICS = (LEDGER_TRANSFER_POSTED, LEDGER_TRANSFER_REJECTED, LEDGER_COINS_ALLOCATED, LEDGER_COINS_RECLAIMED,
                   LEDGER_COINS_REDEEMED, LEDGER_BONUS_AWARDED, LEDGER_TRANSFER_RECORDED, LEDGER_REALLOCATION_DECIDED,
                   LEDGER_REALLOCATION_AWAITING, DEAD_LETTERS, PRIVACY_ERASURE_COMPLETED)

Handler = Callable[[LedgerService], Callable[[Sequence[Delivery]], Awaitable[Any]]]

# Which service method takes each consumed topic.
HANDLERS: dict[str, Handler] = {
    AGENTS_CHANGED.name: lambda ledger: lambda deliveries: ledger.handle_agents_changed(deliveries=deliveries),
    AGENTS_GRADED.name: lambda ledger: lambda deliveries: ledger.handle_agents_graded(deliveries=deliveries),
    LEDGER_TRANSFER_REQUESTED.name: lambda ledger: lambda deliveries: ledger.handle_transfer_requests(
        deliveries=deliveries),
    MARKETPLACE_LEARN_PROGRESSED.name: lambda ledger: lambda deliveries: ledger.handle_learn_progressed(
        deliveries=deliveries),
}


def build_router(settings: LedgerSettings) -> KafkaRouter:
    router = KafkaRouter()
    declare_publishers(router, PRODUCED_TOPICS)
    # One consumer (one group) for every consumed topic: one group assignment to wait for at start, one
    # rebalance when a replica comes or goes. Offsets are committed only after a batch is stored (NACK_ON_ERROR, see subscriber_options).
    options = subscriber_options(settings, settings.consumer_group)

    async def on_batch(body: list[bytes], message: KafkaMessage, ledger: LedgerService = Context("ledger")) -> None:
        # What arrived while the previous batch was handled joins this one (topped_up), instead of waiting
        # in the broker for a whole batch more.
        async with topped_up(message, settings.batch_max_records, wait_ms=settings.batch_top_up_ms,
                             stale_wait_ms=settings.batch_top_up_stale_ms) as records:
            await consume_by_topic(records, CONSUMED_TOPICS, ledger.dead_letters, lambda name: HANDLERS[name](ledger))

    router.subscriber(*(t.name for t in CONSUMED_TOPICS), batch=True, max_records=settings.batch_max_records,
                      title="ledger:consume", description="; ".join(consumed_description(t) for t in CONSUMED_TOPICS),
                      **options)(on_batch)
    subscribe_erasures(router, settings, settings.consumer_group)
    return router
