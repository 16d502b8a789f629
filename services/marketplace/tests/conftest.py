"""Fixtures of the marketplace's tests: handler and API tests run the real handlers against the real
MongoDB with FastStream's in-memory TestKafkaBroker (the ledger's answers are sent as the ledger sends
them); the real broker and the real ledger are in tests/test_marketplace_e2e.py at the top level."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from marketplace.events import PRODUCED_TOPICS
from marketplace.main import create_app
from marketplace.settings import MarketplaceSettings
from marketplace_support import Harness
from telesales_testkit.harness import in_memory_harness


@pytest.fixture(scope="session")
def marketplace_settings(infra: Any) -> MarketplaceSettings:
    return MarketplaceSettings(
        kafka_bootstrap=infra.kafka_bootstrap, mongo_uri=infra.mongo_uri, redis_url=infra.redis_url,
        mongo_db=f"test_marketplace_{uuid.uuid4().hex[:8]}", log_json=False, media_chunk_bytes=1024,
    )


@pytest.fixture
async def harness(marketplace_settings: MarketplaceSettings) -> AsyncIterator[Harness]:
    app = create_app(marketplace_settings)
    await app.state.store.ensure_indexes()
    async with in_memory_harness(app, Harness, base_url="http://marketplace", produced=PRODUCED_TOPICS,
                                 relays=[app.state.relay], market=app.state.marketplace, store=app.state.store) as h:
        yield h
    await app.state.store.client.close()
