"""The lead documents' embedded outbox on the stack's MongoDB, with a broker that can refuse: the backlog counts
documents with events waiting, ages them, and clears once relayed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError
from pymongo.asynchronous.database import AsyncDatabase

from allocator.store.embedded_outbox import EmbeddedOutboxRelay, embedded_event
from allocator.store.embedded_outbox import with_embedded_events as embedded
from telesales_testkit.relays import RefusingBroker, outbox_gauges


async def test_an_embedded_outbox_counts_documents_and_ages_them(scratch_db: AsyncDatabase[dict[str, Any]]) -> None:
    service, broker = f"svc-{uuid.uuid4().hex[:6]}", RefusingBroker()
    then = datetime.now(UTC) - timedelta(seconds=30)
    events = [embedded_event(f"e{n}", "t.v1", b"{}", "L1") for n in range(2)]
    await scratch_db["leads"].insert_one({"_id": "L1"})
    await scratch_db["leads"].update_one({"_id": "L1"}, embedded({"$set": {"stage": 1}}, events, then))
    relay = EmbeddedOutboxRelay(scratch_db["leads"], scratch_db["leases"], broker, service=service)  # type: ignore[arg-type]
    broker.down = True
    with pytest.raises(KafkaConnectionError):
        await relay.relay_once()
    waiting, age = outbox_gauges(service, "leads")
    assert waiting == 1 and age is not None and 30 <= age < 50
    broker.down = False
    assert await relay.relay_once() == 2 and outbox_gauges(service, "leads") == (0, 0)
    await relay.stop()
