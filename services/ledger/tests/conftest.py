"""Fixtures of the ledger's tests: handler and API tests run the real handlers against the real MongoDB
with FastStream's in-memory TestKafkaBroker; the real-broker path is tested by the restart test here and
in tests/ at the top level."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ledger.events import PRODUCED_TOPICS
from ledger.main import create_app
from ledger.settings import LedgerSettings
from ledger_support import Harness
from telesales_testkit.harness import in_memory_harness


@pytest.fixture(scope="session")
def ledger_settings(infra: Any) -> LedgerSettings:
    return LedgerSettings(
        kafka_bootstrap=infra.kafka_bootstrap, mongo_uri=infra.mongo_uri, redis_url=infra.redis_url,
        mongo_db=f"test_ledger_{uuid.uuid4().hex[:8]}", log_json=False, config_cache_seconds=0, sweep_enabled=False,
    )


@pytest.fixture
async def harness(ledger_settings: LedgerSettings) -> AsyncIterator[Harness]:
    app = create_app(ledger_settings)
    await app.state.store.ensure_indexes()
    async with in_memory_harness(app, Harness, base_url="http://ledger", produced=PRODUCED_TOPICS,
                                 relays=[app.state.relay], ledger=app.state.ledger, store=app.state.store) as h:
        yield h
    await app.state.store.client.close()
