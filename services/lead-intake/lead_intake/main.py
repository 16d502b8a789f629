"""Wiring only: build the lead-intake application from settings. Nothing connects at import time."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from faststream import FastStream
from faststream.specification import AsyncAPI

from telesales_contracts.topics import LEADS_RECEIVED
from telesales_runtime.app import create_service_app
from telesales_runtime.deadletter import DeadLetterPublisher
from telesales_runtime.kafka import create_broker, create_producer
from telesales_runtime.logs import configure_logging
from telesales_runtime.mongo import connect_mongo, ping
from telesales_runtime.outbox import OutboxRelay

from .api import dnc_router, router, scoring_router
from .checkers import HttpNumberChecker, NumberChecker, OfflineNumberChecker
from .events import CONSUMED_TOPICS, PRODUCED_TOPICS, build_router
from .service import IntakeService
from .settings import LeadIntakeSettings
from .store import LeadStore

DESCRIPTION = (
    "Cleans and scores leads before they enter the pools: standardize, enrich, drop junk, de-duplicate, "
    f"test numbers, score. Leads arrive on {LEADS_RECEIVED.name} or through this API."
)


def create_app(settings: LeadIntakeSettings) -> FastAPI:
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    broker = create_broker(settings)
    broker.include_router(build_router(settings))
    mongo = connect_mongo(settings.mongo_uri, settings.service_name)
    store = LeadStore(mongo, settings.mongo_db, consumer=settings.consumer_group)
    relay = OutboxRelay(store.outbox, store.leases, broker, service=settings.service_name,
                        batch_size=settings.outbox_batch_size, poll_seconds=settings.outbox_poll_seconds,
                        producer_factory=lambda: create_producer(settings, "outbox"))
    http_client: httpx.AsyncClient | None = None
    checker: NumberChecker = OfflineNumberChecker()
    if settings.number_checker == "http":
        if not settings.number_checker_url:
            raise ValueError("LEAD_INTAKE_NUMBER_CHECKER=http needs LEAD_INTAKE_NUMBER_CHECKER_URL")
        http_client = httpx.AsyncClient()
        checker = HttpNumberChecker(settings.number_checker_url, http_client, settings.number_checker_timeout_seconds)
    dead_letters = DeadLetterPublisher(broker, service=settings.service_name, group=settings.consumer_group,
                                       source=settings.source)
    intake = IntakeService(settings, store, checker, dead_letters, relay.notify)
    broker.context.set_global("intake", intake)

    async def close_clients() -> None:
        if http_client is not None:
            await http_client.aclose()
        await mongo.close()

    async def broker_ready() -> None:
        if not await broker.ping(timeout=2.0):
            raise ConnectionError(f"Kafka at {settings.kafka_bootstrap} does not answer")

    app = create_service_app(
        settings=settings,
        title="lead-intake",
        description=DESCRIPTION,
        broker=broker,
        topics=[t.name for t in (*CONSUMED_TOPICS, *PRODUCED_TOPICS)],
        routers=[router, dnc_router, scoring_router],
        readiness={"mongodb": lambda: ping(mongo), "kafka": broker_ready},
        on_startup=[store.ensure_indexes],
        after_broker_start=[relay.start_async],
        on_shutdown=[relay.stop],
        after_broker_stop=[close_clients],
    )
    app.state.settings = settings
    app.state.broker = broker
    app.state.intake = intake
    app.state.relay = relay
    return app


def create_app_from_env() -> FastAPI:
    """Entry point for uvicorn: `uvicorn --factory lead_intake.main:create_app_from_env`."""
    return create_app(LeadIntakeSettings())


def asyncapi_app() -> FastStream:
    """For `faststream docs gen --factory lead_intake.main:asyncapi_app`: the same broker, not started."""
    settings = LeadIntakeSettings()
    broker = create_broker(settings)
    broker.include_router(build_router(settings))
    return FastStream(broker, specification=AsyncAPI(broker, title="lead-intake", version="1.0.0",
                                                     description=DESCRIPTION))
