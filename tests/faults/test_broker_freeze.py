"""The broker becomes unreachable for 30 s (the private Kafka node is frozen with SIGSTOP, then SIGCONT: its
connections stay open and hang, the hardest kind of outage for a client; test_broker_kill has the crash). Meanwhile events keep coming (an outside producer buffers
them) and HTTP writes keep coming: lead-intake's POST /v1/leads publishes directly and must either accept
(202, published once the broker answers) or refuse clearly (503 problem+json; the client retries with the
same Idempotency-Key); the ledger's POST /v1/transfers writes to MongoDB and its outbox rows wait. Once the
broker is back, everything arrives exactly once, and the recovery time is measured."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from faults_support import CE_HEADERS, Platform, event, read_topics, report, wait_until

FREEZE_SECONDS = 30
HTTP_TIMEOUT = 60.0
PUBLISH_TIMEOUT = 5  # LEAD_INTAKE_PUBLISH_TIMEOUT_SECONDS of the session's lead-intake


async def test_a_frozen_broker_loses_and_doubles_nothing(platform: Platform) -> None:
    run = uuid.uuid4().hex[:8]
    tenant = f"freeze-{run}"
    rng = random.Random(30)
    infra = platform.infra
    intake, ledger = platform["lead-intake"], platform["ledger"]
    intake_db, ledger_db = platform.db("lead-intake"), platform.db("ledger")
    async with ledger.client(tenant) as http:
        assert (await http.post("/v1/issues", json={"id": f"budget-{run}", "amount": 100_000})).status_code == 201
    phones = [f"1371{n:03d}{rng.randrange(10_000):04d}" for n in range(1000)]
    rng.shuffle(phones)

    # an outside system's producer: it buffers while the broker does not answer
    outside = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, acks="all", enable_idempotence=True,
                               request_timeout_ms=120_000)
    await outside.start()
    await outside.partitions_for("leads.received.v1")  # it has been producing: it knows the topic's partitions
    published: list[asyncio.Future[Any]] = []
    outside_ids: set[str] = set()
    http_leads: dict[str, dict[str, Any]] = {}  # idempotency key -> {phone, status, seconds}
    transfers: dict[str, dict[str, Any]] = {}

    async def submit_lead(http: httpx.AsyncClient, key: str, phone: str) -> None:
        started = time.monotonic()
        try:
            answer = await http.post(f"{intake.base_url}/v1/leads", headers={"Idempotency-Key": key},
                                     json={"phone": phone, "channel": "微信", "business_line": "education"})
            status, kind = answer.status_code, answer.headers.get("content-type", "")
        except httpx.TimeoutException:
            status, kind = 0, "timeout"
        http_leads[key] = {"phone": phone, "status": status, "type": kind, "seconds": time.monotonic() - started}

    async def transfer(http: httpx.AsyncClient, transfer_id: str, user: str) -> None:
        started = time.monotonic()
        answer = await http.post(f"{ledger.base_url}/v1/transfers", json={"id": transfer_id, "debit": "budget",
                                                                          "credit": f"wallet:{user}", "amount": 10})
        transfers[transfer_id] = {"status": answer.status_code, "seconds": time.monotonic() - started,
                                  "user": user, "body": answer.text[:300]}

    lead_http = intake.client(tenant)
    lead_http.timeout = httpx.Timeout(HTTP_TIMEOUT)
    ledger_http = ledger.client(tenant)
    tasks: list[asyncio.Task[None]] = []
    outbox_waiting = 0
    try:
        infra.freeze_broker()
        frozen_at = time.monotonic()
        n = 0
        while time.monotonic() - frozen_at < FREEZE_SECONDS:
            phone = phones.pop()
            event_id, body = event("leads.received.v1", tenant, {"phone": phone, "channel": "百度SEM",
                                                                  "business_line": "education"})
            published.append(await outside.send("leads.received.v1", body, key=phone.encode(), headers=CE_HEADERS))
            outside_ids.add(event_id)
            tasks.append(asyncio.create_task(submit_lead(lead_http, f"freeze-{run}-{n}", phones.pop())))
            tasks.append(asyncio.create_task(transfer(ledger_http, f"t-{run}-{n}", f"user-{n % 5}")))
            n += 1
            await asyncio.sleep(1.0)
            outbox_waiting = max(outbox_waiting, await ledger_db["outbox"].count_documents({}))
            for service in platform.services.values():
                assert service.alive(), f"{service.name} died while the broker was frozen:\n{service.tail()}"
        during = {"transfers answered": len(transfers), "transfers 201": sum(t["status"] == 201 for t in transfers.values()),
                  "leads answered": len(http_leads)}
    finally:
        infra.thaw_broker()
    thawed_at = time.monotonic()
    await asyncio.gather(*tasks)
    await lead_http.aclose()
    await ledger_http.aclose()

    # HTTP writes: transfers are taken while the broker is away (the outbox holds their events)
    assert all(t["status"] == 201 for t in transfers.values()), transfers
    assert max(t["seconds"] for t in transfers.values()) < 5, transfers
    assert during["transfers 201"] >= FREEZE_SECONDS // 2 and outbox_waiting > 0, (during, outbox_waiting)
    # a lead submitted over HTTP is accepted once published, or refused clearly; refused ones are retried
    outcomes = {(v["status"], v["type"].split(";")[0]) for v in http_leads.values()}
    assert outcomes <= {(202, "application/json"), (503, "application/problem+json")}, http_leads
    # in time: the service's publish timeout (5 s here), not the whole freeze
    assert max(v["seconds"] for v in http_leads.values()) < PUBLISH_TIMEOUT + 3, http_leads
    refused = [k for k, v in http_leads.items() if v["status"] != 202]
    async with intake.client(tenant) as http:
        for key in refused:
            again = await http.post("/v1/leads", headers={"Idempotency-Key": key},
                                    json={"phone": http_leads[key]["phone"], "channel": "微信",
                                          "business_line": "education"})
            assert again.status_code == 202, again.text
    # the outside producer's buffered events went out
    for future in published:
        await future
    await outside.stop()

    expected_leads = len(outside_ids) + len(http_leads)

    async def recovered() -> bool:
        return (await intake_db["leads"].count_documents({"tenant_id": tenant}) == expected_leads
                and await intake_db["inbox"].count_documents({"tenant_id": tenant}) == expected_leads
                and await ledger_db["outbox"].count_documents({}) == 0)
    await wait_until(recovered, 120, "every lead and transfer event after the thaw", intake, ledger, interval=0.2)
    recovery = time.monotonic() - thawed_at
    for service in platform.services.values():
        await service.wait_ready(60)

    stored = await intake_db["leads"].find({"tenant_id": tenant}, {"touches": 1}).to_list()
    touches = [t["event_id"] for doc in stored for t in doc["touches"]]
    assert len(touches) == len(set(touches)) == expected_leads
    assert outside_ids <= set(touches)
    recorded = (await read_topics(infra.kafka_bootstrap, "ledger.transfer-recorded.v1"))["ledger.transfer-recorded.v1"]
    mine = [r["value"] for r in recorded if r["value"].get("tenantid") == tenant and r["value"]["data"]["transfer_id"]
            in transfers]
    assert {e["data"]["transfer_id"] for e in mine} == set(transfers)
    assert len({e["id"] for e in mine}) == len(transfers)
    accounts = {doc["key"]: doc["balance"] async for doc in ledger_db["accounts"].find({"tenant_id": tenant})}
    for user in {t["user"] for t in transfers.values()}:
        assert accounts[f"wallet:{user}"] == 10 * sum(t["user"] == user for t in transfers.values())

    latencies = sorted(v["seconds"] for v in http_leads.values())
    report(f"broker freeze: Kafka SIGSTOPped {FREEZE_SECONDS}s; during it {len(outside_ids)} events buffered by an "
           f"outside producer, {len(transfers)} ledger transfers answered 201 (max {max(t['seconds'] for t in transfers.values()):.2f}s, "
           f"up to {outbox_waiting} outbox rows waiting), {len(http_leads)} POST /v1/leads answered "
           f"{sorted(outcomes)} (latency min {latencies[0]:.1f}s, max {latencies[-1]:.1f}s; {len(refused)} refused and "
           f"retried with their Idempotency-Key); after SIGCONT everything processed in {recovery:.1f}s: "
           f"{len(stored)} leads, each touch once, {len(mine)} transfer-recorded events for {len(transfers)} transfers")
