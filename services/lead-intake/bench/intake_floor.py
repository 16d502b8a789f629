"""The floors lead-intake is held to in `make bench-intake` (issue 20), measured in the same run as the intake:

  plain pipeline  the same N payloads through plain_pipeline.py (a FastStream batch subscriber, pydantic,
                  phonenumbers, a bulk upsert of a small document, a batch publish), started as a subprocess
                  like the service: N / (last output seen - first send). Target: intake >= plain.
  ceiling (c)     N fixed 1 KB documents bulk-upserted like ceiling (b) (1000 per batch, unordered, unique
                  (tenant_id, phone_e164) index): N / elapsed. The reference ceiling does not grow lighter or
                  heavier with the intake's own documents. Target: intake >= 50 % of it.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import bson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pymongo import ASCENDING, IndexModel, UpdateOne

from telesales_runtime.kafka import topic_partitions
from telesales_testkit.bench import (
    LOAD_PRODUCER_OPTIONS,
    BenchError,
    CpuWatch,
    find_pids,
    latency_summary,
    log_tail,
    note,
    send_all,
)
from telesales_testkit.memory import Memory

PLAIN_SCRIPT = Path(__file__).with_name("plain_pipeline.py")
FIXED_DOC_BYTES = 1024
BULK_BATCH = 1000
READY_TIMEOUT_S = 60.0


async def create_topics(bootstrap: str, names: list[str], partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1) for name in names])
    finally:
        await admin.close()


async def group_is_stable(bootstrap: str, group: str) -> bool:
    """Whether the consumer group has joined and its partitions are assigned (state Stable)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        for response in await admin.describe_consumer_groups([group]):
            for described in response.groups:
                if described[1] == group and described[2] == "Stable":
                    return True
    finally:
        await admin.close()
    return False


class PlainProcess:
    def __init__(self, ctx: Any, in_topic: str, out_topic: str) -> None:
        self.group = f"bench-plain-{ctx.run}"
        self.db = f"bench_plain_{ctx.run}"
        self.log_path = ctx.out_dir / f"intake-plain-{ctx.run}.log"
        self.env = {**os.environ, **ctx.stack_env, "PLAIN_BOOTSTRAP": ctx.bootstrap,
                    "PLAIN_MONGO_URI": ctx.stack_env["TELESALES_MONGO_URI"], "PLAIN_DB": self.db,
                    "PLAIN_IN_TOPIC": in_topic, "PLAIN_OUT_TOPIC": out_topic, "PLAIN_GROUP": self.group}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> int:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen([sys.executable, str(PLAIN_SCRIPT)], env=self.env, stdout=log,
                                         stderr=subprocess.STDOUT)
        return self.proc.pid

    def check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise BenchError(f"the plain pipeline exited with {self.proc.returncode}:\n{log_tail(self.log_path, 30)}")

    async def wait_ready(self, bootstrap: str) -> float:
        started = time.perf_counter()
        while time.perf_counter() - started < READY_TIMEOUT_S:
            self.check_alive()
            if await group_is_stable(bootstrap, self.group):
                return time.perf_counter() - started
            await asyncio.sleep(0.2)
        raise BenchError(f"the plain pipeline's group did not join within {READY_TIMEOUT_S:.0f}s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


async def _read_outputs(consumer: AIOKafkaConsumer, expected: set[str], seen: dict[str, float],
                        plain: PlainProcess, timeout: float) -> int:
    """Reads the plain pipeline's events until every expected one came; answers the duplicates."""
    duplicates = 0
    deadline = time.perf_counter() + timeout
    while len(seen) < len(expected):
        plain.check_alive()
        if time.perf_counter() > deadline:
            raise BenchError(f"plain pipeline: only {len(seen):,} of {len(expected):,} leads within {timeout:.0f}s")
        batch = await consumer.getmany(timeout_ms=100, max_records=20_000)
        now = time.perf_counter()
        for records in batch.values():
            for record in records:
                event_id = json.loads(record.value)["event_id"]
                if event_id in seen:
                    duplicates += 1
                elif event_id in expected:
                    seen[event_id] = now
    return duplicates


async def measure_plain_pipeline(ctx: Any, partitions: int) -> dict[str, Any]:
    """The same payloads through the plain pipeline (see the module's docstring)."""
    leads = ctx.leads
    in_topic, out_topic = f"bench.plain-in-{ctx.run}.v1", f"bench.plain-out-{ctx.run}.v1"
    await create_topics(ctx.bootstrap, [in_topic, out_topic], partitions)
    ctx.extra_topics += [in_topic, out_topic]
    plain = PlainProcess(ctx, in_topic, out_topic)
    ctx.bench_dbs.append(plain.db)
    consumer = AIOKafkaConsumer(bootstrap_servers=ctx.bootstrap, fetch_min_bytes=1 << 20, fetch_max_wait_ms=500)
    pid = plain.start()
    memory = Memory({"plain pipeline": pid})
    try:
        ready_s = await plain.wait_ready(ctx.bootstrap)
        memory.take("plain pipeline ready (idle)")
        memory.phase = "plain pipeline"
        await consumer.start()
        tps = await topic_partitions(consumer, [out_topic])
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, 0)
        producer = AIOKafkaProducer(bootstrap_servers=ctx.bootstrap, **LOAD_PRODUCER_OPTIONS)
        await producer.start()
        pids = find_pids(ctx.kafka_port, ctx.mongo_port, exclude={os.getpid(), pid})
        watch = CpuWatch({"plain pipeline": [pid], **pids, "benchmark (producer + reader)": [os.getpid()]}).start()
        seen: dict[str, float] = {}
        try:
            produce = asyncio.create_task(send_all(producer, in_topic, leads.payloads, leads.keys))
            duplicates = await _read_outputs(consumer, set(leads.event_ids), seen, plain, ctx.args.timeout)
            produced = await produce
            cpu = watch.stop()
        finally:
            await producer.stop()
        stored = await ctx.mongo[plain.db]["leads"].count_documents({})
    finally:
        await memory.close()
        plain.stop()
        await consumer.stop()
    if stored != leads.n:
        raise BenchError(f"plain pipeline: {stored:,} documents stored, expected {leads.n:,}")
    elapsed = max(seen.values()) - produced.first_send
    latencies = [seen[eid] - sent for eid, sent in zip(leads.event_ids, produced.send_times, strict=True)]
    return {"throughput_per_s": leads.n / elapsed, "elapsed_s": elapsed, "ready_after_s": ready_s,
            "latency": latency_summary(latencies), "duplicates": duplicates, "stored": stored, "cpu": cpu,
            "log": str(plain.log_path), "memory": memory.points}


def fixed_documents(tenant: str, phones: list[str]) -> list[dict[str, Any]]:
    """One document per lead of exactly FIXED_DOC_BYTES of BSON (padding sized on the first)."""
    def doc(index: int, phone: str, pad: int) -> dict[str, Any]:
        return {"_id": f"fixed-{index:09d}", "tenant_id": tenant, "phone_e164": phone, "pad": "x" * pad}

    overhead = len(bson.encode(doc(0, phones[0], 0))) if phones else 0
    pad = max(0, FIXED_DOC_BYTES - overhead)
    return [doc(i, phone, pad) for i, phone in enumerate(phones)]


async def measure_fixed_ceiling(ctx: Any, phones: list[str]) -> dict[str, Any]:
    """Ceiling (c): N fixed 1 KB documents, bulk-upserted as ceiling (b) upserts the intake's own."""
    db_name = f"bench_fixed_{ctx.run}"
    ctx.bench_dbs.append(db_name)
    coll = ctx.mongo[db_name]["leads"]
    await coll.create_indexes([IndexModel([("tenant_id", ASCENDING), ("phone_e164", ASCENDING)], unique=True,
                                          name="one_lead_per_phone")])
    docs = fixed_documents(ctx.tenant, phones)
    batches = [[UpdateOne({"tenant_id": d["tenant_id"], "phone_e164": d["phone_e164"]},
                          {"$set": {"pad": d["pad"]}, "$setOnInsert": {"_id": d["_id"]}}, upsert=True)
                for d in docs[start:start + BULK_BATCH]] for start in range(0, len(docs), BULK_BATCH)]
    pids = find_pids(ctx.kafka_port, ctx.mongo_port, exclude={os.getpid()})
    watch = CpuWatch({**pids, "benchmark (bulk writer)": [os.getpid()]}).start()
    t0 = time.perf_counter()
    for ops in batches:
        await coll.bulk_write(ops, ordered=False)
    elapsed = time.perf_counter() - t0
    cpu = watch.stop()
    count = await coll.count_documents({})
    if count != len(docs):
        raise BenchError(f"ceiling (c): {count} documents, expected {len(docs)}")
    doc_bytes = len(bson.encode(docs[0])) if docs else 0
    if docs:
        note(f"ceiling (c): {len(docs):,} documents of {doc_bytes} B")
    return {"db": db_name, "doc_bytes": doc_bytes, "batch_size": BULK_BATCH, "throughput_per_s": len(docs) / elapsed,
            "elapsed_s": elapsed, "cpu": cpu}
