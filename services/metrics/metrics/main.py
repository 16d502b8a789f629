"""Wiring only: build the metrics application from settings. Nothing connects at import time."""

from __future__ import annotations

from fastapi import FastAPI
from faststream import FastStream

from telesales_runtime.app import ServiceBase, create_service_app, specification_app
from telesales_runtime.erasure import ERASURE_TOPIC_NAMES, wire_erasure

from .api import ACCESS, agents_router, funnels_router
from .erasure import lead_state_eraser
from .events import CONSUMED_TOPICS, PRODUCED_TOPICS, MetricsStream, build_router
from .exposition import Exposition
from .service import MetricsService
from .settings import MetricsSettings
from .sole_consumer import SoleConsumer
from .store import MetricsStore

DESCRIPTION = (
    "Turns every domain event of the floor into funnels and rates: the lead funnel (total -> valid contact -> "
    "intent -> agreed visit -> actual visit -> plan -> paid) by business line, channel and team, calls "
    "(connected, effective >= 60 s, deep >= 180 s), pool operations and processing, the marketplace's user and "
    "tip funnels with daily-active and re-learn rates, and the training effect of learning cohorts; on /metrics "
    "for Prometheus and per day, week and agent over HTTP."
)


def create_app(settings: MetricsSettings) -> FastAPI:
    base = ServiceBase.build(settings, build_router(settings), group=settings.consumer_group)
    store = MetricsStore(base.mongo, settings.mongo_db, inbox_retention_days=settings.inbox_retention_days)
    metrics = MetricsService(settings, store, base.dead_letters)
    # An outbox of its own only for the erasures' answers (every count is published by /metrics, not by events).
    relay = base.relay(store.db["outbox"], store.leases)
    erasure = wire_erasure(base, settings.mongo_db, lead_state_eraser(store.states["leads"]), notify=relay.notify)
    consumer = SoleConsumer(settings, MetricsStream(metrics, base.dead_letters, settings.consumer_group),
                            [topic.name for topic in CONSUMED_TOPICS], group=settings.consumer_group,
                            leases=store.leases, lease_seconds=settings.lease_seconds,
                            max_records=settings.batch_max_records)
    # Only the lease holder exposes the floor's figures: Prometheus sums over replicas (replicas.py).
    exposition = Exposition(settings, store, exposes_floor=consumer.holds_lease)

    app = create_service_app(
        settings=settings,
        title="metrics",
        description=DESCRIPTION,
        broker=base.broker,
        topics=[*(t.name for t in (*CONSUMED_TOPICS, *PRODUCED_TOPICS)), *ERASURE_TOPIC_NAMES],
        routers=[funnels_router, agents_router],
        readiness=base.readiness(),
        on_startup=[store.ensure_indexes, erasure.ensure_collections],
        after_broker_start=[exposition.start, consumer.start, relay.start_async],
        on_shutdown=[consumer.stop, exposition.stop, relay.stop],
        after_broker_stop=[base.mongo.close],
        metrics_registries=[exposition.render],
        access=ACCESS,
    )
    app.state.store = store
    app.state.metrics = metrics
    app.state.exposition = exposition
    app.state.consumer = consumer
    return app


def create_app_from_env() -> FastAPI:
    """Entry point for uvicorn: `uvicorn --factory metrics.main:create_app_from_env`."""
    return create_app(MetricsSettings())


def asyncapi_app() -> FastStream:
    """For `faststream docs gen --factory metrics.main:asyncapi_app`: the same broker, not started."""
    settings = MetricsSettings()
    return specification_app(settings, build_router(settings, specification=True), title="metrics",
                             description=DESCRIPTION)
