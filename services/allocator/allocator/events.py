"""Kafka subscribers and publishers of the allocator.

Consumes: leads.qualified.v1, leads.merged.v1, leads.stage-changed.v1, leads.complaint.v1, leads.signal.v1,
calls.logged.v1, agents.changed.v1, agents.status-changed.v1 (each in batches, its own consumer group).
Produces (from the leads' embedded outbox): allocation.assigned/claimed/returned/reclaimed/closed/won.v1,
allocation.reclaim-warning.v1, allocation.hot-lead.v1, leads.outcome.v1, leads.stage-changed.v1 (changes
made over HTTP). Produces (from the outbox collection): agents.graded.v1.
Produces (directly): platform.dead-lettered.v1 for records that cannot be processed.
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
    AGENTS_STATUS_CHANGED,
    ALLOCATION_HOT_LEAD,
    ALLOCATION_RECLAIM_WARNING,
    CALLS_LOGGED,
    DEAD_LETTERS,
    HOLDER_CHANGE_TOPICS,
    LEADS_COMPLAINT,
    LEADS_MERGED,
    LEADS_OUTCOME,
    LEADS_QUALIFIED,
    LEADS_SIGNAL,
    LEADS_STAGE_CHANGED,
    Topic,
)
from telesales_runtime.consumer import Delivery, consume_batch
from telesales_runtime.kafka import subscriber_options

from .roster import RosterService
from .service import LeadService
from .settings import AllocatorSettings

CONSUMED_TOPICS = (LEADS_QUALIFIED, LEADS_MERGED, LEADS_STAGE_CHANGED, LEADS_COMPLAINT, LEADS_SIGNAL, CALLS_LOGGED,
                   AGENTS_CHANGED, AGENTS_STATUS_CHANGED)
PRODUCED_TOPICS = (*HOLDER_CHANGE_TOPICS, ALLOCATION_RECLAIM_WARNING, ALLOCATION_HOT_LEAD, LEADS_OUTCOME,
                   LEADS_STAGE_CHANGED, AGENTS_GRADED, DEAD_LETTERS)

Handler = Callable[[LeadService, RosterService], Callable[[Sequence[Delivery]], Awaitable[Any]]]

# Which service method takes each consumed topic.
HANDLERS: dict[str, Handler] = {
    LEADS_QUALIFIED.name: lambda leads, roster: leads.handle_qualified,
    LEADS_MERGED.name: lambda leads, roster: leads.handle_merged,
    LEADS_STAGE_CHANGED.name: lambda leads, roster: leads.handle_stage_changes,
    LEADS_COMPLAINT.name: lambda leads, roster: leads.handle_complaints,
    LEADS_SIGNAL.name: lambda leads, roster: leads.handle_signals,
    CALLS_LOGGED.name: lambda leads, roster: leads.handle_calls,
    AGENTS_CHANGED.name: lambda leads, roster: roster.handle_changed,
    AGENTS_STATUS_CHANGED.name: lambda leads, roster: roster.handle_status,
}


def _consumed(topic: Topic) -> str:
    # Handlers take raw bytes (so broken messages can be dead-lettered); the document names the contract.
    return (f"{topic.description} Each message is a CloudEvent (structured JSON) of type {topic.event_type}; "
            f"schema: contracts/schemas/{topic.name}.json. Invalid messages go to {DEAD_LETTERS.name}.")


def build_router(settings: AllocatorSettings) -> KafkaRouter:
    router = KafkaRouter()
    # Declared once, for the AsyncAPI document; the relays and the dead-letter publisher send on them.
    for topic in PRODUCED_TOPICS:
        router.publisher(topic.name, title=f"{topic.name}:publish", description=topic.description,
                         schema=topic.event_model)
    for topic in CONSUMED_TOPICS:
        _subscribe(router, settings, topic)
    return router


def _subscribe(router: KafkaRouter, settings: AllocatorSettings, topic: Topic) -> None:
    # One consumer group per subscription: each topic's consumer joins and rebalances on its own.
    options = subscriber_options(settings, f"{settings.consumer_group}.{topic.name}")
    pick = HANDLERS[topic.name]

    async def on_batch(body: list[bytes], message: KafkaMessage, leads: LeadService = Context("leads"),
                       roster: RosterService = Context("roster")) -> None:
        await consume_batch(topic, message.raw_message, leads.dead_letters, pick(leads, roster))

    on_batch.__name__ = f"on_{topic.name.replace('.', '_').replace('-', '_')}"
    router.subscriber(topic.name, batch=True, max_records=settings.batch_max_records,
                      title=f"{topic.name}:consume", description=_consumed(topic), **options)(on_batch)
