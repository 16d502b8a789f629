"""The outbox relay's backlog gauges on the stack's MongoDB, with a broker that can refuse: how many events wait
and how old the oldest is, said at every pass before publishing (so they grow while the broker is down),
back to 0 once relayed, and dropped by a replica that does not relay (no figure of a former holder lingers)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError
from pymongo.asynchronous.database import AsyncDatabase

from telesales_runtime.outbox import OutboxRelay, encoded_outbox_row
from telesales_testkit.relays import RefusingBroker, outbox_gauges


async def test_the_backlog_and_its_age_grow_while_the_broker_refuses_and_clear_once_relayed(
    scratch_db: AsyncDatabase[dict[str, Any]],
) -> None:
    service, broker = f"svc-{uuid.uuid4().hex[:6]}", RefusingBroker()
    rows = [encoded_outbox_row("t.v1", f"e{n}", "default", b"{}", None) for n in range(3)]
    rows[0]["created_at"] = datetime.now(UTC) - timedelta(seconds=40)
    await scratch_db["outbox"].insert_many(rows)
    relay = OutboxRelay(scratch_db["outbox"], scratch_db["leases"], broker, service=service)  # type: ignore[arg-type]
    broker.down = True
    with pytest.raises(KafkaConnectionError):
        await relay.relay_once()
    waiting, age = outbox_gauges(service, "outbox")
    assert waiting == 3 and age is not None and 40 <= age < 60
    broker.down = False
    assert await relay.relay_once() == 3
    assert outbox_gauges(service, "outbox") == (0, 0)
    await relay.stop()
    assert outbox_gauges(service, "outbox") == (None, None)  # a replica that stopped relaying says nothing


async def test_a_full_batch_says_every_row_waiting(scratch_db: AsyncDatabase[dict[str, Any]]) -> None:
    service, broker = f"svc-{uuid.uuid4().hex[:6]}", RefusingBroker()
    await scratch_db["outbox"].insert_many([encoded_outbox_row("t.v1", f"e{n}", "default", b"{}", None) for n in range(5)])
    relay = OutboxRelay(scratch_db["outbox"], scratch_db["leases"], broker, service=service, batch_size=2)  # type: ignore[arg-type]
    broker.down = True
    with pytest.raises(KafkaConnectionError):
        await relay.relay_once()
    assert outbox_gauges(service, "outbox")[0] == 5
    broker.down = False
    while await relay.relay_once():
        pass
    assert broker.sent == ["t.v1"] * 5 and outbox_gauges(service, "outbox") == (0, 0)
    await relay.stop()


async def test_a_replica_that_lost_the_lease_drops_what_it_said(scratch_db: AsyncDatabase[dict[str, Any]]) -> None:
    service, broker = f"svc-{uuid.uuid4().hex[:6]}", RefusingBroker()
    await scratch_db["outbox"].insert_one(encoded_outbox_row("t.v1", "e0", "default", b"{}", None))
    former = OutboxRelay(scratch_db["outbox"], scratch_db["leases"], broker, service=service, lease_seconds=1)  # type: ignore[arg-type]
    successor = OutboxRelay(scratch_db["outbox"], scratch_db["leases"], broker, service=service, lease_seconds=1)  # type: ignore[arg-type]
    broker.down = True
    with pytest.raises(KafkaConnectionError):
        await former.relay_once()
    assert outbox_gauges(service, "outbox")[0] == 1
    await asyncio.sleep(1.2)  # the former holder paused past its lease; the successor takes it
    broker.down = False
    assert await successor.relay_once() == 1
    assert await former.relay_once() == 0
    # (one process here: the successor's series went with it; a replica of its own keeps them)
    assert outbox_gauges(service, "outbox") == (None, None)
    await successor.stop()
