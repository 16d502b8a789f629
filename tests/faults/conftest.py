"""Fault-injection tests (`make test-faults`, marker `faults` given by the workspace's pytest plugin,
telesales_testkit.plugin; `make test` leaves them out).

The session gets a broker and a MongoDB of its own (a private Apache Kafka node and a private mongod, both
children of this process) so that the tests can kill, stop and freeze them without touching the local
stack or another test session; Redis is the stack's. The five services run as real processes (uvicorn,
as `make up` runs them) on those, each in a database of its own, so SIGKILL is a real crash."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient

from faults_support import (
    CE_HEADERS,
    PARTITIONS,
    SPECS,
    FaultInfra,
    Platform,
    ServiceProcess,
    event,
    service_env,
    wait_until,
)
from telesales_testkit.infra import PrivateBroker, PrivateMongo, free_port, start_local_stack


@pytest.fixture(scope="session")
def fault_infra() -> Iterator[FaultInfra]:
    workdir = Path(tempfile.mkdtemp(prefix="telesales-faults-"))
    # Redis is the local stack's (started here, and stopped again, when it does not run, as `make test` does)
    stack, stop_stack = start_local_stack()
    broker = PrivateBroker(workdir, partitions=PARTITIONS)  # the contracts' topics created at its start
    mongo = PrivateMongo(workdir)
    try:
        broker.start()
        mongo.start()
        yield FaultInfra(broker, mongo, stack.redis_url, workdir)
    finally:
        broker.remove()  # a failed freeze test must not leave it stopped: remove() thaws it first
        mongo.stop()
        stop_stack()
        shutil.rmtree(mongo.dbpath, ignore_errors=True)  # the logs stay in the workdir


@pytest.fixture(scope="session")
async def platform(fault_infra: FaultInfra) -> AsyncIterator[Platform]:
    run = uuid.uuid4().hex[:8]
    ports = {name: free_port() for name in SPECS}
    services = {name: ServiceProcess(spec.name, spec.module, service_env(fault_infra, spec, run, ports), fault_infra.workdir / f"{name}.log",
                                     port=ports[name]) for name, spec in SPECS.items()}
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(fault_infra.mongo_uri, tz_aware=True,
                                                               serverSelectionTimeoutMS=60_000)
    try:
        for service in services.values():
            service.start()
        for service in services.values():
            await service.wait_ready(120)
        platform = Platform(fault_infra, services, run, mongo)
        await warm_up(platform)
        yield platform
    finally:
        for service in services.values():
            service.stop()
        await mongo.close()


@pytest.fixture
async def producer(fault_infra: FaultInfra) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(bootstrap_servers=fault_infra.kafka_bootstrap, acks="all")
    await producer.start()
    yield producer
    await producer.stop()




async def warm_up(platform: Platform) -> None:
    """Every consumer that the tests count on takes an event before the first test."""
    tenant = f"warm-up-{platform.run}"
    producer = AIOKafkaProducer(bootstrap_servers=platform.infra.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        _, body = event("agents.changed.v1", tenant, {"agent_id": "warm-up", "name": "warm-up", "role": "agent"})
        await producer.send_and_wait("agents.changed.v1", body, key=b"warm-up", headers=CE_HEADERS)
        _, body = event("leads.received.v1", tenant, {"phone": "13987654021", "business_line": "education"})
        await producer.send_and_wait("leads.received.v1", body, key=b"13987654021", headers=CE_HEADERS)
    finally:
        await producer.stop()
    for name in ("lead-intake", "allocator", "ledger"):
        inbox = platform.db(name)["inbox"]
        await wait_until(lambda inbox=inbox: inbox.count_documents({"tenant_id": tenant}), 45, f"{name} consuming",
                         platform[name])
