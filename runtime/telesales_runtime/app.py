"""Builds a service's FastAPI application around its Kafka broker: lifespan, errors, health, metrics;
and the parts every service's wiring starts from (broker, database client, dead letters, outbox relays)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from faststream import FastStream
from faststream.kafka import KafkaBroker, KafkaRouter
from faststream.specification import AsyncAPI
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

from .auth import RoleTable, authorize, check_access_table
from .deadletter import DeadLetterPublisher
from .http import Exposition, ReadinessCheck, health_router, install_problem_handlers
from .http_metrics import install_http_metrics
from .kafka import client_security, create_broker, create_producer, ensure_topics
from .logs import configure_logging
from .memory import tune_garbage_collector
from .mongo import connect_mongo, ping
from .outbox import OutboxRelay
from .request_limits import install_request_limits
from .settings import ServiceSettings

log = logging.getLogger(__name__)

Hook = Callable[[], Awaitable[None]]


def service_broker(settings: ServiceSettings, router: KafkaRouter) -> KafkaBroker:
    """The service's broker with its subscribers and publishers (not connected until started)."""
    broker = create_broker(settings)
    broker.include_router(router)
    return broker


def specification_app(settings: ServiceSettings, router: KafkaRouter, *, title: str, description: str) -> FastStream:
    """For `faststream docs gen`: the service's broker, not started, with its AsyncAPI document."""
    broker = service_broker(settings, router)
    return FastStream(broker, specification=AsyncAPI(broker, title=title, version="1.0.0", description=description))


@dataclass(frozen=True)
class ServiceBase:
    """What every service is wired from: logging, its broker, its MongoDB client and its dead-letter
    publisher. Nothing connects here."""

    settings: ServiceSettings
    broker: KafkaBroker
    mongo: AsyncMongoClient[dict[str, Any]]
    dead_letters: DeadLetterPublisher

    @classmethod
    def build(cls, settings: ServiceSettings, router: KafkaRouter, *, group: str,
              group_per_topic: bool = False) -> ServiceBase:
        """`group`: the service's consumer group, named in its dead letters (`<group>.<topic>` with
        `group_per_topic`, for a service that consumes each topic in a group of its own)."""
        configure_logging(settings.service_name, settings.log_level, settings.log_json)
        tune_garbage_collector(settings.gc_young_threshold)
        broker = service_broker(settings, router)
        mongo = connect_mongo(settings.mongo_uri, settings.service_name)
        dead_letters = DeadLetterPublisher(broker, service=settings.service_name, group=group, source=settings.source,
                                           group_per_topic=group_per_topic)
        return cls(settings, broker, mongo, dead_letters)

    def relay(self, outbox: AsyncCollection[dict[str, Any]], leases: AsyncCollection[dict[str, Any]], *,
              purpose: str = "outbox", kind: type[OutboxRelay] = OutboxRelay,
              producer_options: Mapping[str, Any] | None = None) -> OutboxRelay:
        """An outbox relay (of `kind`) with the settings' batch, poll and linger, on a producer of its own
        (`producer_options` override the platform's producer settings)."""
        settings = self.settings
        options = dict(producer_options or {})
        return kind(outbox, leases, self.broker, service=settings.service_name, batch_size=settings.outbox_batch_size,
                    poll_seconds=settings.outbox_poll_seconds, linger_seconds=settings.outbox_linger_seconds,
                    producer_factory=lambda: create_producer(settings, purpose, **options))

    async def broker_ready(self) -> None:
        if not await self.broker.ping(timeout=2.0):
            raise ConnectionError(f"Kafka at {self.settings.kafka_bootstrap} does not answer")

    def readiness(self, **more: ReadinessCheck) -> dict[str, ReadinessCheck]:
        """Readiness checks: MongoDB and Kafka answer, and the `more` of the service."""
        return {"mongodb": lambda: ping(self.mongo), "kafka": self.broker_ready, **more}


def create_service_app(
    *,
    settings: ServiceSettings,
    title: str,
    description: str,
    broker: KafkaBroker,
    topics: Sequence[str],
    routers: Sequence[APIRouter],
    readiness: Mapping[str, ReadinessCheck],
    on_startup: Sequence[Hook] = (),
    after_broker_start: Sequence[Hook] = (),
    on_shutdown: Sequence[Hook] = (),
    after_broker_stop: Sequence[Hook] = (),
    metrics_registries: Sequence[Exposition] = (),
    access: RoleTable | None = None,
) -> FastAPI:
    """Nothing connects here: connections open in the lifespan, when the server starts.
    `metrics_registries`: collectors of the application's own (or functions returning their Prometheus
    text), served on /metrics after the process's.
    `access`: "METHOD /path" -> the roles that may call each route of `routers` (admin may call all); every
    route needs a bearer token, and a route missing from the table refuses the build (telesales_runtime.auth).
    /healthz, /readyz and /metrics stay open. Every request is observed in
    http_server_request_duration_seconds (telesales_runtime.http_metrics)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for hook in on_startup:
            await hook()
        if settings.kafka_create_topics:
            await ensure_topics(settings.kafka_bootstrap, topics, settings.kafka_topic_partitions,
                                settings.kafka_replication_factor, security=client_security(settings))
        await broker.start()
        for hook in after_broker_start:
            await hook()
        log.info("service started", extra={"kafka": settings.kafka_bootstrap, "mongo_db": settings.mongo_db})
        try:
            yield
        finally:
            for hook in on_shutdown:
                try:
                    await hook()
                except Exception:
                    log.exception("shutdown step failed")
            await broker.stop()
            for hook in after_broker_stop:
                await hook()
            log.info("service stopped")

    app = FastAPI(title=title, description=description, version="1.0.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.broker = broker
    install_problem_handlers(app)
    install_request_limits(app, settings)
    install_http_metrics(app, settings.service_name)  # last: outermost, it sees what the guards refuse
    app.include_router(health_router(readiness, registries=metrics_registries))
    app.state.access = access or {}
    check_access_table(routers, app.state.access)
    for router in routers:
        app.include_router(router, dependencies=[Depends(authorize)])
    return app
