"""Fixtures of the metrics tests: handler and API tests hand records to the consumer's processor
(MetricsStream) and call the API against the real MongoDB, with FastStream's in-memory TestKafkaBroker
for what the service publishes (dead letters); the real broker is used by test_sole_consumer.py here and
by tests/test_metrics_e2e.py at the top level."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from metrics.events import PRODUCED_TOPICS
from metrics.main import create_app
from metrics.settings import MetricsSettings
from metrics_support import Harness
from telesales_testkit.harness import in_memory_harness


@pytest.fixture(scope="session")
def metrics_settings(infra: Any) -> MetricsSettings:
    return MetricsSettings(
        kafka_bootstrap=infra.kafka_bootstrap, mongo_uri=infra.mongo_uri, redis_url=infra.redis_url,
        mongo_db=f"test_metrics_{uuid.uuid4().hex[:8]}", log_json=False, refresh_seconds=3600,
    )


@pytest.fixture
async def harness(metrics_settings: MetricsSettings) -> AsyncIterator[Harness]:
    app = create_app(metrics_settings)
    await app.state.store.ensure_indexes()
    stream = app.state.consumer.processor
    await stream.restore()  # as the consumer does when it starts: from the group's last checkpoint
    async with in_memory_harness(app, Harness, base_url="http://metrics", produced=PRODUCED_TOPICS, relays=[],
                                 metrics=app.state.metrics, stream=stream, store=app.state.store,
                                 exposition=app.state.exposition, application=app) as h:
        yield h
    await app.state.consumer.lease.release()  # the next test's replica takes it at once
    await app.state.store.client.close()
