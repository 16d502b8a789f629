"""Kafka subscribers of the console's live channel.

Consumes (consumer group `console`, in batches; offsets committed after the notifications are stored,
poison records dead-lettered): the allocator's, marketplace's and ledger's events that tell a user
something (notifications.SOURCE_TOPICS). Produces (directly): platform.dead-lettered.v1.
"""

from __future__ import annotations

from faststream import Context
from faststream.kafka import KafkaRouter
from faststream.kafka.annotations import KafkaMessage

from telesales_contracts.topics import DEAD_LETTERS, PRIVACY_ERASURE_COMPLETED
from telesales_runtime.consumer import consume_by_topic
from telesales_runtime.deadletter import DeadLetterPublisher
from telesales_runtime.kafka import consumed_description, declare_publishers, subscriber_options

from .feed import NotificationFeed
from .notifications import SOURCE_TOPICS
from .settings import ConsoleSettings

CONSUMED_TOPICS = SOURCE_TOPICS
PRODUCED_TOPICS = (DEAD_LETTERS, PRIVACY_ERASURE_COMPLETED)

# Names under which the wiring puts the feed and the dead-letter publisher in the broker's context
# (broker.context.set_global).
FEED_CONTEXT = "notification_feed"
DEAD_LETTERS_CONTEXT = "console_dead_letters"


def build_router(settings: ConsoleSettings) -> KafkaRouter:
    router = KafkaRouter()
    declare_publishers(router, PRODUCED_TOPICS)
    options = subscriber_options(settings, settings.consumer_group)

    async def on_batch(body: list[bytes], message: KafkaMessage, feed: NotificationFeed = Context(FEED_CONTEXT),
                       dead_letters: DeadLetterPublisher = Context(DEAD_LETTERS_CONTEXT)) -> None:
        await consume_by_topic(message.raw_message, CONSUMED_TOPICS, dead_letters,
                               lambda name: lambda deliveries: feed.handle(deliveries, topic=name))

    router.subscriber(*(t.name for t in CONSUMED_TOPICS), batch=True, max_records=settings.batch_max_records,
                      batch_timeout_ms=settings.batch_wait_ms, title="console:notifications",
                      description="; ".join(consumed_description(t) for t in CONSUMED_TOPICS), **options)(on_batch)
    return router
