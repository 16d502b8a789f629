"""Fixtures of lead-intake's tests: handler tests run the real handlers against the real MongoDB with
FastStream's in-memory TestKafkaBroker; the real-broker path is tested in tests/ at the top level."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from intake_support import Harness
from lead_intake.events import PRODUCED_TOPICS
from lead_intake.main import create_app
from lead_intake.service import IntakeService
from lead_intake.settings import LeadIntakeSettings
from telesales_testkit.harness import in_memory_harness


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
    intake: IntakeService = app.state.intake
    await intake.store.ensure_indexes()
    async with in_memory_harness(app, Harness, base_url="http://lead-intake", produced=PRODUCED_TOPICS,
                                 relays=[app.state.relay], intake=intake) as h:
        yield h
    await intake.store.client.close()
