"""Cross-service tests on the real broker and database: each service runs once per session, in-process
under uvicorn, against the `infra` fixture's stack."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from telesales_runtime.testing.kafka import position_group_at_end


@dataclass
class RunningService:
    name: str
    base_url: str
    app: FastAPI

    @property
    def source(self) -> str:
        return self.app.state.settings.source


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def run_service(name: str, app: FastAPI) -> AsyncIterator[RunningService]:
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # surfaces the start-up error
            raise RuntimeError(f"{name} stopped during start-up")
        await asyncio.sleep(0.1)
    try:
        yield RunningService(name, f"http://127.0.0.1:{port}", app)
    finally:
        server.should_exit = True
        await task


@pytest.fixture(scope="session")
async def lead_intake(infra: Any) -> AsyncIterator[RunningService]:
    from lead_intake.main import create_app
    from lead_intake.settings import LeadIntakeSettings

    run = uuid.uuid4().hex[:8]
    settings = LeadIntakeSettings(kafka_bootstrap=infra.kafka_bootstrap, mongo_uri=infra.mongo_uri,
                                  redis_url=infra.redis_url, mongo_db=f"e2e_intake_{run}",
                                  consumer_group=f"lead-intake-e2e-{run}", log_json=False,
                                  # tells this session's events from those of a `make up` service on the same broker
                                  event_source=f"/services/lead-intake/e2e-{run}")
    # The shared broker may hold history (benchmarks, earlier runs): start at its end, as a new
    # deployment would with `--reset-offsets --to-latest`.
    for topic in ("leads.received.v1", "leads.outcome.v1"):
        await position_group_at_end(infra.kafka_bootstrap, f"{settings.consumer_group}.{topic}", topic)
    async for service in run_service("lead-intake", create_app(settings)):
        yield service


@pytest.fixture
async def http_intake(lead_intake: RunningService) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=lead_intake.base_url, timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
async def allocator(infra: Any) -> AsyncIterator[RunningService]:
    from allocator.events import CONSUMED_TOPICS
    from allocator.main import create_app
    from allocator.settings import AllocatorSettings

    run = uuid.uuid4().hex[:8]
    settings = AllocatorSettings(kafka_bootstrap=infra.kafka_bootstrap, mongo_uri=infra.mongo_uri,
                                 redis_url=infra.redis_url, mongo_db=f"e2e_allocator_{run}",
                                 consumer_group=f"allocator-e2e-{run}", log_json=False, sweep_enabled=False,
                                 event_source=f"/services/allocator/e2e-{run}")
    for topic in CONSUMED_TOPICS:
        await position_group_at_end(infra.kafka_bootstrap, settings.consumer_group, topic.name)
    async for service in run_service("allocator", create_app(settings)):
        yield service


@pytest.fixture
async def http_allocator(allocator: RunningService) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=allocator.base_url, timeout=30) as client:
        yield client
