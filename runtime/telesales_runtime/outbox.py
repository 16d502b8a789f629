"""Transactional outbox: an event is written to MongoDB in the same transaction as the change it
announces, and a relay publishes it to Kafka afterwards. A crash anywhere loses nothing; a crash between
publish and delete publishes an event twice, which consumers absorb (they are idempotent on the id)."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaProducer
from bson import ObjectId
from faststream.kafka import KafkaBroker
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError, PyMongoError

from telesales_contracts import CLOUDEVENTS_CONTENT_TYPE, CloudEvent

from .kafka import await_confirmations
from .observability import OUTBOX_BACKLOG, OUTBOX_PUBLISHED, OUTBOX_RELAY_ERRORS

log = logging.getLogger(__name__)

CONTENT_TYPE_HEADER = CLOUDEVENTS_CONTENT_TYPE.encode()


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
    service do not publish the same rows concurrently."""

    def __init__(
        self,
        outbox: AsyncCollection[dict[str, Any]],
        leases: AsyncCollection[dict[str, Any]],
        broker: KafkaBroker,
        *,
        service: str,
        batch_size: int = 2000,
        poll_seconds: float = 0.5,
        lease_seconds: float = 10.0,
        producer_factory: Callable[[], AIOKafkaProducer] | None = None,
    ) -> None:
        self.outbox = outbox
        self.leases = leases
        self.broker = broker
        self.service = service
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.lease_seconds = lease_seconds
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
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
        # Hand the lease over at once instead of making a successor wait for it to expire.
        try:
            await self.leases.delete_one({"_id": self._lease_id, "owner": self.owner})
        except PyMongoError:
            pass

    @property
    def _lease_id(self) -> str:
        return f"outbox-relay:{self.service}"

    async def _hold_lease(self) -> bool:
        now = datetime.now(UTC)
        try:
            await self.leases.find_one_and_update(
                {"_id": self._lease_id, "$or": [{"owner": self.owner}, {"expires_at": {"$lt": now}}]},
                {"$set": {"owner": self.owner, "expires_at": now + timedelta(seconds=self.lease_seconds)}},
                upsert=True,
            )
            return True
        except DuplicateKeyError:
            return False  # another replica holds a live lease

    async def relay_once(self) -> int:
        """Publish one batch; returns how many rows went out."""
        if not await self._hold_lease():
            return 0
        rows = await self.outbox.find({}, {"topic": 1, "key": 1, "payload": 1}, sort=[("_id", 1)],
                                       limit=self.batch_size).to_list()
        if not rows:
            OUTBOX_BACKLOG.labels(self.service).set(0)
            return 0
        pending = []
        for row in rows:
            key = row["key"].encode() if row.get("key") else None
            if self.producer is not None:
                pending.append(await self.producer.send(row["topic"], bytes(row["payload"]), key=key,
                                                        headers=[("content-type", CONTENT_TYPE_HEADER)]))
            else:
                pending.append(await self.broker.publish(bytes(row["payload"]), topic=row["topic"], key=key,
                                                         headers={"content-type": CLOUDEVENTS_CONTENT_TYPE},
                                                         no_confirm=True))
        await await_confirmations(pending)
        await self.outbox.delete_many({"_id": {"$in": [row["_id"] for row in rows]}})
        for row in rows:
            OUTBOX_PUBLISHED.labels(self.service, row["topic"]).inc()
        if len(rows) == self.batch_size:
            OUTBOX_BACKLOG.labels(self.service).set(await self.outbox.estimated_document_count())
        else:
            OUTBOX_BACKLOG.labels(self.service).set(0)
        return len(rows)

    async def _run(self) -> None:
        backoff = 0.1
        while True:
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
            if sent:
                continue
            if self._stopping:
                return
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
            except TimeoutError:
                pass
