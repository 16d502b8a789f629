"""Wiring only: build the allocator application from settings. Nothing connects at import time."""

from __future__ import annotations

from fastapi import FastAPI
from faststream import FastStream

from telesales_runtime.access_log import UnmaskBudget
from telesales_runtime.access_log_api import access_log_router
from telesales_runtime.app import ServiceBase, create_service_app, specification_app
from telesales_runtime.erasure import ERASURE_TOPIC_NAMES, wire_erasure
from telesales_runtime.pii_rotation import PiiRotation
from telesales_runtime.redis_client import connect_redis

from .api import (
    ACCESS,
    config_router,
    dialing_router,
    floor_router,
    ops_router,
    pools_router,
    roster_router,
    supervising_router,
)
from .disclosure import Disclosure
from .erasure import RetentionSweep, lead_eraser
from .events import CONSUMED_TOPICS, PRODUCED_TOPICS, build_router
from .guards import ClaimGuard
from .privacy import providers_from
from .queries import LeadQueries
from .roster import RosterService
from .service import LeadService
from .settings import AllocatorSettings
from .store import AllocatorStore
from .store.dial_bindings import DialBindingStore
from .store.embedded_outbox import EmbeddedOutboxRelay
from .store.privacy_numbers import SimulatedNumberStore
from .sweeper import Sweeper

DESCRIPTION = (
    "Owns who works which lead: public pools per business line and agents' private pools, tiered pools "
    "that agents claim from by grade, holding caps, push distribution strategies, and reclaim of leads "
    "left unworked."
)


def create_app(settings: AllocatorSettings) -> FastAPI:
    base = ServiceBase.build(settings, build_router(settings), group=settings.consumer_group)
    redis = connect_redis(settings.redis_url)
    store = AllocatorStore(base.mongo, settings.mongo_db, consumer=settings.consumer_group,
                           keyring=settings.pii_keyring_loaded())
    rotation = PiiRotation(store.leases, store.sealing.rotation_targets(store.leads, store.do_not_call),
                           service=settings.service_name, interval_seconds=settings.pii_rotation_interval_seconds,
                           lease_seconds=settings.lease_seconds, batch_size=settings.pii_rotation_batch_size)
    lead_relay = base.relay(store.leads, store.leases, purpose="lead-events", kind=EmbeddedOutboxRelay)
    outbox_relay = base.relay(store.outbox, store.leases)
    guard = ClaimGuard(redis, lock_seconds=settings.claim_lock_seconds)
    leads = LeadService(settings, store, guard, base.dead_letters, lead_relay.notify, outbox_relay.notify)
    simulated_numbers = SimulatedNumberStore(base.mongo, settings.mongo_db, keyring=store.sealing.keyring)
    leads.privacy = providers_from(settings, simulated_numbers)
    leads.dial_bindings = DialBindingStore(base.mongo, settings.mongo_db)
    roster = RosterService(leads, store)
    sweeper = Sweeper(leads, roster, store)
    disclosure = Disclosure(settings, store, UnmaskBudget(redis), outbox_relay.notify, leads.supervisors_of,
                            leads.policy)
    erasure = wire_erasure(base, settings.mongo_db, lead_eraser(store, source=settings.source), notify=outbox_relay.notify)
    retention = RetentionSweep(store, source=settings.source, interval_seconds=settings.retention_interval_seconds,
                               lease_seconds=settings.lease_seconds, batch=settings.retention_batch_size,
                               enabled=settings.sweep_enabled, notify=outbox_relay.notify)
    base.broker.context.set_global("leads", leads)
    base.broker.context.set_global("roster", roster)

    app = create_service_app(
        settings=settings,
        title="allocator",
        description=DESCRIPTION,
        broker=base.broker,
        topics=[*(t.name for t in (*CONSUMED_TOPICS, *PRODUCED_TOPICS)), *ERASURE_TOPIC_NAMES],
        routers=[roster_router, pools_router, config_router, ops_router, dialing_router, floor_router,
                 supervising_router, access_log_router(lambda request: request.app.state.store.access_log)],
        readiness=base.readiness(redis=guard.ping),
        on_startup=[store.ensure_indexes, erasure.ensure_collections,
                    lambda: store.access_log.ensure_indexes(settings.access_log_retention_days),
                    simulated_numbers.ensure_indexes, leads.dial_bindings.ensure_indexes],
        after_broker_start=[lead_relay.start_async, outbox_relay.start_async, sweeper.start, retention.start,
                            rotation.start],
        on_shutdown=[rotation.stop, retention.stop, sweeper.stop, lead_relay.stop, outbox_relay.stop,
                     leads.privacy.close],
        after_broker_stop=[redis.aclose, base.mongo.close],
        access=ACCESS,
    )
    app.state.store = store
    app.state.leads = leads
    app.state.roster = roster
    app.state.queries = LeadQueries(store, leads)
    app.state.sweeper = sweeper
    app.state.retention = retention
    app.state.pii_rotation = rotation
    app.state.disclosure = disclosure
    app.state.simulated_numbers = simulated_numbers
    app.state.lead_relay = lead_relay
    app.state.outbox_relay = outbox_relay
    return app


def create_app_from_env() -> FastAPI:
    """Entry point for uvicorn: `uvicorn --factory allocator.main:create_app_from_env`."""
    return create_app(AllocatorSettings())


def asyncapi_app() -> FastStream:
    """For `faststream docs gen --factory allocator.main:asyncapi_app`: the same broker, not started."""
    settings = AllocatorSettings()
    return specification_app(settings, build_router(settings), title="allocator", description=DESCRIPTION)
