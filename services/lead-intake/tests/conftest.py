"""Fixtures of lead-intake's tests: handler tests run the real handlers against the real MongoDB with
FastStream's in-memory TestKafkaBroker; the real-broker path is tested in tests/ at the top level."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker

from intake_support import Harness, raw_body
from lead_intake.main import create_app
from lead_intake.service import IntakeService
from lead_intake.settings import LeadIntakeSettings
from telesales_contracts import BY_NAME
from telesales_contracts.topics import DEAD_LETTERS, LEADS_MERGED, LEADS_QUALIFIED, LEADS_REJECTED


@pytest.fixture(scope="session")
def intake_settings(infra: Any) -> LeadIntakeSettings:
    return LeadIntakeSettings(
        kafka_bootstrap=infra.kafka_bootstrap,
        mongo_uri=infra.mongo_uri,
        redis_url=infra.redis_url,
        mongo_db=f"test_lead_intake_{uuid.uuid4().hex[:8]}",
        log_json=False,
        config_cache_seconds=0,
    )


@pytest.fixture
async def harness(intake_settings: LeadIntakeSettings) -> AsyncIterator[Harness]:
    app = create_app(intake_settings)
    broker: KafkaBroker = app.state.broker
    intake: IntakeService = app.state.intake
    events: dict[str, list[dict[str, Any]]] = defaultdict(list)

    for topic in (LEADS_QUALIFIED, LEADS_MERGED, LEADS_REJECTED, DEAD_LETTERS):
        def collector(name: str = topic.name) -> Any:
            async def collect(body: bytes) -> None:
                BY_NAME[name].parse(body)  # every emitted event must satisfy its contract
                events[name].append(json.loads(body))
            return collect
        broker.subscriber(topic.name, group_id="test-collector", decoder=raw_body)(collector())

    await intake.store.ensure_indexes()
    async with TestKafkaBroker(broker):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://lead-intake") as http:
            h = Harness(broker=broker, intake=intake, http=http, tenant=f"t-{uuid.uuid4().hex[:12]}", events=events)
            h._relay = app.state.relay
            http.headers["X-Tenant-Id"] = h.tenant
            yield h
            await h.relay()
            await app.state.relay.stop()  # hands the relay lease over to the next test's relay
    await intake.store.client.close()


