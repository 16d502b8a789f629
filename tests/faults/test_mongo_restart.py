"""MongoDB restarts under load: while leads and purchase requests stream in, mongod is killed (SIGKILL: no
clean shutdown) and started again on the same port and data. Meanwhile the services stay up (no crash,
/healthz 200) and say they are not ready (/readyz 503 problem+json); afterwards they are ready again by
themselves and every lead and transfer is applied exactly once."""

from __future__ import annotations

import asyncio
import random
import time
import uuid

import httpx
from aiokafka import AIOKafkaProducer

from faults_support import CE_HEADERS, Platform, fund_buyers, lead_stream, purchase_stream, report, wait_until

DOWN_SECONDS = 15
PROBED = ("lead-intake", "allocator", "ledger", "marketplace", "metrics")


async def test_mongodb_restart_under_load_loses_and_doubles_nothing(
    platform: Platform, producer: AIOKafkaProducer,
) -> None:
    run = uuid.uuid4().hex[:8]
    tenant = f"mongo-{run}"
    rng = random.Random(6)
    leads = lead_stream(tenant, rng, 400)
    purchases = purchase_stream(tenant, rng, 300)
    intake, allocator, ledger = platform["lead-intake"], platform["allocator"], platform["ledger"]
    intake_db, allocator_db, ledger_db = platform.db("lead-intake"), platform.db("allocator"), platform.db("ledger")
    await fund_buyers(platform, tenant, run, purchases)

    # the load: both streams at a steady pace over ~20 s, the database going down 4 s in
    async def load() -> None:
        by_topic = {"leads.received.v1": leads.events, "ledger.transfer-requested.v1": purchases.events}
        longest = max(len(v) for v in by_topic.values())
        for n in range(longest):
            for topic, events in by_topic.items():
                if n < len(events):
                    _, key, value = events[n]
                    await producer.send(topic, value, key=key, headers=CE_HEADERS)
            if n % 20 == 19:
                await producer.flush()
                await asyncio.sleep(1.0)
        await producer.flush()

    starts = {name: platform[name].starts for name in PROBED}
    loading = asyncio.create_task(load())
    await asyncio.sleep(4)
    before = await intake_db["inbox"].count_documents({"tenant_id": tenant})
    platform.infra.mongo.kill()
    down_at = time.monotonic()
    try:
        # an HTTP write meanwhile: refused clearly, nothing half-written
        async with ledger.client(tenant) as http:
            started = time.monotonic()
            refused = await http.post("/v1/transfers", json={"id": f"down-{run}", "debit": "budget",
                                                             "credit": "wallet:buyer-0", "amount": 1})
            write_seconds = time.monotonic() - started
        assert refused.status_code == 503, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json"), refused.text
        not_ready: dict[str, float] = {}
        statuses: dict[str, set[int]] = {name: set() for name in PROBED}
        async with httpx.AsyncClient(timeout=10) as http:
            while time.monotonic() - down_at < DOWN_SECONDS:
                for name in PROBED:
                    service = platform[name]
                    assert service.alive(), f"{name} died while MongoDB was down:\n{service.tail()}"
                    assert (await http.get(f"{service.base_url}/healthz")).status_code == 200
                    ready = await http.get(f"{service.base_url}/readyz")
                    statuses[name].add(ready.status_code)
                    if ready.status_code == 503 and name not in not_ready:
                        assert ready.headers["content-type"].startswith("application/problem+json"), ready.text
                        not_ready[name] = time.monotonic() - down_at
                await asyncio.sleep(0.5)
        assert set(not_ready) == set(PROBED), f"not every service said it was not ready: {statuses}"
    finally:  # started again whatever happened, or every later test would meet a dead database
        restarted_at = time.monotonic()
        platform.infra.mongo.start()
        mongo_up = time.monotonic() - restarted_at
    ready = {}
    for name in PROBED:
        ready[name] = await platform[name].wait_ready(120)
    ready_after = time.monotonic() - restarted_at
    await loading

    async def done() -> bool:
        return (await intake_db["inbox"].count_documents({"tenant_id": tenant}) == len(leads.unique_ids)
                and await intake_db["outbox"].count_documents({}) == 0
                and await ledger_db["inbox"].count_documents({"tenant_id": tenant}) == len(purchases.unique_ids)
                and await ledger_db["outbox"].count_documents({}) == 0
                and await allocator_db["leads"].count_documents({"tenant_id": tenant}) == len(leads.phones))
    caught_up = await wait_until(done, 180, "everything processed after the restart", intake, ledger, allocator,
                                 interval=0.5)
    for name in PROBED:
        assert platform[name].alive() and platform[name].starts == starts[name]  # never restarted

    stored = await intake_db["leads"].find({"tenant_id": tenant}, {"touches": 1, "touches_count": 1}).to_list()
    touches = [t["event_id"] for doc in stored for t in doc["touches"]]
    assert len(stored) == len(leads.phones)
    assert sorted(touches) == sorted(leads.unique_ids)  # every touch once
    assert sum(doc["touches_count"] for doc in stored) == len(leads.unique_ids)
    pooled = {doc["_id"] for doc in await allocator_db["leads"].find({"tenant_id": tenant}, {"_id": 1}).to_list()}
    assert pooled == {doc["_id"] for doc in stored}
    accounts = {doc["key"]: doc["balance"] async for doc in ledger_db["accounts"].find({"tenant_id": tenant})}
    assert {k: v for k, v in accounts.items() if v} == purchases.balances
    decided = {doc["transfer_id"]: doc["state"] async for doc in ledger_db["transfers"].find(
        {"tenant_id": tenant, "kind": "purchase"})}
    assert decided == purchases.outcomes
    async with ledger.client(tenant) as http:
        audit = (await http.get("/v1/audit", params={"verify": "true"})).json()
        assert (await http.get(f"/v1/transfers/down-{run}")).status_code == 404
    assert audit["ok"] and audit["sum_of_balances"] == 0, audit

    report(f"mongo restart: mongod SIGKILLed {DOWN_SECONDS}s under load ({before} lead events processed before); "
           f"a ledger POST /v1/transfers meanwhile answered 503 problem+json in {write_seconds:.1f}s (nothing written); "
           "/readyz 503 after " + ", ".join(f"{k} {v:.1f}s" for k, v in not_ready.items())
           + f", /healthz 200 and no process exit throughout; mongod primary again in {mongo_up:.1f}s, every "
           f"service ready {ready_after:.1f}s after the restart, caught up {caught_up:.1f}s later: "
           f"{len(stored)} leads, {len(touches)} touches, {len(pooled)} pooled, {len(decided)} transfers, "
           f"balances = uninterrupted run, sum 0")
