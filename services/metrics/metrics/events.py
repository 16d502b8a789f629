"""Kafka consumption and publishing of metrics.

Consumes, as the sole consumer of its group (one replica at a time reads every partition, see
metrics.sole_consumer; the others stand by and serve the HTTP API): the roster (agents.changed.v1,
agents.graded.v1), the leads (leads.qualified/merged/rejected/outcome/stage-changed/complaint/signal/do-not-call.v1),
calls (calls.logged.v1), every change of a lead's holder and the allocator's alerts (allocation.*.v1), the
ledger's coin events (ledger.transfer-posted/rejected, coins-allocated/reclaimed/redeemed, bonus-awarded,
transfer-recorded, reallocation-decided.v1), every marketplace event (marketplace.*.v1) and the platform's
dead letters (platform.dead-lettered.v1). Events are counted in memory and checkpointed with the offsets
consumed, in one MongoDB transaction each (service.MetricsService).
Produces (directly): platform.dead-lettered.v1 for records that cannot be processed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from faststream.kafka import KafkaRouter

from telesales_contracts import topics as t
from telesales_contracts.binding import has_attribute_headers
from telesales_runtime.consumer import ALL_TOPICS_LABEL, Delivery, parse_together
from telesales_runtime.deadletter import DeadLetterPublisher
from telesales_runtime.erasure import subscribe_erasures
from telesales_runtime.kafka import consumed_description, declare_publishers
from telesales_runtime.observability import HANDLER_DURATION

from .domain import EVENT_TIME, READ_FIELDS, FactFailed
from .service import MetricsService
from .settings import MetricsSettings
from .sole_consumer import Position, Rewind

# The roster first and the leads before what happens to them; within a batch the events are applied in
# the order of their own times anyway.
CONSUMED_TOPICS: tuple[t.Topic, ...] = (
    t.AGENTS_CHANGED, t.AGENTS_GRADED,
    t.LEADS_QUALIFIED, t.LEADS_REJECTED, t.LEADS_MERGED, *t.HOLDER_CHANGE_TOPICS, t.ALLOCATION_WIN_CONFIRMED,
    t.ALLOCATION_WIN_REJECTED, t.CALLS_LOGGED,
    t.LEADS_STAGE_CHANGED, t.LEADS_COMPLAINT, t.LEADS_SIGNAL, t.LEADS_DO_NOT_CALL,
    t.ALLOCATION_RECLAIM_WARNING, t.ALLOCATION_HOT_LEAD,
    t.LEDGER_TRANSFER_POSTED, t.LEDGER_TRANSFER_REJECTED, t.LEDGER_COINS_ALLOCATED, t.LEDGER_COINS_RECLAIMED,
    t.LEDGER_COINS_REDEEMED, t.LEDGER_BONUS_AWARDED, t.LEDGER_TRANSFER_RECORDED, t.LEDGER_REALLOCATION_DECIDED,
    t.MARKETPLACE_TIP_SUBMITTED, t.MARKETPLACE_TIP_REVIEWED, t.MARKETPLACE_TIP_LISTED, t.MARKETPLACE_TIP_DELISTED,
    t.MARKETPLACE_PURCHASE_REQUESTED, t.MARKETPLACE_PURCHASE_COMPLETED, t.MARKETPLACE_PURCHASE_REFUSED,
    t.MARKETPLACE_TIP_VISITED, t.MARKETPLACE_LEARN_PROGRESSED, t.MARKETPLACE_TIP_RATED, t.MARKETPLACE_TIP_FORWARDED,
    t.MARKETPLACE_DAILY_ACTIVE, t.MARKETPLACE_DEEP_LEARNER_FLAGGED, t.MARKETPLACE_STRUGGLE_RECOMMENDED,
    t.DEAD_LETTERS,
)
PRODUCED_TOPICS: tuple[t.Topic, ...] = (t.DEAD_LETTERS, t.PRIVACY_ERASURE_COMPLETED)
# What the consumer parses of each topic: the fields the counting rules read (domain.READ_FIELDS), and of the
# envelope its id, type and tenant, and its time where the data has no time of its own (domain.EVENT_TIME).
READINGS: tuple[t.TopicReading, ...] = tuple(
    topic.reading(frozenset(READ_FIELDS[topic.name]),
                  frozenset(t.READ_ENVELOPE_FIELDS) - ({"time"} if topic.name in EVENT_TIME else set()))
    for topic in CONSUMED_TOPICS)


def build_router(settings: MetricsSettings, *, specification: bool = False) -> KafkaRouter:
    """The publishers (declared once, for the AsyncAPI document; the dead letters are sent on them). With
    `specification`, also the consumption, as a batch subscriber of every consumed topic: only for the
    document, never started (the sole consumer reads the topics; see MetricsStream)."""
    router = KafkaRouter()
    declare_publishers(router, PRODUCED_TOPICS)
    if specification:
        async def consume(body: list[bytes]) -> None:
            raise RuntimeError("metrics consumes through its sole consumer; this subscriber only documents it")

        router.subscriber(*(topic.name for topic in CONSUMED_TOPICS), batch=True, group_id=settings.consumer_group,
                          title="metrics:consume",
                          description="; ".join(consumed_description(topic) for topic in CONSUMED_TOPICS))(consume)
    subscribe_erasures(router, settings, settings.consumer_group)  # a faststream consumer of its own
    return router


class MetricsStream:
    """The metrics service as the sole consumer's processor: each record parsed by what the counting rules
    read of its contract (an invalid one dead-lettered), counted in memory, checkpointed with the offsets."""

    def __init__(self, metrics: MetricsService, dead_letters: DeadLetterPublisher, group: str) -> None:
        self.metrics = metrics
        self.dead_letters = dead_letters
        self.group = group
        # Records a counting rule failed on: dead-lettered, and skipped when read again after the rewind.
        self.poisoned: set[tuple[str, int, int]] = set()
        self._parse_fast = {reading.name: reading.parse_fast for reading in READINGS}

    async def restore(self) -> Mapping[Position, int] | None:
        positions = await self.metrics.restore(self.group)
        if positions is not None:  # what the checkpoint passed is never read again
            self.poisoned = {(t_, p, o) for t_, p, o in self.poisoned if o >= positions.get((t_, p), 0)}
        return positions

    async def process(self, records: Sequence[Any]) -> None:
        with HANDLER_DURATION.labels(self.dead_letters.service, ALL_TOPICS_LABEL).time():
            if self.poisoned:
                records = [r for r in records if (r.topic, r.partition, r.offset) not in self.poisoned]
            # The fast path of each reading first, in one loop; what it refuses goes through the contract
            # (parse_together: the contract's value, or a dead letter with its error), and so does a record
            # that may be in binary content mode (parse_together reads it as its structured equivalent).
            fast, deliveries, slow = self._parse_fast, [], []
            for record in records:
                parse = fast.get(record.topic)
                event = parse(record.value) if parse is not None and record.value is not None \
                    and not has_attribute_headers(record.headers) else None
                if event is None:
                    slow.append(record)
                else:
                    deliveries.append(Delivery(event, record))
            if slow:
                deliveries += await parse_together(slow, READINGS, self.dead_letters, drop_repeats=False)
            try:
                await self.metrics.count(deliveries)
            except FactFailed as failure:
                poison = await self.metrics.dead_letter(deliveries, failure=failure)
                self.poisoned.add((poison.record.topic, poison.record.partition, poison.record.offset))
                raise Rewind(f"a counting rule failed on {failure.fact.topic} {failure.fact.event_id}") from failure

    async def checkpoint(self, positions: Mapping[Position, int], *, behind: int = 0, final: bool = False) -> None:
        await self.metrics.checkpoint(positions, behind=behind, final=final)

    def durable_positions(self) -> Mapping[Position, int]:
        return self.metrics.durable_positions()
