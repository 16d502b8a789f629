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


async def test_an_acknowledgement_removes_the_events_sent_and_keeps_one_appended_meanwhile(
        scratch_db: AsyncDatabase[dict[str, Any]]) -> None:
    leads, broker = scratch_db["leads"], RefusingBroker()
    now = datetime.now(UTC)
    await leads.insert_many([{"_id": f"L{n}"} for n in range(3)])
    for n in range(3):
        await leads.update_one({"_id": f"L{n}"}, embedded({"$set": {"stage": 1}},
                                                          [embedded_event(f"e{n}", "t.v1", b"{}", f"L{n}")], now))
    relay = EmbeddedOutboxRelay(leads, scratch_db["leases"], broker, service=f"svc-{uuid.uuid4().hex[:6]}")  # type: ignore[arg-type]
    batch = await relay._next_batch()
    # while the batch is out, L1 gets another event: it is not sent yet, so it stays
    await leads.update_one({"_id": "L1"}, embedded({"$set": {"stage": 2}}, [embedded_event("late", "t.v1", b"{}", "L1")],
                                                   now))
    await relay._acknowledge(batch)
    docs = {doc["_id"]: doc async for doc in leads.find({})}
    assert [e["id"] for e in docs["L1"]["outbox"]] == ["late"] and "outbox_at" in docs["L1"]
    assert all(not docs[k].get("outbox") and "outbox_at" not in docs[k] for k in ("L0", "L2"))
    assert [doc["stage"] for doc in docs.values()] == [1, 2, 1]
    await relay.stop()
