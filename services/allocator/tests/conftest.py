"""Fixtures of the allocator's tests: handler and API tests run the real handlers against the real
MongoDB and Redis with FastStream's in-memory TestKafkaBroker; the real-broker path is tested in tests/
at the top level."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker

from allocator.events import PRODUCED_TOPICS
from allocator.main import create_app
from allocator.settings import AllocatorSettings
from allocator_support import Harness, raw_body
from telesales_contracts import BY_NAME


@pytest.fixture(scope="session")
def allocator_settings(infra: Any) -> AllocatorSettings:
    return AllocatorSettings(
        kafka_bootstrap=infra.kafka_bootstrap, mongo_uri=infra.mongo_uri, redis_url=infra.redis_url,
        mongo_db=f"test_allocator_{uuid.uuid4().hex[:8]}", log_json=False, config_cache_seconds=0,
        agent_cache_seconds=0, sweep_enabled=False,
    )


@pytest.fixture
async def harness(allocator_settings: AllocatorSettings) -> AsyncIterator[Harness]:
    app = create_app(allocator_settings)
    broker: KafkaBroker = app.state.broker
    events: dict[str, list[dict[str, Any]]] = defaultdict(list)

    for topic in PRODUCED_TOPICS:
        def collector(name: str = topic.name) -> Any:
            async def collect(body: bytes) -> None:
                BY_NAME[name].parse(body)  # every emitted event must satisfy its contract
                events[name].append(json.loads(body))
            return collect
        broker.subscriber(topic.name, group_id="test-collector", decoder=raw_body)(collector())

    await app.state.store.ensure_indexes()
    async with TestKafkaBroker(broker):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://allocator") as http:
            h = Harness(broker=broker, leads=app.state.leads, roster=app.state.roster, store=app.state.store,
                        http=http, tenant=f"t-{uuid.uuid4().hex[:12]}",
                        relays=[app.state.lead_relay, app.state.outbox_relay], events=events)
            http.headers["X-Tenant-Id"] = h.tenant
            yield h
            await h.relay()
            for relay in h.relays:
                await relay.stop()  # hands the relay leases over to the next test's relays
    await app.state.leads.guard.client.aclose()
    await app.state.store.client.close()
