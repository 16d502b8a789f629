"""Cross-service tests on the real broker and database: each service runs once per session, in-process
under uvicorn, against the `infra` fixture's stack."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI

from telesales_runtime.settings import ServiceSettings
from telesales_testkit.auth import auth_headers
from telesales_testkit.kafka import position_group_at_end

S = TypeVar("S", bound=ServiceSettings)


@dataclass
class RunningService:
    name: str
    base_url: str
    app: FastAPI

    @property
    def source(self) -> str:
        return self.app.state.settings.source

    def client(self) -> httpx.AsyncClient:
        """A client acting as the platform's admin (it may name any tenant in X-Tenant-Id); a request made
        as someone else sends its own Authorization (auth_headers)."""
        return httpx.AsyncClient(base_url=self.base_url, timeout=30, headers=auth_headers("admin", "e2e-admin"))


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


def e2e_settings(infra: Any, settings_class: type[S], name: str, database: str, **more: Any) -> S:
    """A service's settings for this session: a database and consumer group of its own."""
    run = uuid.uuid4().hex[:8]
    return settings_class(kafka_bootstrap=infra.kafka_bootstrap, mongo_uri=infra.mongo_uri, redis_url=infra.redis_url,
                          mongo_db=f"e2e_{database}_{run}", consumer_group=f"{name}-e2e-{run}", log_json=False,
                          # tells this session's events from those of a `make up` service on the same broker
                          event_source=f"/services/{name}/e2e-{run}", **more)


async def serve_from_now_on(infra: Any, name: str, create_app: Callable[[S], FastAPI], settings: S,
                            groups: Iterable[tuple[str, str]]) -> AsyncIterator[RunningService]:
    """Run the service with its consumer groups, (group, topic), positioned at the end of their topics."""
    # The shared broker may hold history (benchmarks, earlier runs): start at its end, as a new
    # deployment would with `--reset-offsets --to-latest`.
    for group, topic in groups:
        await position_group_at_end(infra.kafka_bootstrap, group, topic)
    async for service in run_service(name, create_app(settings)):
        yield service


@pytest.fixture
async def producer(infra: Any) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap)
    await producer.start()
    yield producer
    await producer.stop()


@pytest.fixture(scope="session")
async def lead_intake(infra: Any) -> AsyncIterator[RunningService]:
    from lead_intake.main import create_app
    from lead_intake.settings import LeadIntakeSettings

    # The topic step of erasures: a pass a second; the shared broker's empty groups (left by earlier runs and
    # other sessions) stop holding truncations back after a few seconds.
    settings = e2e_settings(infra, LeadIntakeSettings, "lead-intake", "intake", topic_erasure_interval_seconds=1,
                            topic_erasure_group_idle_seconds=5)
    groups = [(f"{settings.consumer_group}.{topic}", topic) for topic in ("leads.received.v1", "leads.outcome.v1")]
    async for service in serve_from_now_on(infra, "lead-intake", create_app, settings, groups):
        yield service


@pytest.fixture
async def http_intake(lead_intake: RunningService) -> AsyncIterator[httpx.AsyncClient]:
    async with lead_intake.client() as client:
        yield client


@pytest.fixture(scope="session")
async def allocator(infra: Any) -> AsyncIterator[RunningService]:
    from allocator.events import CONSUMED_TOPICS
    from allocator.main import create_app
    from allocator.settings import AllocatorSettings

    settings = e2e_settings(infra, AllocatorSettings, "allocator", "allocator", sweep_enabled=False)
    groups = [(settings.consumer_group, topic.name) for topic in CONSUMED_TOPICS]
    async for service in serve_from_now_on(infra, "allocator", create_app, settings, groups):
        yield service


@pytest.fixture
async def http_allocator(allocator: RunningService) -> AsyncIterator[httpx.AsyncClient]:
    async with allocator.client() as client:
        yield client


@pytest.fixture(scope="session")
async def ledger(infra: Any) -> AsyncIterator[RunningService]:
    from ledger.events import CONSUMED_TOPICS
    from ledger.main import create_app
    from ledger.settings import LedgerSettings

    settings = e2e_settings(infra, LedgerSettings, "ledger", "ledger", sweep_enabled=False)
    groups = [(settings.consumer_group, topic.name) for topic in CONSUMED_TOPICS]
    async for service in serve_from_now_on(infra, "ledger", create_app, settings, groups):
        yield service


@pytest.fixture
async def http_ledger(ledger: RunningService) -> AsyncIterator[httpx.AsyncClient]:
    async with ledger.client() as client:
        yield client


@pytest.fixture(scope="session")
async def marketplace(infra: Any, ledger: RunningService) -> AsyncIterator[RunningService]:
    """The marketplace, paying through the session's ledger (Kafka) and redeeming through its HTTP API."""
    from marketplace.events import CONSUMED_TOPICS
    from marketplace.main import create_app
    from marketplace.settings import MarketplaceSettings

    settings = e2e_settings(infra, MarketplaceSettings, "marketplace", "marketplace", ledger_url=ledger.base_url)
    groups = [(settings.consumer_group, topic.name) for topic in CONSUMED_TOPICS]
    async for service in serve_from_now_on(infra, "marketplace", create_app, settings, groups):
        yield service


@pytest.fixture
async def http_marketplace(marketplace: RunningService) -> AsyncIterator[httpx.AsyncClient]:
    async with marketplace.client() as client:
        yield client


@pytest.fixture(scope="session")
async def metrics(infra: Any) -> AsyncIterator[RunningService]:
    """metrics, counting every domain event published from now on (one group over all its topics)."""
    from metrics.events import CONSUMED_TOPICS
    from metrics.main import create_app
    from metrics.settings import MetricsSettings

    settings = e2e_settings(infra, MetricsSettings, "metrics", "metrics", refresh_seconds=3600)
    # its group reads every topic: positioned on all of them at once (one by one takes a second each)
    await asyncio.gather(*(position_group_at_end(infra.kafka_bootstrap, settings.consumer_group, topic.name)
                           for topic in CONSUMED_TOPICS))
    async for service in run_service("metrics", create_app(settings)):
        yield service
