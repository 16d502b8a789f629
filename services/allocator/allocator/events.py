"""Kafka subscribers and publishers of the allocator.

Consumes (one consumer group, `allocator`, in batches): leads.qualified.v1, leads.merged.v1, leads.do-not-call.v1,
agents.changed.v1,
agents.status-changed.v1, leads.stage-changed.v1, calls.logged.v1, leads.complaint.v1, leads.signal.v1,
leads.outcome.v1 (orders from a CRM or payment system confirm wins, lost ones reject unconfirmed wins; our own
outcomes are skipped).
Produces (from the leads' embedded outbox): allocation.assigned/claimed/returned/reclaimed/closed/won.v1,
allocation.reclaim-warning.v1, allocation.hot-lead.v1, allocation.deal-mark-requested/decided.v1,
allocation.win-confirmed/win-rejected.v1, leads.outcome.v1 (a close; a win its supervisor confirmed),
leads.stage-changed.v1 (changes
made over HTTP). Produces (from the outbox collection): agents.graded.v1, security.unmask-budget-exceeded.v1.
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
    ALLOCATION_DEAL_MARK_DECIDED,
    ALLOCATION_DEAL_MARK_REQUESTED,
    ALLOCATION_HOT_LEAD,
    ALLOCATION_RECLAIM_WARNING,
    ALLOCATION_WIN_CONFIRMED,
    ALLOCATION_WIN_REJECTED,
    CALLS_LOGGED,
    DEAD_LETTERS,
    HOLDER_CHANGE_TOPICS,
    LEADS_COMPLAINT,
    LEADS_CONSENT_CHANGED,
    LEADS_DO_NOT_CALL,
    LEADS_MERGED,
    LEADS_OUTCOME,
    LEADS_QUALIFIED,
    LEADS_SIGNAL,
    LEADS_STAGE_CHANGED,
    PRIVACY_ERASURE_COMPLETED,
    PRIVACY_ERASURE_REQUESTED,
    SECURITY_UNMASK_BUDGET_EXCEEDED,
)
from telesales_runtime.consumer import Delivery, consume_by_topic
from telesales_runtime.erasure import subscribe_erasures
from telesales_runtime.kafka import consumed_description, declare_publishers, subscriber_options

from .roster import RosterService
from .service import LeadService
from .settings import AllocatorSettings

# leads.do-not-call.v1 right after the leads arrive: a lead of the same batch is closed before any activity on it
CONSUMED_TOPICS = (LEADS_QUALIFIED, LEADS_MERGED, LEADS_CONSENT_CHANGED, LEADS_DO_NOT_CALL, AGENTS_CHANGED, AGENTS_STATUS_CHANGED,
                   LEADS_STAGE_CHANGED, CALLS_LOGGED, LEADS_COMPLAINT, LEADS_SIGNAL, LEADS_OUTCOME)
PRODUCED_TOPICS = (*HOLDER_CHANGE_TOPICS, ALLOCATION_RECLAIM_WARNING, ALLOCATION_HOT_LEAD, ALLOCATION_DEAL_MARK_REQUESTED,
                   ALLOCATION_DEAL_MARK_DECIDED, ALLOCATION_WIN_CONFIRMED, ALLOCATION_WIN_REJECTED, LEADS_OUTCOME,
                   LEADS_STAGE_CHANGED, AGENTS_GRADED, DEAD_LETTERS, SECURITY_UNMASK_BUDGET_EXCEEDED,
                   PRIVACY_ERASURE_REQUESTED, PRIVACY_ERASURE_COMPLETED)

Handler = Callable[[LeadService, RosterService], Callable[[Sequence[Delivery]], Awaitable[Any]]]

# Which service method takes each consumed topic.
HANDLERS: dict[str, Handler] = {
    LEADS_QUALIFIED.name: lambda leads, roster: leads.handle_qualified,
    LEADS_MERGED.name: lambda leads, roster: leads.handle_merged,
    LEADS_CONSENT_CHANGED.name: lambda leads, roster: leads.handle_consent_changed,
    LEADS_STAGE_CHANGED.name: lambda leads, roster: leads.handle_stage_changes,
    LEADS_COMPLAINT.name: lambda leads, roster: leads.handle_complaints,
    LEADS_DO_NOT_CALL.name: lambda leads, roster: leads.handle_do_not_call,
    LEADS_SIGNAL.name: lambda leads, roster: leads.handle_signals,
    CALLS_LOGGED.name: lambda leads, roster: leads.handle_calls,
    LEADS_OUTCOME.name: lambda leads, roster: leads.handle_outcomes,
    AGENTS_CHANGED.name: lambda leads, roster: roster.handle_changed,
    AGENTS_STATUS_CHANGED.name: lambda leads, roster: roster.handle_status,
}


def build_router(settings: AllocatorSettings) -> KafkaRouter:
    router = KafkaRouter()
    declare_publishers(router, PRODUCED_TOPICS)
    # One consumer (one group) for every consumed topic: a batch holds the records of several topics, applied
    # in CONSUMED_TOPICS order, and the service waits for one group assignment at start, not eight in a row.
    options = subscriber_options(settings, settings.consumer_group)

    async def on_batch(body: list[bytes], message: KafkaMessage, leads: LeadService = Context("leads"),
                       roster: RosterService = Context("roster")) -> None:
        # In the order of CONSUMED_TOPICS: a lead is created before the activity on it in the same batch.
        await consume_by_topic(message.raw_message, CONSUMED_TOPICS, leads.dead_letters,
                               lambda name: HANDLERS[name](leads, roster))

    router.subscriber(*(t.name for t in CONSUMED_TOPICS), batch=True, max_records=settings.batch_max_records,
                      batch_timeout_ms=settings.batch_wait_ms, title="allocator:consume",
                      description="; ".join(consumed_description(t) for t in CONSUMED_TOPICS), **options)(on_batch)
    subscribe_erasures(router, settings, settings.consumer_group)
    return router
