"""Wiring only: build the allocator application from settings. Nothing connects at import time."""

from __future__ import annotations

from fastapi import FastAPI
from faststream import FastStream
from faststream.specification import AsyncAPI

from telesales_runtime.app import create_service_app
from telesales_runtime.deadletter import DeadLetterPublisher
from telesales_runtime.kafka import create_broker, create_producer
from telesales_runtime.logs import configure_logging
from telesales_runtime.mongo import connect_mongo, ping
from telesales_runtime.outbox import EmbeddedOutboxRelay, OutboxRelay
from telesales_runtime.redis_client import connect_redis

from .api import config_router, ops_router, pools_router, roster_router
from .events import CONSUMED_TOPICS, PRODUCED_TOPICS, build_router
from .guards import ClaimGuard
from .roster import RosterService
from .service import LeadService
from .settings import AllocatorSettings
from .store import AllocatorStore
from .sweeper import Sweeper

DESCRIPTION = (
    "Owns who works which lead: public pools per business line and agents' private pools, tiered pools "
    "that agents claim from by grade, holding caps, push distribution strategies, and reclaim of leads "
    "left unworked."
)


def create_app(settings: AllocatorSettings) -> FastAPI:
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    broker = create_broker(settings)
    broker.include_router(build_router(settings))
    mongo = connect_mongo(settings.mongo_uri, settings.service_name)
    redis = connect_redis(settings.redis_url)
    store = AllocatorStore(mongo, settings.mongo_db, consumer=settings.consumer_group)
    relay_options = {"service": settings.service_name, "batch_size": settings.outbox_batch_size,
                     "poll_seconds": settings.outbox_poll_seconds}
    lead_relay = EmbeddedOutboxRelay(store.leads, store.leases, broker, **relay_options,
                                     producer_factory=lambda: create_producer(settings, "lead-events"))
    outbox_relay = OutboxRelay(store.outbox, store.leases, broker, **relay_options,
                               producer_factory=lambda: create_producer(settings, "outbox"))
    dead_letters = DeadLetterPublisher(broker, service=settings.service_name, group=settings.consumer_group,
                                       source=settings.source)
    guard = ClaimGuard(redis, lock_seconds=settings.claim_lock_seconds)
    leads = LeadService(settings, store, guard, dead_letters, lead_relay.notify, outbox_relay.notify)
    roster = RosterService(leads, store)
    sweeper = Sweeper(leads, roster, store)
    broker.context.set_global("leads", leads)
    broker.context.set_global("roster", roster)

    async def broker_ready() -> None:
        if not await broker.ping(timeout=2.0):
            raise ConnectionError(f"Kafka at {settings.kafka_bootstrap} does not answer")

    async def close_clients() -> None:
        await redis.aclose()
        await mongo.close()

    app = create_service_app(
        settings=settings,
        title="allocator",
        description=DESCRIPTION,
        broker=broker,
        topics=[t.name for t in (*CONSUMED_TOPICS, *PRODUCED_TOPICS)],
        routers=[roster_router, pools_router, config_router, ops_router],
        readiness={"mongodb": lambda: ping(mongo), "kafka": broker_ready, "redis": guard.ping},
        on_startup=[store.ensure_indexes],
        after_broker_start=[lead_relay.start_async, outbox_relay.start_async, sweeper.start],
        on_shutdown=[sweeper.stop, lead_relay.stop, outbox_relay.stop],
        after_broker_stop=[close_clients],
    )
    app.state.settings = settings
    app.state.broker = broker
    app.state.store = store
    app.state.leads = leads
    app.state.roster = roster
    app.state.sweeper = sweeper
    app.state.lead_relay = lead_relay
    app.state.outbox_relay = outbox_relay
    return app


def create_app_from_env() -> FastAPI:
    """Entry point for uvicorn: `uvicorn --factory allocator.main:create_app_from_env`."""
    return create_app(AllocatorSettings())


def asyncapi_app() -> FastStream:
    """For `faststream docs gen --factory allocator.main:asyncapi_app`: the same broker, not started."""
    settings = AllocatorSettings()
    broker = create_broker(settings)
    broker.include_router(build_router(settings))
    return FastStream(broker, specification=AsyncAPI(broker, title="allocator", version="1.0.0",
                                                     description=DESCRIPTION))
