"""Transactional outbox: an event is written to MongoDB in the same transaction as the change it
announces, and a relay publishes it to Kafka afterwards. A crash anywhere loses nothing; a crash between
publish and delete publishes an event twice, which consumers absorb (they are idempotent on the id)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from bson import ObjectId
from faststream.kafka import KafkaBroker
from pymongo import WriteConcern
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection

from telesales_contracts import CLOUDEVENTS_CONTENT_TYPE, CloudEvent

from .kafka import await_confirmations
from .lease import MongoLease
from .observability import OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE, OUTBOX_PUBLISHED, OUTBOX_RELAY_ERRORS

log = logging.getLogger(__name__)

CONTENT_TYPE_HEADER = CLOUDEVENTS_CONTENT_TYPE.encode()

@dataclass
class RelayBatch:
    events: list[tuple[str, str | None, bytes]]  # topic, key, payload, in publishing order
    acks: list[Any]  # what to hand to _acknowledge once every event is confirmed (a row or a document each)
    full: bool
    oldest: datetime | None = None  # when the oldest of them was written


def outbox_row(topic: str, event: CloudEvent[Any], key: str | None) -> dict[str, Any]:
    return encoded_outbox_row(topic, event.id, event.tenantid, event.to_json_bytes(), key)


def encoded_outbox_row(topic: str, event_id: str, tenant_id: str, payload: bytes, key: str | None) -> dict[str, Any]:
    """An outbox row for an event already serialized (see Topic.encode_trusted)."""
    return {
        "_id": ObjectId(),
        "topic": topic,
        "key": key,
        "event_id": event_id,
        "tenant_id": tenant_id,
        "payload": payload,
        "created_at": datetime.now(UTC),
    }


async def write_outbox(
    collection: AsyncCollection[dict[str, Any]], rows: list[dict[str, Any]], session: AsyncClientSession
) -> None:
    if rows:
        await collection.insert_many(rows, ordered=True, session=session)


class OutboxRelay:
    """Publishes outbox rows in order. Only the holder of a lease relays, so several replicas of a
    service do not publish the same rows concurrently.

    The relaying replica says at every pass, before it publishes (so also while the broker refuses them),
    how many rows wait (telesales_outbox_backlog) and how old the oldest is
    (telesales_outbox_oldest_unrelayed_age_seconds); the other replicas drop those series, so that what a
    replica relaying no more last said does not linger."""

    def __init__(
        self,
        outbox: AsyncCollection[dict[str, Any]],
        leases: AsyncCollection[dict[str, Any]],
        broker: KafkaBroker,
        *,
        service: str,
        batch_size: int = 2000,
        poll_seconds: float = 0.5,
        linger_seconds: float = 0.0,
        lease_seconds: float = 10.0,
        producer_factory: Callable[[], AIOKafkaProducer] | None = None,
    ) -> None:
        self.outbox = outbox
        # Acknowledging what was published is acknowledged by the primary alone, without waiting for the
        # journal: lost in a crash, it only makes the events go out again, which consumers absorb by event
        # id. A write that waits for the journal costs a flush of its own when writes are few (measured on
        # the allocator at 83 claims/s: 120 journal flushes a second, 1.5 per claim, mongod 80 % busy).
        self._acks = outbox.with_options(write_concern=WriteConcern(w=1, j=False))
        self.leases = leases
        self.broker = broker
        self.service = service
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.linger_seconds = linger_seconds
        self._backlogged = False
        self.lease = MongoLease(leases, f"outbox-relay:{service}:{outbox.name}", seconds=lease_seconds)
        self.producer_factory = producer_factory
        self.producer: AIOKafkaProducer | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def notify(self) -> None:
        """Called after a commit that wrote rows, so they go out without waiting for the next poll."""
        self._wake.set()

    async def start_async(self) -> None:
        """Start relaying in the background, on a producer of its own when a factory was given (raw
        aiokafka: thousands of sends per second cost several times less than through the broker's
        publish path); without one, through the broker (as in-memory handler tests do)."""
        if self.producer_factory is not None:
            self.producer = self.producer_factory()
            await self.producer.start()
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay-{self.service}")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=10)
            except TimeoutError:
                self._task.cancel()
        if self.producer is not None:
            await self.producer.stop()
            self.producer = None
        await self.lease.release()
        self._forget_backlog()

    def _show_backlog(self, waiting: int, oldest: datetime | None) -> None:
        OUTBOX_BACKLOG.labels(self.service, self.outbox.name).set(waiting)
        age = 0.0 if oldest is None else (datetime.now(UTC) - _aware(oldest)).total_seconds()
        OUTBOX_OLDEST_AGE.labels(self.service, self.outbox.name).set(max(0.0, age))

    def _forget_backlog(self) -> None:
        OUTBOX_BACKLOG.remove(self.service, self.outbox.name)
        OUTBOX_OLDEST_AGE.remove(self.service, self.outbox.name)

    async def relay_once(self) -> int:
        """Publish one batch; returns how many events went out."""
        if not await self.lease.hold():
            self._forget_backlog()
            return 0
        batch = await self._next_batch()
        self._backlogged = batch.full
        waiting = await self._backlog() if batch.full else len(batch.acks)
        self._show_backlog(waiting, batch.oldest)
        if not batch.events:
            return 0
        pending = []
        for topic, key, payload in batch.events:
            key_bytes = key.encode() if key else None
            if self.producer is not None:
                pending.append(await self.producer.send(topic, payload, key=key_bytes,
                                                        headers=[("content-type", CONTENT_TYPE_HEADER)]))
            else:
                pending.append(await self.broker.publish(payload, topic=topic, key=key_bytes,
                                                         headers={"content-type": CLOUDEVENTS_CONTENT_TYPE},
                                                         no_confirm=True))
        await await_confirmations(pending)
        await self._acknowledge(batch)
        for topic, _, _ in batch.events:
            OUTBOX_PUBLISHED.labels(self.service, topic).inc()
        if not batch.full:  # a full batch goes on at once, and its next pass says what is left
            self._show_backlog(0, None)
        return len(batch.events)

    async def _next_batch(self) -> RelayBatch:
        rows = await self.outbox.find({}, {"topic": 1, "key": 1, "payload": 1, "created_at": 1}, sort=[("_id", 1)],
                                      limit=self.batch_size).to_list()
        return RelayBatch([(row["topic"], row.get("key"), bytes(row["payload"])) for row in rows],
                      [row["_id"] for row in rows], full=len(rows) == self.batch_size,
                      oldest=rows[0].get("created_at") if rows else None)

    async def _acknowledge(self, batch: RelayBatch) -> None:
        await self._acks.delete_many({"_id": {"$in": batch.acks}})

    async def _backlog(self) -> int:
        return await self.outbox.estimated_document_count()

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            self._wake.clear()  # a write notified from here on wakes the next pass
            try:
                sent = await self.relay_once()
                backoff = 0.1
            except asyncio.CancelledError:
                raise
            except Exception:
                OUTBOX_RELAY_ERRORS.labels(self.service).inc()
                log.exception("outbox relay failed; rows stay and are retried", extra={"retry_in_s": backoff})
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if sent and (self._backlogged or self._stopping):
                continue
            if self._stopping:
                return
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
            except TimeoutError:
                continue
            if self.linger_seconds and not self._stopping:
                # Let a burst of writes gather: one pass then relays them together, instead of a read
                # and an acknowledgement per write.
                await asyncio.sleep(self.linger_seconds)


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
