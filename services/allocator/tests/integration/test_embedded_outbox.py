"""The lead documents' embedded outbox on the stack's MongoDB, with a broker that can refuse: the backlog counts
documents with events waiting, ages them, and clears once relayed."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from allocator.store.embedded_outbox import EmbeddedOutboxRelay, embedded_event
from allocator.store.embedded_outbox import with_embedded_events as embedded
from telesales_runtime.observability import OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE


class Broker:
    """Stands in for the service's broker: takes what is published, or refuses it while `down`."""

    def __init__(self) -> None:
        self.down = False

    async def publish(self, payload: bytes, *, topic: str, **_: Any) -> None:
        if self.down:
            raise KafkaConnectionError()


@pytest.fixture
async def db(infra: Any) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_uri, tz_aware=True)
    name = f"test_embedded_outbox_{uuid.uuid4().hex[:8]}"
    yield client[name]
    await client.drop_database(name)
    await client.close()


def gauges(service: str, outbox: str) -> tuple[float | None, float | None]:
    def value(gauge: Any) -> float | None:
        return next((s.value for m in gauge.collect() for s in m.samples
                     if s.labels == {"service": service, "outbox": outbox}), None)
    return value(OUTBOX_BACKLOG), value(OUTBOX_OLDEST_AGE)


async def test_an_embedded_outbox_counts_documents_and_ages_them(db: AsyncDatabase[dict[str, Any]]) -> None:
    service, broker = f"svc-{uuid.uuid4().hex[:6]}", Broker()
    then = datetime.now(UTC) - timedelta(seconds=30)
    events = [embedded_event(f"e{n}", "t.v1", b"{}", "L1") for n in range(2)]
    await db["leads"].insert_one({"_id": "L1"})
    await db["leads"].update_one({"_id": "L1"}, embedded({"$set": {"stage": 1}}, events, then))
    relay = EmbeddedOutboxRelay(db["leads"], db["leases"], broker, service=service)  # type: ignore[arg-type]
    broker.down = True
    with pytest.raises(KafkaConnectionError):
        await relay.relay_once()
    waiting, age = gauges(service, "leads")
    assert waiting == 1 and age is not None and 30 <= age < 50
    broker.down = False
    assert await relay.relay_once() == 2 and gauges(service, "leads") == (0, 0)
    await relay.stop()
