"""Kafka subscribers and publishers of lead-intake.

Consumes: leads.received.v1 (batches), leads.outcome.v1, leads.complaint.v1 (the number goes on do-not-call).
Produces (through the outbox): leads.qualified.v1, leads.merged.v1, leads.rejected.v1, leads.do-not-call.v1 (a number
went on or came off the do-not-call list).
Consumes and produces privacy.erasure-requested.v1 and privacy.erasure-completed.v1 (erasure.py).
Produces (directly): platform.dead-lettered.v1 for records that cannot be processed.
"""

from __future__ import annotations

from faststream import Context
from faststream.kafka import KafkaRouter
from faststream.kafka.annotations import KafkaMessage

from telesales_contracts.topics import (
    DEAD_LETTERS,
    LEADS_COMPLAINT,
    LEADS_CONSENT_CHANGED,
    LEADS_DO_NOT_CALL,
    LEADS_MERGED,
    LEADS_OUTCOME,
    LEADS_QUALIFIED,
    LEADS_RECEIVED,
    LEADS_REJECTED,
    PRIVACY_ERASURE_COMPLETED,
    PRIVACY_ERASURE_REQUESTED,
)
from telesales_runtime.consumer import consume_batch
from telesales_runtime.erasure import subscribe_erasures
from telesales_runtime.kafka import consumed_description, declare_publishers, subscriber_options

from .erasure import subscribe_completions
from .service import IntakeService
from .settings import LeadIntakeSettings

CONSUMED_TOPICS = (LEADS_RECEIVED, LEADS_OUTCOME, LEADS_COMPLAINT)
PRODUCED_TOPICS = (LEADS_QUALIFIED, LEADS_MERGED, LEADS_CONSENT_CHANGED, LEADS_REJECTED, LEADS_DO_NOT_CALL,
                   DEAD_LETTERS, PRIVACY_ERASURE_REQUESTED, PRIVACY_ERASURE_COMPLETED)


def build_router(settings: LeadIntakeSettings) -> KafkaRouter:
    router = KafkaRouter()
    # One consumer group per subscription: each topic's consumer joins and rebalances on its own.
    received_options = subscriber_options(settings, f"{settings.consumer_group}.{LEADS_RECEIVED.name}")
    outcome_options = subscriber_options(settings, f"{settings.consumer_group}.{LEADS_OUTCOME.name}")
    complaint_options = subscriber_options(settings, f"{settings.consumer_group}.{LEADS_COMPLAINT.name}")

    declare_publishers(router, PRODUCED_TOPICS)

    async def on_leads_received(body: list[bytes], message: KafkaMessage,
                                intake: IntakeService = Context("intake")) -> None:
        await consume_batch(LEADS_RECEIVED, message.raw_message, intake.dead_letters, intake.handle_received)

    for number in range(settings.consumers):
        # Several consumers of one group in one process: the event loop works on one batch while
        # another waits for the database. Only the first is listed in the AsyncAPI document.
        router.subscriber(LEADS_RECEIVED.name, batch=True, max_records=settings.batch_max_records,
                          batch_timeout_ms=settings.batch_wait_ms,
                          title=f"{LEADS_RECEIVED.name}:consume", description=consumed_description(LEADS_RECEIVED),
                          include_in_schema=number == 0, **received_options)(on_leads_received)

    @router.subscriber(LEADS_OUTCOME.name, batch=True, max_records=500,
                       title=f"{LEADS_OUTCOME.name}:consume", description=consumed_description(LEADS_OUTCOME),
                       **outcome_options)
    async def on_lead_outcome(body: list[bytes], message: KafkaMessage,
                              intake: IntakeService = Context("intake")) -> None:
        await consume_batch(LEADS_OUTCOME, message.raw_message, intake.dead_letters, intake.handle_outcomes)

    @router.subscriber(LEADS_COMPLAINT.name, batch=True, max_records=500,
                       title=f"{LEADS_COMPLAINT.name}:consume", description=consumed_description(LEADS_COMPLAINT),
                       **complaint_options)
    async def on_lead_complaint(body: list[bytes], message: KafkaMessage,
                                intake: IntakeService = Context("intake")) -> None:
        await consume_batch(LEADS_COMPLAINT, message.raw_message, intake.dead_letters, intake.handle_complaints)

    subscribe_erasures(router, settings, settings.consumer_group)
    subscribe_completions(router, settings)
    return router
