"""metrics as the sole consumer, on the real broker and database: two replicas, one consuming; the consuming
one crashes in the middle of a stream (its lease not handed over, a checkpoint perhaps still being written)
and the other takes over from the last checkpoint: every event is counted exactly once. Scraped together, the
two replicas' floor figures sum to the truth before, during and after such a hand-over (one exposes them at a
time). A counting rule that fails on an event dead-letters that event and counts the rest once. A replica
that lost its lease cannot write over its successor's checkpoint."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from pymongo import AsyncMongoClient

from metrics import domain
from metrics.dedup import event_digest, unpack
from metrics.events import CONSUMED_TOPICS
from metrics.exposition import FAMILY_NAMES
from metrics.main import create_app
from metrics.replicas import REPLICA_FAMILY_NAMES
from metrics.settings import MetricsSettings
from metrics.sole_consumer import Fenced
from metrics.store import Checkpoint, Fence, MetricsStore
from telesales_contracts import CLOUDEVENTS_CONTENT_TYPE
from telesales_testkit.harness import cloudevent, wait_until
from telesales_testkit.kafka import TopicTail, position_group_at_end

HEADERS = [("content-type", CLOUDEVENTS_CONTENT_TYPE.encode())]


@pytest.fixture
async def settings(infra: Any) -> MetricsSettings:
    run = uuid.uuid4().hex[:8]
    settings = MetricsSettings(kafka_bootstrap=infra.kafka_bootstrap, mongo_uri=infra.mongo_uri,
                               redis_url=infra.redis_url, mongo_db=f"test_sole_{run}",
                               consumer_group=f"metrics-sole-{run}", log_json=False, refresh_seconds=3600,
                               lease_seconds=3, checkpoint_seconds=0.3, kafka_fetch_max_wait_ms=50)
    # A new deployment on a broker with history: its group starts at the end (the consumer adopts it).
    await asyncio.gather(*(position_group_at_end(infra.kafka_bootstrap, settings.consumer_group, topic.name)
                           for topic in CONSUMED_TOPICS))
    return settings


@pytest.fixture
async def mongo(infra: Any, settings: MetricsSettings) -> AsyncIterator[AsyncMongoClient[dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_uri, tz_aware=True)
    yield client
    await client.drop_database(settings.mongo_db)
    await client.close()


@asynccontextmanager
async def replica(settings: MetricsSettings) -> AsyncIterator[FastAPI]:
    """A metrics replica as it runs: its whole start-up and shutdown (broker, consumer, exposition)."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


def crash(app: FastAPI) -> None:
    """Stop the replica's consumer as a SIGKILL would: no final checkpoint, the lease not handed over (a
    checkpoint already being written may still land)."""
    task = app.state.consumer._task  # noqa: SLF001 - the test kills what a signal would kill
    assert task is not None
    task.cancel()


def calls(tenant: str, n: int, start: int = 0) -> list[tuple[str, bytes, bytes]]:
    """(event id, key, value) of `n` calls of agents a0..a2, every other one effective."""
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    out = []
    for i in range(start, start + n):
        event_id = f"call-{i}-{uuid.uuid4().hex[:6]}"
        data = {"agent_id": f"a{i % 3}", "lead_id": f"L{i}", "started_at": (at + timedelta(seconds=i)).isoformat(),
                "duration_seconds": 75 if i % 2 else 20, "connected": True}
        out.append((event_id, f"L{i}".encode(), cloudevent("calls.logged.v1", tenant, data, event_id=event_id,
                                                            time=at.isoformat())))
    return out


async def publish(producer: AIOKafkaProducer, topic: str, events: list[tuple[str, bytes, bytes]]) -> None:
    for _, key, value in events:
        await producer.send(topic, value, key=key, headers=HEADERS)
    await producer.flush()


async def outbound(mongo: AsyncMongoClient[dict[str, Any]], settings: MetricsSettings, tenant: str) -> int:
    docs = mongo[settings.mongo_db]["counters"].find({"tenant_id": tenant, "family": "calls", "period": "all"})
    return sum([(doc.get("c") or {}).get("outbound", 0) async for doc in docs])


async def counted_ids(mongo: AsyncMongoClient[dict[str, Any]], settings: MetricsSettings) -> Counter[int]:
    """How many times each event digest was stored by the checkpoints."""
    found: Counter[int] = Counter()
    async for doc in mongo[settings.mongo_db]["seen"].find({}):
        found.update(unpack(doc["digests"]).tolist())
    return found


async def test_a_replica_takes_over_after_a_crash_and_counts_every_event_once(
    settings: MetricsSettings, mongo: AsyncMongoClient[dict[str, Any]], infra: Any,
) -> None:
    tenant = f"sole-{uuid.uuid4().hex[:8]}"
    first, second = calls(tenant, 400), calls(tenant, 400, start=400)
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap)
    await producer.start()
    try:
        async with replica(settings) as a, replica(settings) as b:
            await wait_until(lambda: asyncio.sleep(0, a.state.consumer.leading), timeout=30)
            assert not b.state.consumer.leading  # one replica consumes; the other stands by
            await publish(producer, "calls.logged.v1", first)
            await wait_until(lambda: _at_least(outbound(mongo, settings, tenant), 1), timeout=30)
            crash(a)
            await publish(producer, "calls.logged.v1", second)
            # the standby waits for the crashed replica's lease to expire, then resumes from its checkpoint
            await wait_until(lambda: asyncio.sleep(0, b.state.consumer.leading), timeout=30)
            await wait_until(lambda: _at_least(outbound(mongo, settings, tenant), 800), timeout=60)
            await asyncio.sleep(1.0)  # anything counted twice would show up by now
            assert await outbound(mongo, settings, tenant) == 800
            stored = await counted_ids(mongo, settings)
            mine = [event_digest(tenant, event_id) for event_id, _, _ in first + second]
            assert [stored[d] for d in mine] == [1] * 800
    finally:
        await producer.stop()
    # the effective calls and the per-agent counts agree with the stream too
    docs = mongo[settings.mongo_db]["counters"].find({"tenant_id": tenant, "family": "calls", "period": "all"})
    assert sum([doc["c"].get("effective", 0) async for doc in docs]) == 400


FLOOR_FAMILIES = set(FAMILY_NAMES) - set(REPLICA_FAMILY_NAMES)


async def scrape(app: FastAPI, tenant: str) -> tuple[bool, Counter[str]]:
    """One replica's /metrics as Prometheus gets it: whether it says it exposes the floor's figures, and the
    samples of `tenant` it carries of them, {name{labels}: value} (the process's own metrics left out: the
    replicas of a test share one process)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://metrics") as http:
        text = (await http.get("/metrics")).text
    exposed, samples = None, Counter[str]()
    for family in text_string_to_metric_families(text):
        if family.name == "telesales_metrics_floor_exposed":
            exposed = family.samples[0].value == 1
        elif family.name in FLOOR_FAMILIES:
            for sample in family.samples:
                if sample.labels.get("tenant") == tenant:
                    samples[f"{sample.name}{sorted(sample.labels.items())}"] += sample.value
    assert exposed is not None
    assert exposed or not samples, "a replica not exposing the floor's figures carries some"
    return exposed, samples


def total(samples: Counter[str], name: str) -> float:
    return sum(value for key, value in samples.items() if key.startswith(f"{name}["))


async def summed_over(replicas: list[FastAPI], tenant: str) -> tuple[list[bool], Counter[str]]:
    """What `sum by (...)` over the replicas' targets gets: each replica's snapshot read again, then scraped."""
    for app in replicas:
        await app.state.exposition.refresh()
    scraped = [await scrape(app, tenant) for app in replicas]
    return [exposed for exposed, _ in scraped], sum((samples for _, samples in scraped), Counter())


async def test_summed_over_two_replicas_the_floor_figures_are_the_truth_through_a_hand_over(
    settings: MetricsSettings, mongo: AsyncMongoClient[dict[str, Any]], infra: Any,
) -> None:
    tenant = f"sole-{uuid.uuid4().hex[:8]}"
    first, second = calls(tenant, 200), calls(tenant, 200, start=200)
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap)
    await producer.start()
    try:
        async with replica(settings) as a, replica(settings) as b:
            await wait_until(lambda: asyncio.sleep(0, a.state.consumer.leading), timeout=30)
            await publish(producer, "calls.logged.v1", first)
            await wait_until(lambda: _at_least(outbound(mongo, settings, tenant), 200), timeout=60)
            exposed, summed = await summed_over([a, b], tenant)
            assert exposed == [True, False]
            assert (total(summed, "telesales_calls_total"), total(summed, "telesales_calls_effective_total")) == (200, 100)
            assert summed == (await scrape(a, tenant))[1]  # every floor figure is the leader's, once

            # a's consumer dies without handing the lease over; its HTTP server still answers scrapes
            crash(a)
            await publish(producer, "calls.logged.v1", second)
            both, neither = 0, 0
            while True:
                (a_exposes, _), (b_exposes, _) = await scrape(a, tenant), await scrape(b, tenant)
                both += a_exposes and b_exposes
                neither += not (a_exposes or b_exposes)
                if b_exposes and await outbound(mongo, settings, tenant) >= 400:
                    break
                await asyncio.sleep(0.05)
            assert both == 0  # never exposed by both: the sum never doubles
            assert neither > 0  # a gap instead (a quarter of a lease and b's polling), the old holder gone first
            exposed, summed = await summed_over([a, b], tenant)
            assert exposed == [False, True]
            assert (total(summed, "telesales_calls_total"), total(summed, "telesales_calls_effective_total")) == (400, 200)
            assert summed == (await scrape(b, tenant))[1]
    finally:
        await producer.stop()


async def test_an_event_a_rule_fails_on_is_dead_lettered_and_the_rest_counted_once(
    settings: MetricsSettings, mongo: AsyncMongoClient[dict[str, Any]], infra: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tenant = f"sole-{uuid.uuid4().hex[:8]}"
    real_call = domain.Batch._call

    def call_or_fail(self: domain.Batch, world: domain.World, fact: domain.Fact, day: str) -> None:
        if fact.data.lead_id == "L13":
            raise ValueError("a rule that cannot count this call")
        real_call(self, world, fact, day)

    monkeypatch.setattr(domain.Batch, "_call", call_or_fail)
    stream = calls(tenant, 30)
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap)
    await producer.start()
    try:
        async with TopicTail(infra.kafka_bootstrap, "platform.dead-lettered.v1") as letters, replica(settings):
            await publish(producer, "calls.logged.v1", stream)
            await wait_until(lambda: _at_least(outbound(mongo, settings, tenant), 29), timeout=60)
            letter = await letters.wait_for("platform.dead-lettered.v1", lambda e: isinstance(e, dict)
                                            and e.get("tenantid") == tenant and e["data"]["service"] == "metrics")
            await asyncio.sleep(1.0)
            assert await outbound(mongo, settings, tenant) == 29
    finally:
        await producer.stop()
    assert letter["data"]["error_type"] == "processing_error" and "L13" in letter["data"]["payload_text"]
    assert "a rule that cannot count this call" in letter["data"]["error"]
    stored = await counted_ids(mongo, settings)
    assert {event_id: stored[event_digest(tenant, event_id)] for event_id, _, _ in stream} == {
        event_id: (0 if "call-13-" in event_id else 1) for event_id, _, _ in stream}


async def test_a_replica_that_lost_its_lease_cannot_write_over_its_successor(
    settings: MetricsSettings, mongo: AsyncMongoClient[dict[str, Any]],
) -> None:
    store = MetricsStore(mongo, settings.mongo_db)
    await store.ensure_indexes()
    group = settings.consumer_group
    fence, positions = await store.checkpoint(group)
    assert (fence, positions) == (Fence(group, 0), None)
    await store.write(Checkpoint(positions={("calls.logged.v1", 0): 10}, fence=fence))  # the successor
    with pytest.raises(Fenced):  # the old owner, still believing it holds sequence 0
        await store.write(Checkpoint(positions={("calls.logged.v1", 0): 7}, fence=fence))
    fence, positions = await store.checkpoint(group)
    assert (fence, positions) == (Fence(group, 1), {("calls.logged.v1", 0): 10})
    await store.write(Checkpoint(positions={("calls.logged.v1", 0): 12}, fence=fence))
    with pytest.raises(Fenced):
        await store.write(Checkpoint(positions={("calls.logged.v1", 0): 11}, fence=fence))
    assert (await store.checkpoint(group))[1] == {("calls.logged.v1", 0): 12}


async def _at_least(count: Any, least: int) -> bool:
    return (await count) >= least
