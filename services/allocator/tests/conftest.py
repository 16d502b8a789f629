"""Fixtures of the allocator's tests: handler and API tests run the real handlers against the real
MongoDB and Redis with FastStream's in-memory TestKafkaBroker; the real-broker path is tested in tests/
at the top level."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from allocator.events import PRODUCED_TOPICS
from allocator.main import create_app
from allocator.settings import AllocatorSettings
from allocator_support import Harness
from telesales_testkit.harness import in_memory_harness


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
    await app.state.store.ensure_indexes()
    async with in_memory_harness(app, Harness, base_url="http://allocator", produced=PRODUCED_TOPICS,
                                 relays=[app.state.lead_relay, app.state.outbox_relay], leads=app.state.leads,
                                 roster=app.state.roster, store=app.state.store) as h:
        yield h
    await app.state.leads.guard.client.aclose()
    await app.state.store.client.close()
