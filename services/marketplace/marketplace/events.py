"""Kafka subscribers and publishers of the marketplace.

Consumes (one consumer group, `marketplace`, in batches): ledger.transfer-posted.v1 and
ledger.transfer-rejected.v1 (the ledger's answers to purchases), calls.logged.v1 (the struggle push: a call
that ends without progress at an objection; who called lately, for the rolling window's job). Produces (from the outbox collection,
written in the same transaction as each change): ledger.transfer-requested.v1 and the marketplace.* events.
Produces (directly): platform.dead-lettered.v1 for records that cannot be processed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any

from faststream import Context
from faststream.kafka import KafkaRouter
from faststream.kafka.annotations import KafkaMessage

from telesales_contracts.topics import (
    CALLS_LOGGED,
    DEAD_LETTERS,
    LEDGER_TRANSFER_POSTED,
    LEDGER_TRANSFER_REJECTED,
    LEDGER_TRANSFER_REQUESTED,
    MARKETPLACE_DAILY_ACTIVE,
    MARKETPLACE_DEEP_LEARNER_FLAGGED,
    MARKETPLACE_LEARN_PROGRESSED,
    MARKETPLACE_PURCHASE_COMPLETED,
    MARKETPLACE_PURCHASE_REFUSED,
    MARKETPLACE_PURCHASE_REQUESTED,
    MARKETPLACE_STRUGGLE_RECOMMENDED,
    MARKETPLACE_TIP_DELISTED,
    MARKETPLACE_TIP_FORWARDED,
    MARKETPLACE_TIP_LISTED,
    MARKETPLACE_TIP_RATED,
    MARKETPLACE_TIP_REVIEWED,
    MARKETPLACE_TIP_SUBMITTED,
    MARKETPLACE_TIP_VISITED,
    PRIVACY_ERASURE_COMPLETED,
)
from telesales_runtime.consumer import Delivery, consume_by_topic
from telesales_runtime.erasure import subscribe_erasures
from telesales_runtime.kafka import consumed_description, declare_publishers, subscriber_options

from .service import MarketplaceService, purchases, pushes
from .settings import MarketplaceSettings

CONSUMED_TOPICS = (LEDGER_TRANSFER_POSTED, LEDGER_TRANSFER_REJECTED, CALLS_LOGGED)
PRODUCED_TOPICS = (LEDGER_TRANSFER_REQUESTED, MARKETPLACE_TIP_SUBMITTED, MARKETPLACE_TIP_REVIEWED,
                   MARKETPLACE_TIP_LISTED, MARKETPLACE_TIP_DELISTED, MARKETPLACE_PURCHASE_REQUESTED,
                   MARKETPLACE_PURCHASE_COMPLETED, MARKETPLACE_PURCHASE_REFUSED, MARKETPLACE_TIP_VISITED,
                   MARKETPLACE_LEARN_PROGRESSED, MARKETPLACE_TIP_RATED, MARKETPLACE_TIP_FORWARDED,
                   MARKETPLACE_DAILY_ACTIVE, MARKETPLACE_DEEP_LEARNER_FLAGGED, MARKETPLACE_STRUGGLE_RECOMMENDED,
                   DEAD_LETTERS, PRIVACY_ERASURE_COMPLETED)

Handler = Callable[[MarketplaceService], Callable[[Sequence[Delivery]], Awaitable[Any]]]

HANDLERS: dict[str, Handler] = {
    LEDGER_TRANSFER_POSTED.name: lambda market: partial(purchases.handle_transfers_posted, market=market),
    LEDGER_TRANSFER_REJECTED.name: lambda market: partial(purchases.handle_transfers_rejected, market=market),
    CALLS_LOGGED.name: lambda market: partial(pushes.handle_calls, market=market),
}


def build_router(settings: MarketplaceSettings) -> KafkaRouter:
    router = KafkaRouter()
    declare_publishers(router, PRODUCED_TOPICS)
    # One consumer (one group) for the ledger's answers and the calls; offsets are committed only after a batch is stored
    # (NACK_ON_ERROR, see subscriber_options); poison records go to the dead-letter topic.
    options = subscriber_options(settings, settings.consumer_group)

    async def on_batch(body: list[bytes], message: KafkaMessage,
                       market: MarketplaceService = Context("marketplace")) -> None:
        await consume_by_topic(message.raw_message, CONSUMED_TOPICS, market.dead_letters,
                               lambda name: HANDLERS[name](market))

    router.subscriber(*(t.name for t in CONSUMED_TOPICS), batch=True, max_records=settings.batch_max_records,
                      title="marketplace:consume",
                      description="; ".join(consumed_description(t) for t in CONSUMED_TOPICS), **options)(on_batch)
    subscribe_erasures(router, settings, settings.consumer_group)
    return router
