"""Wiring only: build the lead-intake application from settings. Nothing connects at import time."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from faststream import FastStream

from telesales_contracts.topics import LEADS_RECEIVED
from telesales_runtime.access_log_api import access_log_router
from telesales_runtime.app import ServiceBase, create_service_app, specification_app
from telesales_runtime.erasure import ERASURE_TOPIC_NAMES, wire_erasure
from telesales_runtime.pii_rotation import PiiRotation

from . import phone_regions
from .api import ACCESS, dnc_router, router, scoring_router
from .checkers import HttpNumberChecker, NumberChecker, OfflineNumberChecker
from .config_api import ACCESS as CONFIG_ACCESS
from .config_api import config_router
from .erasure import ACCESS as ERASURE_ACCESS
from .erasure import ErasureService, ErasureWatch, erasure_router
from .erasure_store import ErasureRequests, lead_eraser
from .events import CONSUMED_TOPICS, PRODUCED_TOPICS, build_router
from .queries import IntakeQueries
from .service import IntakeService
from .settings import LeadIntakeSettings
from .store import LeadStore
from .topic_erasure import retention_preparer, topic_step_of

DESCRIPTION = (
    "Cleans and scores leads before they enter the pools: standardize, enrich, drop junk, de-duplicate, "
    f"test numbers, score. Leads arrive on {LEADS_RECEIVED.name} or through this API."
)


def create_app(settings: LeadIntakeSettings) -> FastAPI:
    phone_regions.use(phone_regions.load(settings.phone_regions_dir))  # before the first lead, not during it
    # Each consumed topic has a group of its own (events.py), named in the dead letters.
    base = ServiceBase.build(settings, build_router(settings), group=settings.consumer_group, group_per_topic=True)
    store = LeadStore(base.mongo, settings.mongo_db, consumer=settings.consumer_group,
                      keyring=settings.pii_keyring_loaded())
    rotation = PiiRotation(store.leases, store.sealing.rotation_targets(store.leads, store.do_not_call),
                           service=settings.service_name, interval_seconds=settings.pii_rotation_interval_seconds,
                           lease_seconds=30, batch_size=settings.pii_rotation_batch_size)
    relay = base.relay(store.outbox, store.leases)
    http_client: httpx.AsyncClient | None = None
    checker: NumberChecker = OfflineNumberChecker()
    if settings.number_checker == "http":
        if not settings.number_checker_url:
            raise ValueError("LEAD_INTAKE_NUMBER_CHECKER=http needs LEAD_INTAKE_NUMBER_CHECKER_URL")
        http_client = httpx.AsyncClient()
        checker = HttpNumberChecker(settings.number_checker_url, http_client, settings.number_checker_timeout_seconds)
    intake = IntakeService(settings, store, checker, base.dead_letters, relay.notify)
    base.broker.context.set_global("intake", intake)
    erasure_requests = ErasureRequests(store, settings.erasure_services)
    erasures = ErasureService(requests=erasure_requests, settings=settings, dead_letters=base.dead_letters,
                              notify=relay.notify)
    base.broker.context.set_global("erasures", erasures)
    wire_erasure(base, settings.mongo_db, lead_eraser(store), notify=relay.notify,
                 prepare=retention_preparer(erasure_requests))
    watch = ErasureWatch(erasures)
    topic_step = topic_step_of(settings, erasure_requests, store.db)

    async def close_clients() -> None:
        if http_client is not None:
            await http_client.aclose()
        await base.mongo.close()

    app = create_service_app(
        settings=settings,
        title="lead-intake",
        description=DESCRIPTION,
        broker=base.broker,
        topics=[*(t.name for t in (*CONSUMED_TOPICS, *PRODUCED_TOPICS)), *ERASURE_TOPIC_NAMES],
        routers=[router, dnc_router, scoring_router, config_router, erasure_router,
                 access_log_router(lambda request: request.app.state.store.access_log)],
        readiness=base.readiness(),
        on_startup=[store.ensure_indexes, erasure_requests.ensure_indexes,
                    lambda: store.access_log.ensure_indexes(settings.access_log_retention_days)],
        after_broker_start=[relay.start_async, watch.start, rotation.start, topic_step.start],
        on_shutdown=[topic_step.stop, rotation.stop, watch.stop, relay.stop],
        after_broker_stop=[close_clients],
        access={**ACCESS, **CONFIG_ACCESS, **ERASURE_ACCESS},
    )
    app.state.intake = intake
    app.state.queries = IntakeQueries(store, intake)
    app.state.relay = relay
    app.state.erasures = erasures
    app.state.topic_erasure = topic_step
    app.state.store = store
    app.state.pii_rotation = rotation
    return app


def create_app_from_env() -> FastAPI:
    """Entry point for uvicorn: `uvicorn --factory lead_intake.main:create_app_from_env`."""
    return create_app(LeadIntakeSettings())


def asyncapi_app() -> FastStream:
    """For `faststream docs gen --factory lead_intake.main:asyncapi_app`: the same broker, not started."""
    settings = LeadIntakeSettings()
    return specification_app(settings, build_router(settings), title="lead-intake", description=DESCRIPTION)
