"""Wiring only: build the marketplace application from settings. Nothing connects at import time."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from faststream import FastStream

from telesales_runtime.app import ServiceBase, create_service_app, specification_app
from telesales_runtime.auth import ServiceTokenAuth
from telesales_runtime.erasure import ERASURE_TOPIC_NAMES, nothing_personal, wire_erasure

from .api import (
    ACCESS,
    activity_router,
    browse_router,
    purchases_router,
    sellers_router,
    struggle_router,
    tips_router,
)
from .events import CONSUMED_TOPICS, PRODUCED_TOPICS, build_router
from .service import MarketplaceService
from .settings import MarketplaceSettings
from .store import MarketplaceStore
from .struggle_job import StruggleWindowJob

DESCRIPTION = (
    "The tips marketplace (锦囊集市): sellers write tips (scripts and media for a call stage), reviewers approve "
    "them against a checklist, agents find them (Chinese full text), buy them with coins paid by the ledger, "
    "learn, rate and forward them; sellers follow sales and earnings and redeem; agents who lag their team at "
    "a funnel step over a rolling window, or whose call ends at an objection without progress, get the best-rated "
    "tip of that call stage pushed (at most N a day)."
)


def create_app(settings: MarketplaceSettings, ledger_transport: httpx.AsyncBaseTransport | None = None,
               metrics_transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    """`ledger_transport`, `metrics_transport`: how the ledger's and the metrics service's HTTP APIs are
    reached (tests pass in-process transports). Both are called with a service token
    (telesales_runtime.auth.ServiceTokenAuth: auth_service_token, else one signed with the HS256 secret)."""
    base = ServiceBase.build(settings, build_router(settings), group=settings.consumer_group)
    store = MarketplaceStore(base.mongo, settings.mongo_db, consumer=settings.consumer_group,
                             chunk_bytes=settings.media_chunk_bytes)
    relay = base.relay(store.outbox, store.leases)
    # No lead's person is kept here (coins and tips of users): an erasure scrubs the outbox and answers.
    erasure = wire_erasure(base, settings.mongo_db, nothing_personal, notify=relay.notify)
    ledger_http = httpx.AsyncClient(base_url=settings.ledger_url, timeout=settings.ledger_timeout_seconds,
                                    transport=ledger_transport, auth=ServiceTokenAuth(settings))
    market = MarketplaceService(settings, store, base.dead_letters, relay.notify, ledger_http)
    metrics_http = httpx.AsyncClient(base_url=settings.metrics_url, timeout=settings.metrics_timeout_seconds,
                                     transport=metrics_transport, auth=ServiceTokenAuth(settings))
    window_job = StruggleWindowJob(market, metrics_http)
    base.broker.context.set_global("marketplace", market)

    app = create_service_app(
        settings=settings,
        title="marketplace",
        description=DESCRIPTION,
        broker=base.broker,
        topics=[*(t.name for t in (*CONSUMED_TOPICS, *PRODUCED_TOPICS)), *ERASURE_TOPIC_NAMES],
        routers=[tips_router, browse_router, purchases_router, activity_router, sellers_router, struggle_router],
        readiness=base.readiness(),
        on_startup=[erasure.ensure_collections, store.ensure_indexes, market.search_feed.start],
        after_broker_start=[relay.start_async, window_job.start],
        on_shutdown=[window_job.stop, relay.stop, market.search_feed.stop, ledger_http.aclose, metrics_http.aclose],
        after_broker_stop=[base.mongo.close],
        access=ACCESS,
    )
    app.state.store = store
    app.state.marketplace = market
    app.state.relay = relay
    app.state.metrics_http = metrics_http
    app.state.struggle_window_job = window_job
    return app


def create_app_from_env() -> FastAPI:
    """Entry point for uvicorn: `uvicorn --factory marketplace.main:create_app_from_env`."""
    return create_app(MarketplaceSettings())


def asyncapi_app() -> FastStream:
    """For `faststream docs gen --factory marketplace.main:asyncapi_app`: the same broker, not started."""
    settings = MarketplaceSettings()
    return specification_app(settings, build_router(settings), title="marketplace", description=DESCRIPTION)
