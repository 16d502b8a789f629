"""Kill the ledger mid-stream and start it again: the real service (uvicorn, its own process) on the real
broker and database, a stream of purchase requests on Kafka (with duplicate deliveries, retried and
conflicting transfer ids), SIGKILL while it is consuming, the rest of the stream published while it is
down, a restart. The balances must equal those of the same stream applied without interruption (the pure
domain's decisions, one request after another), and every request must be answered."""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient

from ledger.domain import LedgerPolicy
from ledger.events import CONSUMED_TOPICS, PRODUCED_TOPICS
from ledger.main import create_app
from ledger.settings import LedgerSettings
from ledger_support import TRANSFER_REQUESTED, purchase_requests, uninterrupted
from telesales_contracts import CLOUDEVENTS_CONTENT_TYPE
from telesales_runtime.kafka import ensure_topics
from telesales_testkit.auth import auth_headers
from telesales_testkit.infra import ServiceProcess
from telesales_testkit.kafka import TopicTail, position_group_at_end

BUYERS = [f"b{n}" for n in range(12)]
SELLERS = [f"s{n}" for n in range(6)]
TIME = "2026-11-24T10:00:00+08:00"


@pytest.fixture
async def producer(infra: Any) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, acks="all")
    await producer.start()
    yield producer
    await producer.stop()


async def abort_orphaned_transactions(mongo: AsyncMongoClient[dict[str, Any]], app_name: str) -> int:
    """End the sessions a killed process left open on the server. MongoDB aborts a transaction whose client
    vanished only after transactionLifetimeLimitSeconds (60 s); until then its locks make the restarted
    service's transactions on the same documents conflict and wait. This does at once what the server does
    then (an operator's killSessions): the open transaction is discarded, nothing of it was committed."""
    ops = await (await mongo.admin.aggregate([{"$currentOp": {"allUsers": True, "idleSessions": True}},
                                              {"$match": {"appName": app_name}}])).to_list()
    sessions = [op["lsid"] for op in ops if "lsid" in op]
    if sessions:
        await mongo.admin.command("killSessions", sessions)
    return len(sessions)


async def wait_until(check: Any, timeout: float, what: str, process: ServiceProcess) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what} not reached in {timeout}s\n{process.tail()}")


async def test_killing_the_ledger_mid_stream_loses_and_doubles_nothing(infra: Any, producer: AIOKafkaProducer,
                                                                       tmp_path: Path) -> None:
    run = uuid.uuid4().hex[:8]
    tenant, database, group = f"restart-{run}", f"test_ledger_restart_{run}", f"ledger-restart-{run}"
    source, app_name = f"/services/ledger/restart-{run}", f"ledger-restart-{run}"
    settings = LedgerSettings(kafka_bootstrap=infra.kafka_bootstrap, mongo_uri=infra.mongo_uri, mongo_db=database,
                              consumer_group=group, log_json=False, sweep_enabled=False)
    rng = random.Random(4)
    funds = {b: rng.randint(150, 700) for b in BUYERS}
    policy = LedgerPolicy(seller_share_percent=85, daily_limits={"buyer_daily_count": 25, "buyer_daily_coins": 1200,
                                                                 "pair_daily_count": 4, "pair_daily_coins": None})

    # the books before the stream: coins issued and allocated, the tenant's policy
    seed_app = create_app(settings)
    ledger, store = seed_app.state.ledger, seed_app.state.store
    await store.ensure_indexes()
    await store.put_config(tenant, "policy", policy.model_dump(mode="json"), None, datetime.now(UTC))
    await ledger.issue(tenant=tenant, transfer_id="issue-1", amount=sum(funds.values()), actor="test", note=None)
    for buyer, amount in funds.items():
        await ledger.allocate(tenant=tenant, allocation_id=f"alloc-{buyer}", amount=amount, actor="test",
                              user_ids=[buyer])
    await store.client.close()

    await ensure_topics(infra.kafka_bootstrap, [t.name for t in (*CONSUMED_TOPICS, *PRODUCED_TOPICS)], 3, 1)
    for topic in CONSUMED_TOPICS:  # a shared broker holds history: start at its end
        await position_group_at_end(infra.kafka_bootstrap, group, topic.name)
    tail = await TopicTail(infra.kafka_bootstrap, "ledger.transfer-posted.v1", "ledger.transfer-rejected.v1").start()
    env = {**os.environ, **infra.as_env(), "LEDGER_SERVICE_NAME": app_name, "LEDGER_MONGO_DB": database,
           "LEDGER_CONSUMER_GROUP": group,
           "LEDGER_EVENT_SOURCE": source, "LEDGER_BATCH_MAX_RECORDS": "20", "LEDGER_SWEEP_ENABLED": "false",
           "LEDGER_LOG_JSON": "false", "LEDGER_OUTBOX_POLL_SECONDS": "0.1", "LEDGER_KAFKA_SESSION_TIMEOUT_MS": "6000"}
    service = ServiceProcess("ledger", "ledger", env, tmp_path / "ledger.log")
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_uri, tz_aware=True)
    inbox, outbox = mongo[database]["inbox"], mongo[database]["outbox"]

    events = purchase_requests(tenant, rng, count=360, buyers=BUYERS, sellers=SELLERS, tips=40, max_price=90,
                               id_prefix="p-", time=TIME, source="/tests/marketplace")
    unique = {event_id for event_id, _, _ in events}
    expected, outcomes = uninterrupted(events, funds, policy, settings.tz)
    half = len(events) // 2
    try:
        service.start()
        await service.wait_ready(timeout=60, path="/healthz")
        for n, (_, key, value) in enumerate(events[:half]):
            await producer.send(TRANSFER_REQUESTED, value, key=key, headers=[("content-type", CLOUDEVENTS_CONTENT_TYPE.encode())])
            if n % 40 == 39:
                await producer.flush()
        await producer.flush()

        async def consuming() -> bool:
            return await inbox.count_documents({"tenant_id": tenant}) >= 20
        await wait_until(consuming, 60, "the first batches", service)
        service.kill()  # mid-stream: batches in flight, offsets and outbox rows behind
        await abort_orphaned_transactions(mongo, app_name)
        processed_at_kill = await inbox.count_documents({"tenant_id": tenant})
        for _, key, value in events[half:]:
            await producer.send(TRANSFER_REQUESTED, value, key=key, headers=[("content-type", CLOUDEVENTS_CONTENT_TYPE.encode())])
        await producer.flush()
        assert processed_at_kill < len(unique), "the kill came too late to interrupt anything"

        service.start()

        async def caught_up() -> bool:
            return (await inbox.count_documents({"tenant_id": tenant}) == len(unique)
                    and await outbox.count_documents({}) == 0)
        await wait_until(caught_up, 90, "every request processed and announced", service)

        stored = {doc["key"]: doc["balance"] async for doc in mongo[database]["accounts"].find({"tenant_id": tenant})}
        assert {k: v for k, v in stored.items() if v} == expected
        decided = {doc["transfer_id"]: doc["state"] async for doc in mongo[database]["transfers"].find(
            {"tenant_id": tenant, "kind": "purchase"})}
        assert decided == outcomes
        assert set(outcomes.values()) == {"posted", "rejected"}

        # every request was answered on Kafka, by the decision made for its transfer id
        async def answered() -> bool:
            await tail.poll()
            ids = {e["data"]["request_event_id"] for t in tail.events.values() for e in t
                   if e.get("source") == source}
            return ids >= unique
        await wait_until(answered, 30, "an answer to every request", service)
        for topic, state in (("ledger.transfer-posted.v1", "posted"), ("ledger.transfer-rejected.v1", "rejected")):
            for e in tail.events[topic]:
                if e.get("source") != source or e["data"].get("reason") == "transfer_id_conflict":
                    continue  # a conflicting reuse of an id is refused on its own; the first decision stands
                assert outcomes[e["data"]["transfer_id"]] == state, e
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{service.port}") as http:
            audit = (await http.get("/v1/audit", params={"verify": "true"}, headers=auth_headers("operator", "ops-1", tenant=tenant))).json()
        assert audit["ok"], audit
    finally:
        service.stop()
        await tail.stop()
        await mongo.drop_database(database)
        await mongo.close()
