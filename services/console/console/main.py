"""Wiring only: build the console (backend-for-frontend) from settings. Nothing connects at import time."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from faststream import FastStream
from faststream.kafka import KafkaRouter
from starlette.middleware.gzip import GZipMiddleware

from telesales_contracts.topics import CALLS_LOGGED
from telesales_runtime.app import ServiceBase, create_service_app, specification_app
from telesales_runtime.auth import ServiceTokenAuth
from telesales_runtime.erasure import ERASURE_TOPIC_NAMES, subscribe_erasures, wire_erasure
from telesales_runtime.kafka import declare_publishers

from .api import ACCESS, ROUTERS
from .calls import CallLogger
from .erasure import ErasedLeads, notification_eraser
from .events import CONSUMED_TOPICS as LIVE_CONSUMED
from .events import DEAD_LETTERS_CONTEXT, FEED_CONTEXT
from .events import PRODUCED_TOPICS as LIVE_PRODUCED
from .events import build_router as build_live_router
from .feed import NotificationFeed
from .live import LiveHub
from .notifications_api import ACCESS as NOTIFICATIONS_ACCESS
from .notifications_api import FEED_STATE, HUB_STATE, notifications_router
from .oidc import OidcClient
from .security import SecurityHeadersMiddleware
from .session import SessionMiddleware, Sessions
from .settings import ConsoleSettings
from .signin import signin_router
from .store import NotificationStore, SessionStore
from .web_app import WebDist, web_router

DESCRIPTION = (
    "The floor console's backend-for-frontend: serves the web app, keeps browser sessions (development "
    "sign-in or OpenID Connect), calls the five services with the signed-in user's token (/api/<service>/...), "
    "logs calls (calls.logged.v1) and runs the live notification channel."
)
PRODUCED_TOPICS = (CALLS_LOGGED,)
TOPICS = (*(t.name for t in (*PRODUCED_TOPICS, *LIVE_CONSUMED, *LIVE_PRODUCED)), *ERASURE_TOPIC_NAMES)


def build_broker_router(settings: ConsoleSettings) -> KafkaRouter:
    """The calls.logged.v1 publisher and the live channel's consumers (events.py)."""
    router = build_live_router(settings)
    declare_publishers(router, PRODUCED_TOPICS)
    subscribe_erasures(router, settings, settings.consumer_group)
    return router


def create_app(settings: ConsoleSettings, *, upstream_transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    """`upstream_transport`: how the five services are reached (tests pass a mock or in-process transport);
    the identity provider is always reached over the network."""
    base = ServiceBase.build(settings, build_broker_router(settings), group=settings.consumer_group)
    store = SessionStore(base.mongo, settings.mongo_db)
    notification_store = NotificationStore(base.mongo, settings.mongo_db,
                                           retention_days=settings.notification_retention_days)
    hub = LiveHub(redis_url=settings.redis_url, store=notification_store,
                  heartbeat_seconds=settings.sse_heartbeat_seconds, channel=settings.notification_channel)
    erased = ErasedLeads(base.mongo[settings.mongo_db]["erasures"])
    feed = NotificationFeed(store=notification_store, hub=hub, erased=erased)
    base.broker.context.set_global(FEED_CONTEXT, feed)
    base.broker.context.set_global(DEAD_LETTERS_CONTEXT, base.dead_letters)
    # An outbox only for the erasures' answers (calls are published directly, see calls.py).
    relay = base.relay(base.mongo[settings.mongo_db]["outbox"], base.mongo[settings.mongo_db]["leases"])
    erasure = wire_erasure(base, settings.mongo_db, notification_eraser(notification_store.notifications),
                           notify=relay.notify)
    oidc = OidcClient(settings) if settings.oidc_issuer else None
    sessions = Sessions(settings, store, oidc)
    # The user's token is set per request; the service token only for the roster read of development sign-in.
    upstream_http = httpx.AsyncClient(timeout=settings.upstream_timeout_seconds, transport=upstream_transport)
    service_http = httpx.AsyncClient(timeout=settings.upstream_timeout_seconds, transport=upstream_transport,
                                     auth=ServiceTokenAuth(settings))
    closing = [upstream_http.aclose, service_http.aclose, *([oidc.aclose] if oidc else [])]

    app = create_service_app(
        settings=settings,
        title="console",
        description=DESCRIPTION,
        broker=base.broker,
        topics=list(TOPICS),
        routers=[*ROUTERS, notifications_router],
        readiness=base.readiness(redis=hub.ping, notifications=hub.ready),
        on_startup=[store.ensure_indexes, notification_store.ensure_indexes, erasure.ensure_collections, erased.ensure_index,
                    hub.start],
        after_broker_start=[relay.start_async],
        # open streams end first: the server waits for every open response before it stops
        on_shutdown=[hub.end_streams, relay.stop, *closing],
        after_broker_stop=[hub.stop, base.mongo.close],
        access={**ACCESS, **NOTIFICATIONS_ACCESS},
    )
    app.include_router(signin_router)  # open: nobody is signed in yet
    app.include_router(web_router)  # last: its history fallback answers every GET path left
    # Outermost last: gzip (not event streams) around the security headers around the session (and CSRF).
    app.add_middleware(SessionMiddleware, sessions=sessions)
    app.add_middleware(SecurityHeadersMiddleware, form_targets=[settings.oidc_issuer] if settings.oidc_issuer else [])
    app.add_middleware(GZipMiddleware, minimum_size=1024)
    setattr(app.state, FEED_STATE, feed)
    setattr(app.state, HUB_STATE, hub)
    app.state.store = store
    app.state.notification_store = notification_store
    app.state.sessions = sessions
    app.state.oidc = oidc
    app.state.upstream_http = upstream_http
    app.state.calls = CallLogger(settings=settings, store=store, broker=base.broker, http=upstream_http)
    app.state.service_http = service_http
    app.state.web_dist = WebDist(settings.web_dist)
    return app


def create_app_from_env() -> FastAPI:
    """Entry point for uvicorn: `uvicorn --factory console.main:create_app_from_env`."""
    return create_app(ConsoleSettings())


def asyncapi_app() -> FastStream:
    """For `faststream docs gen --factory console.main:asyncapi_app`: the same broker, not started."""
    settings = ConsoleSettings()
    return specification_app(settings, build_broker_router(settings), title="console", description=DESCRIPTION)
