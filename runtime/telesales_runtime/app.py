"""Builds a service's FastAPI application around its Kafka broker: lifespan, errors, health, metrics."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from faststream.kafka import KafkaBroker

from .http import ReadinessCheck, health_router, install_problem_handlers
from .kafka import ensure_topics
from .settings import ServiceSettings

log = logging.getLogger(__name__)

Hook = Callable[[], Awaitable[None]]


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
) -> FastAPI:
    """Nothing connects here: connections open in the lifespan, when the server starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for hook in on_startup:
            await hook()
        if settings.kafka_create_topics:
            await ensure_topics(settings.kafka_bootstrap, topics, settings.kafka_topic_partitions,
                                settings.kafka_replication_factor)
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
    install_problem_handlers(app)
    app.include_router(health_router(readiness))
    for router in routers:
        app.include_router(router)
    return app
