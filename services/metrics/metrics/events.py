"""Kafka subscribers and publishers of metrics.

Consumes (one consumer group, `metrics`, in batches of every topic together): the roster
(agents.changed.v1, agents.graded.v1), the leads (leads.qualified/merged/rejected/outcome/stage-changed/
complaint/signal.v1), calls (calls.logged.v1), every change of a lead's holder and the allocator's alerts
(allocation.*.v1), the ledger's coin events (ledger.transfer-posted/rejected, coins-allocated/reclaimed/
redeemed, bonus-awarded, transfer-recorded, reallocation-decided.v1), every marketplace event
(marketplace.*.v1) and the platform's dead letters (platform.dead-lettered.v1). A batch is counted in one
MongoDB transaction with the ids of its events.
Produces (directly): platform.dead-lettered.v1 for records that cannot be processed.
"""

from __future__ import annotations

from faststream import Context
from faststream.kafka import KafkaRouter
from faststream.kafka.annotations import KafkaMessage

from telesales_contracts import topics as t
from telesales_runtime.consumer import consume_together
from telesales_runtime.kafka import consumed_description, declare_publishers, subscriber_options

from .domain import READ_FIELDS
from .service import MetricsService
from .settings import MetricsSettings

# The roster first and the leads before what happens to them; within a batch the events are applied in
# the order of their own times anyway.
CONSUMED_TOPICS: tuple[t.Topic, ...] = (
    t.AGENTS_CHANGED, t.AGENTS_GRADED,
    t.LEADS_QUALIFIED, t.LEADS_REJECTED, t.LEADS_MERGED, *t.HOLDER_CHANGE_TOPICS, t.CALLS_LOGGED,
    t.LEADS_STAGE_CHANGED, t.LEADS_OUTCOME, t.LEADS_COMPLAINT, t.LEADS_SIGNAL,
    t.ALLOCATION_RECLAIM_WARNING, t.ALLOCATION_HOT_LEAD,
    t.LEDGER_TRANSFER_POSTED, t.LEDGER_TRANSFER_REJECTED, t.LEDGER_COINS_ALLOCATED, t.LEDGER_COINS_RECLAIMED,
    t.LEDGER_COINS_REDEEMED, t.LEDGER_BONUS_AWARDED, t.LEDGER_TRANSFER_RECORDED, t.LEDGER_REALLOCATION_DECIDED,
    t.MARKETPLACE_TIP_SUBMITTED, t.MARKETPLACE_TIP_REVIEWED, t.MARKETPLACE_TIP_LISTED, t.MARKETPLACE_TIP_DELISTED,
    t.MARKETPLACE_PURCHASE_REQUESTED, t.MARKETPLACE_PURCHASE_COMPLETED, t.MARKETPLACE_PURCHASE_REFUSED,
    t.MARKETPLACE_TIP_VISITED, t.MARKETPLACE_LEARN_PROGRESSED, t.MARKETPLACE_TIP_RATED, t.MARKETPLACE_TIP_FORWARDED,
    t.MARKETPLACE_DAILY_ACTIVE, t.MARKETPLACE_DEEP_LEARNER_FLAGGED, t.MARKETPLACE_STRUGGLE_RECOMMENDED,
    t.DEAD_LETTERS,
)
PRODUCED_TOPICS: tuple[t.Topic, ...] = (t.DEAD_LETTERS,)
# What the consumer parses of each topic: the fields the counting rules read (domain.READ_FIELDS).
READINGS: tuple[t.TopicReading, ...] = tuple(topic.reading(frozenset(READ_FIELDS[topic.name]))
                                              for topic in CONSUMED_TOPICS)


def build_router(settings: MetricsSettings) -> KafkaRouter:
    router = KafkaRouter()
    declare_publishers(router, PRODUCED_TOPICS)
    # One consumer (one group) for every consumed topic, and one transaction per batch for all of them.
    # Offsets are committed only after a batch is stored (NACK_ON_ERROR, see subscriber_options); poison
    # records go to the dead-letter topic. Each record is
    # validated by what the rules read of its contract (READINGS).
    options = subscriber_options(settings, settings.consumer_group)

    async def on_batch(body: list[bytes], message: KafkaMessage, metrics: MetricsService = Context("metrics")) -> None:
        await consume_together(message.raw_message, READINGS, metrics.dead_letters, metrics.handle)

    router.subscriber(*(topic.name for topic in CONSUMED_TOPICS), batch=True, max_records=settings.batch_max_records,
                      title="metrics:consume",
                      description="; ".join(consumed_description(topic) for topic in CONSUMED_TOPICS),
                      **options)(on_batch)
    return router
