"""What the fault tests share: the private broker and database, the services as real processes, the
streams they publish and what an uninterrupted run makes of them (the ledger's pure domain for the
purchases, plain counting for the leads), reading topics, waiting, reporting figures."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pymongo import AsyncMongoClient

from ledger.domain import LedgerPolicy
from ledger_support import purchase_requests, uninterrupted
from telesales_contracts import CLOUDEVENTS_CONTENT_TYPE
from telesales_runtime.kafka import topic_partitions
from telesales_testkit.infra import PrivateBroker, PrivateMongo, ServiceProcess

PARTITIONS = 3
CE_HEADERS = [("content-type", CLOUDEVENTS_CONTENT_TYPE.encode())]


@dataclass
class FaultInfra:
    broker: PrivateBroker
    mongo: PrivateMongo
    redis_url: str
    workdir: Path

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.broker.port}"

    @property
    def mongo_uri(self) -> str:
        return self.mongo.uri

    def freeze_broker(self) -> None:
        assert self.broker.proc is not None
        self.broker.proc.send_signal(signal.SIGSTOP)

    def thaw_broker(self) -> None:
        assert self.broker.proc is not None
        self.broker.proc.send_signal(signal.SIGCONT)


# ----------------------------------------------------------------------------- service processes
@dataclass(frozen=True)
class Spec:
    name: str
    module: str
    prefix: str


SPECS = {
    "lead-intake": Spec("lead-intake", "lead_intake", "LEAD_INTAKE_"),
    "allocator": Spec("allocator", "allocator", "ALLOCATOR_"),
    "ledger": Spec("ledger", "ledger", "LEDGER_"),
    "marketplace": Spec("marketplace", "marketplace", "MARKETPLACE_"),
    "metrics": Spec("metrics", "metrics", "METRICS_"),
}


@dataclass
class Platform:
    infra: FaultInfra
    services: dict[str, ServiceProcess]
    run: str
    mongo: AsyncMongoClient[dict[str, Any]]

    def __getitem__(self, name: str) -> ServiceProcess:
        return self.services[name]

    def db(self, name: str) -> Any:
        return self.mongo[self.services[name].env[f"{SPECS[name].prefix}MONGO_DB"]]

    async def abort_orphaned_transactions(self, name: str) -> int:
        """End the sessions a killed process left open: MongoDB would abort their transactions only after
        transactionLifetimeLimitSeconds (60 s), and their locks would stall the restarted process until then
        (what an operator's killSessions does; nothing of an open transaction was committed)."""
        ops = await (await self.mongo.admin.aggregate([{"$currentOp": {"allUsers": True, "idleSessions": True}},
                                                       {"$match": {"appName": name}}])).to_list()
        sessions = [op["lsid"] for op in ops if "lsid" in op]
        if sessions:
            await self.mongo.admin.command("killSessions", sessions)
        return len(sessions)


def service_env(infra: FaultInfra, spec: Spec, run: str, ports: dict[str, int]) -> dict[str, str]:
    p = spec.prefix
    env = {**os.environ, "PYTHONUNBUFFERED": "1",
           "TELESALES_KAFKA_BOOTSTRAP": infra.kafka_bootstrap, "TELESALES_MONGO_URI": infra.mongo_uri,
           "TELESALES_REDIS_URL": infra.redis_url,
           f"{p}MONGO_DB": f"faults_{spec.module}_{run}", f"{p}LOG_JSON": "false", f"{p}LOG_LEVEL": "WARNING",
           f"{p}OUTBOX_POLL_SECONDS": "0.1", f"{p}KAFKA_SESSION_TIMEOUT_MS": "6000",  # the least a broker allows by default
           f"{p}KAFKA_CREATE_TOPICS": "false", f"{p}BATCH_MAX_RECORDS": "50"}
    if spec.name == "lead-intake":
        env[f"{p}PUBLISH_TIMEOUT_SECONDS"] = "5"
    if spec.name in ("allocator", "ledger"):
        env[f"{p}SWEEP_ENABLED"] = "false"
    if spec.name == "marketplace":
        env[f"{p}LEDGER_URL"] = f"http://127.0.0.1:{ports['ledger']}"
        env[f"{p}METRICS_URL"] = f"http://127.0.0.1:{ports['metrics']}"
    if spec.name == "metrics":
        env[f"{p}REFRESH_SECONDS"] = "2"
        env[f"{p}LEASE_SECONDS"] = "5"  # a restarted process waits this long for the killed one's lease
        env[f"{p}CHECKPOINT_SECONDS"] = "0.5"
    return env


# ----------------------------------------------------------------------------- helpers
def event(topic: str, tenant: str, data: Any, *, event_id: str | None = None, time_: str | None = None,
          source: str = "/tests/faults") -> tuple[str, bytes]:
    event_id = event_id or str(uuid.uuid4())
    body = {"specversion": "1.0", "id": event_id, "source": source, "type": f"telesales.{topic}",
            "time": time_ or datetime.now(UTC).isoformat(), "datacontenttype": "application/json",
            "tenantid": tenant, "data": data}
    return event_id, json.dumps(body, ensure_ascii=False).encode()


async def read_topics(bootstrap: str, *topics: str) -> dict[str, list[Any]]:
    """Every record on `topics` from the beginning to their current end (JSON-parsed where possible), each
    as {"partition", "offset", "value"}."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                max_partition_fetch_bytes=8 * 1024 * 1024)
    await consumer.start()
    try:
        partitions = await topic_partitions(consumer, topics)
        ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions) if partitions else {}
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        out: dict[str, list[Any]] = {t: [] for t in topics}
        remaining = {tp for tp, end in ends.items() if end > 0}
        deadline = time.monotonic() + 60
        while remaining and time.monotonic() < deadline:
            batch = await consumer.getmany(*remaining, timeout_ms=1000, max_records=10_000)
            for tp, records in batch.items():
                for record in records:
                    if record.offset >= ends[tp]:
                        continue
                    try:
                        value: Any = json.loads(record.value)
                    except ValueError:
                        value = record.value
                    out[tp.topic].append({"partition": tp.partition, "offset": record.offset, "value": value,
                                          "key": record.key})
                    if record.offset >= ends[tp] - 1:
                        remaining.discard(tp)
        assert not remaining, f"could not read {remaining} to its end"
        return out
    finally:
        await consumer.stop()


async def committed_offsets(bootstrap: str, group: str, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
    """What `group` committed on `partitions` (-1: nothing), read without joining the group."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        return {tp: (await consumer.committed(tp)) or -1 for tp in partitions}
    finally:
        await consumer.stop()


async def dead_letters(bootstrap: str) -> list[dict[str, Any]]:
    """The dead letters on platform.dead-lettered.v1 so far: each one's data with its tenant (records that
    are not dead letters, such as poison published onto that topic, are left out)."""
    out = []
    for record in (await read_topics(bootstrap, "platform.dead-lettered.v1"))["platform.dead-lettered.v1"]:
        value = record["value"]
        if isinstance(value, dict) and isinstance(value.get("data"), dict) and "original_topic" in value["data"]:
            out.append({**value["data"], "tenantid": value.get("tenantid")})
    return out


async def wait_until(check: Callable[[], Awaitable[Any]], timeout: float, what: str,
                     *services: ServiceProcess, interval: float = 0.2) -> float:
    """Seconds until `check()` is truthy; fails with the services' logs after `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if await check():
            return time.monotonic() - started
        await asyncio.sleep(interval)
    logs = "\n".join(f"--- {s.name}:\n{s.tail()}" for s in services)
    raise AssertionError(f"{what}: not reached within {timeout}s\n{logs}")


def report(line: str) -> None:
    """Figures of a fault run, shown with `-s` and kept in the workdir's report file."""
    print(f"[faults] {line}", flush=True)
    path = Path(os.environ.get("TELESALES_FAULTS_REPORT", Path(tempfile.gettempdir()) / "telesales-faults-report.txt"))
    with path.open("a") as out:
        out.write(f"{datetime.now(UTC).isoformat()} {line}\n")


# ----------------------------------------------------------------------------- streams

RECEIVED = "leads.received.v1"
TIME = "2026-11-24T10:00:00+08:00"


@dataclass
class LeadStream:
    events: list[tuple[str, bytes, bytes]]  # event id, key, value in publishing order
    phones: set[str]
    unique_ids: set[str]
    merges: int  # events of a known phone under a new id

    @property
    def expected(self) -> dict[str, int]:
        return {"leads": len(self.phones), "touches": len(self.unique_ids), "merged": self.merges}


def lead_stream(tenant: str, rng: random.Random, leads: int) -> LeadStream:
    """`leads` new people (unique mobile numbers), some arriving again under a new event id (merged), some
    events delivered twice (the same id: no effect)."""
    events: list[tuple[str, bytes, bytes]] = []
    phones: list[str] = []
    merges = 0
    while len(phones) < leads:
        phone = f"139{rng.randrange(10**8):08d}"
        if phone not in phones and len(set(phone[3:])) > 3:  # no test numbers (repeated digits, runs)
            phones.append(phone)
    for n, phone in enumerate(phones):
        data = {"name": f"客户{n}", "phone": phone, "channel": "百度SEM", "business_line": "education",
                "product_interest": "MBA"}
        event_id, body = event(RECEIVED, tenant, data, time_=TIME)
        events.append((event_id, phone.encode(), body))
        roll = rng.random()
        if roll < 0.08:
            events.append((event_id, phone.encode(), body))  # delivered twice
        elif roll < 0.20 and n:
            again = rng.choice(phones[:n])  # an earlier person, from another source
            event_id, body = event(RECEIVED, tenant, {"phone": again, "channel": "微信", "business_line": "education"},
                                   time_=TIME)
            events.append((event_id, again.encode(), body))
            merges += 1
    return LeadStream(events, set(phones), {e for e, _, _ in events}, merges)


@dataclass
class PurchaseStream:
    events: list[tuple[str, bytes, bytes]]
    funds: dict[str, int]
    unique_ids: set[str]
    balances: dict[str, int]  # non-zero balances after an uninterrupted run
    outcomes: dict[str, str]  # transfer id -> posted | rejected


def purchase_stream(tenant: str, rng: random.Random, count: int, buyers: int = 24,
                    sellers: int = 8) -> PurchaseStream:
    """Purchase requests (each buyer's in order, keyed by buyer), some delivered twice, some retried under
    a new event id, some reusing an id for another price; the default policy's daily limits apply."""
    buyer_ids = [f"buyer-{n}" for n in range(buyers)]
    seller_ids = [f"seller-{n}" for n in range(sellers)]
    funds = {b: rng.randint(200, 900) for b in buyer_ids}
    events = purchase_requests(tenant, rng, count=count, buyers=buyer_ids, sellers=seller_ids, tips=30,
                               max_price=120, id_prefix="order-", time=TIME)
    balances, outcomes = uninterrupted(events, funds, LedgerPolicy(), ZoneInfo("Asia/Shanghai"))
    return PurchaseStream(events, funds, {e for e, _, _ in events}, balances, outcomes)


async def fund_buyers(platform: Platform, tenant: str, run: str, purchases: PurchaseStream) -> None:
    """The buyers' coins, over the ledger's HTTP API: a budget issued, then each buyer's allocation."""
    async with platform["ledger"].client(tenant) as http:
        issued = await http.post("/v1/issues", json={"id": f"budget-{run}", "amount": sum(purchases.funds.values())})
        assert issued.status_code == 201, issued.text
        for buyer, amount in purchases.funds.items():
            allocated = await http.post("/v1/allocations", json={"id": f"alloc-{buyer}", "amount": amount,
                                                                 "user_ids": [buyer]})
            assert allocated.status_code == 201, allocated.text


async def publish_events(producer: AIOKafkaProducer, topic: str, events: list[tuple[str, bytes, bytes]]) -> None:
    """Send (event id, key, value) records in order, as an outside system does, and wait for the broker's word."""
    for n, (_, key, value) in enumerate(events):
        await producer.send(topic, value, key=key, headers=CE_HEADERS)
        if n % 50 == 49:
            await producer.flush()
    await producer.flush()
