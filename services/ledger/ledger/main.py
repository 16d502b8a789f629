"""Wiring only: build the ledger application from settings. Nothing connects at import time."""

from __future__ import annotations

from fastapi import FastAPI
from faststream import FastStream

from telesales_runtime.app import ServiceBase, create_service_app, specification_app
from telesales_runtime.erasure import ERASURE_TOPIC_NAMES, nothing_personal, wire_erasure

from .api import ACCESS, accounts_router, admin_router, operations_router, transfers_router
from .events import CONSUMED_TOPICS, PRODUCED_TOPICS, build_router
from .queries import LedgerQueries
from .service import LedgerService
from .settings import LedgerSettings
from .store import LedgerStore
from .sweeper import Sweeper

DESCRIPTION = (
    "Owns every coin (学呗金) of the tips marketplace in a double-entry ledger: operators' budget, users' "
    "wallets, sellers' earnings, holds in escrow, the redemption sink and the blind-box pool. Pays purchases "
    "under daily limits, allocates, reclaims idle coins, redeems at 100 coins = 1 yuan, draws blind boxes."
)


def create_app(settings: LedgerSettings) -> FastAPI:
    base = ServiceBase.build(settings, build_router(settings), group=settings.consumer_group)
    store = LedgerStore(base.mongo, settings.mongo_db, consumer=settings.consumer_group)
    # The relay sends a pass's answers together, then waits for the broker's word: a linger would only
    # hold each pass's batch back (5 ms, the platform's setting) and delay every answer by as much.
    relay = base.relay(store.outbox, store.leases, producer_options={"linger_ms": 0})
    # No lead's person is kept here (coins and tips of users): an erasure scrubs the outbox and answers.
    erasure = wire_erasure(base, settings.mongo_db, nothing_personal, notify=relay.notify)
    ledger = LedgerService(settings, store, base.dead_letters, relay.notify)
    sweeper = Sweeper(ledger)
    base.broker.context.set_global("ledger", ledger)

    app = create_service_app(
        settings=settings,
        title="ledger",
        description=DESCRIPTION,
        broker=base.broker,
        topics=[*(t.name for t in (*CONSUMED_TOPICS, *PRODUCED_TOPICS)), *ERASURE_TOPIC_NAMES],
        routers=[accounts_router, transfers_router, operations_router, admin_router],
        readiness=base.readiness(),
        on_startup=[erasure.ensure_collections, store.ensure_indexes],
        after_broker_start=[relay.start_async, sweeper.start],
        on_shutdown=[sweeper.stop, relay.stop],
        after_broker_stop=[base.mongo.close],
        access=ACCESS,
    )
    app.state.store = store
    app.state.ledger = ledger
    app.state.queries = LedgerQueries(store)
    app.state.sweeper = sweeper
    app.state.relay = relay
    return app


def create_app_from_env() -> FastAPI:
    """Entry point for uvicorn: `uvicorn --factory ledger.main:create_app_from_env`."""
    return create_app(LedgerSettings())


def asyncapi_app() -> FastStream:
    """For `faststream docs gen --factory ledger.main:asyncapi_app`: the same broker, not started."""
    settings = LedgerSettings()
    return specification_app(settings, build_router(settings), title="ledger", description=DESCRIPTION)
