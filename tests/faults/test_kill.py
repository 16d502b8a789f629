"""SIGKILL in the middle of a stream, then a restart: lead-intake and the ledger are killed while they
consume (batches in flight, offsets not committed, outbox rows not relayed), metrics while it counts what they
publish (its checkpoint not written, its lease not handed over), the rest of the stream is published while they
are down, the allocator is killed while it takes the qualified leads into its pools. After the restart every
lead and every coin transfer is applied exactly once: the counts and balances equal those of the same streams
run without interruption (computed from the inputs), and metrics counted each lead and ledger answer once. And agents claiming leads over
HTTP while the allocator is killed: every holder change is applied and announced exactly once."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from exactly_once import caught_up_exactly_once, metric_total, processed_at_least

from faults_support import (
    CE_HEADERS,
    Platform,
    event,
    fund_buyers,
    lead_stream,
    publish_events,
    purchase_stream,
    read_topics,
    report,
    wait_until,
)
from telesales_testkit.auth import auth_headers

LEADS = 300
PURCHASES = 300


async def counted(db: Any, tenant: str, family: str, name: str, least: int) -> bool:
    return await metric_total(db, tenant, family, name) >= least


async def test_sigkill_mid_stream_applies_every_lead_and_transfer_exactly_once(
    platform: Platform, producer: AIOKafkaProducer,
) -> None:
    run = uuid.uuid4().hex[:8]
    tenant = f"kill-{run}"
    rng = random.Random(20261125)
    leads = lead_stream(tenant, rng, LEADS)
    purchases = purchase_stream(tenant, rng, PURCHASES)
    intake, allocator, ledger = platform["lead-intake"], platform["allocator"], platform["ledger"]
    intake_db, allocator_db, ledger_db = platform.db("lead-intake"), platform.db("allocator"), platform.db("ledger")
    metrics, metrics_db = platform["metrics"], platform.db("metrics")

    await fund_buyers(platform, tenant, run, purchases)

    half_leads, half_purchases = len(leads.events) // 2, len(purchases.events) // 2
    await publish_events(producer, "leads.received.v1", leads.events[:half_leads])
    await publish_events(producer, "ledger.transfer-requested.v1", purchases.events[:half_purchases])
    await wait_until(lambda: processed_at_least(intake_db, tenant, 20), 60, "lead-intake consuming", intake)
    await wait_until(lambda: processed_at_least(ledger_db, tenant, 20), 60, "the ledger consuming", ledger)
    await wait_until(lambda: counted(metrics_db, tenant, "pool", "created", 1), 60, "metrics counting", metrics)
    intake.kill()
    ledger.kill()
    metrics.kill()  # counting the first half's leads and answers as they come
    killed_at = time.monotonic()
    orphans = await platform.abort_orphaned_transactions("lead-intake")
    orphans += await platform.abort_orphaned_transactions("ledger")
    orphans += await platform.abort_orphaned_transactions("metrics")
    at_kill = {"metrics": await metric_total(metrics_db, tenant, "pool", "created"),
               "lead-intake": await intake_db["inbox"].count_documents({"tenant_id": tenant}),
               "ledger": await ledger_db["inbox"].count_documents({"tenant_id": tenant}),
               "intake outbox": await intake_db["outbox"].count_documents({}),
               "ledger outbox": await ledger_db["outbox"].count_documents({})}
    assert at_kill["lead-intake"] < len(leads.unique_ids), "the kill came too late to interrupt lead-intake"
    assert at_kill["ledger"] < len(purchases.unique_ids), "the kill came too late to interrupt the ledger"
    await publish_events(producer, "leads.received.v1", leads.events[half_leads:])
    await publish_events(producer, "ledger.transfer-requested.v1", purchases.events[half_purchases:])

    # the allocator, while it takes the first half's qualified leads into its pools
    await wait_until(lambda: processed_at_least(allocator_db, tenant, 10), 60, "the allocator consuming", allocator)
    allocator.kill()
    orphans += await platform.abort_orphaned_transactions("allocator")
    at_kill["allocator"] = await allocator_db["leads"].count_documents({"tenant_id": tenant})
    assert at_kill["allocator"] < len(leads.phones)

    restarted = time.monotonic()
    for service in (intake, ledger, allocator, metrics):
        service.start()
    ready = {s.name: await s.wait_ready(90) for s in (intake, ledger, allocator, metrics)}

    _, summary = await caught_up_exactly_once(platform, tenant, leads, purchases)
    report(f"sigkill: lead-intake killed after {at_kill['lead-intake']}/{len(leads.unique_ids)} lead events, ledger "
           f"after {at_kill['ledger']}/{len(purchases.unique_ids)} purchase requests (outbox rows left "
           f"{at_kill['intake outbox']}/{at_kill['ledger outbox']}), allocator after {at_kill['allocator']}/"
           f"{len(leads.phones)} pooled leads, metrics after counting {at_kill['metrics']} leads; {orphans} "
           f"orphaned sessions ended; ready again in " + ", ".join(f"{k} {v:.1f}s" for k, v in ready.items())
           + f" ({time.monotonic() - killed_at:.1f}s after the kill, {time.monotonic() - restarted:.1f}s after "
           f"the restart); {summary}")


async def test_sigkill_during_claims_applies_every_holder_change_exactly_once(
    platform: Platform, producer: AIOKafkaProducer,
) -> None:
    """Agents claim leads over HTTP while the allocator is SIGKILLed and restarted: every lead an agent holds
    was announced on allocation.claimed.v1 exactly once (a claim committed just before the kill included:
    its event waits in the lead's embedded outbox), no lead is held twice, and every claim answered 200 is
    among them."""
    run = uuid.uuid4().hex[:8]
    tenant = f"claims-{run}"
    rng = random.Random(77)
    leads = lead_stream(tenant, rng, 240)
    allocator, allocator_db = platform["allocator"], platform.db("allocator")
    await publish_events(producer, "leads.received.v1", leads.events)
    agents = [f"agent-{n}" for n in range(8)]
    for agent in agents:
        _, body = event("agents.changed.v1", tenant, {"agent_id": agent, "name": agent, "role": "agent",
                                                      "team_id": "mba", "business_line": "education"})
        await producer.send_and_wait("agents.changed.v1", body, key=agent.encode(), headers=CE_HEADERS)

    async def pooled() -> bool:
        return (await allocator_db["leads"].count_documents({"tenant_id": tenant}) == len(leads.phones)
                and await allocator_db["agents"].count_documents({"tenant_id": tenant}) == len(agents))
    await wait_until(pooled, 120, "the leads in the pool and the agents on the roster", allocator)

    acknowledged: dict[str, str] = {}  # lead id -> agent, from claims answered 200
    failures: Counter[str] = Counter()
    done = asyncio.Event()

    async def claim_loop(agent: str) -> None:
        headers = {**auth_headers("agent", agent, tenant=tenant, team="mba"), "X-Tenant-Id": tenant,
                   "X-Actor-Id": agent}
        successes = 0
        async with httpx.AsyncClient(base_url=allocator.base_url, headers=headers, timeout=10) as http:
            while successes < 8 and not done.is_set():
                try:
                    answer = await http.post(f"/v1/agents/{agent}/claims", json={"tier_id": "fresh", "count": 3})
                except httpx.HTTPError as error:
                    failures[type(error).__name__] += 1
                    await asyncio.sleep(0.3)
                    continue
                if answer.status_code != 200:
                    failures[str(answer.status_code)] += 1
                    await asyncio.sleep(0.3)
                    continue
                successes += 1
                for lead in answer.json()["leads"]:
                    acknowledged[lead["lead_id"]] = agent
                await asyncio.sleep(0.1)

    loops = [asyncio.create_task(claim_loop(agent)) for agent in agents]

    async def some_held() -> bool:
        return await allocator_db["leads"].count_documents({"tenant_id": tenant, "holder": {"$ne": None}}) >= 40
    await wait_until(some_held, 60, "the first claims", allocator)
    allocator.kill()
    held_at_kill = await allocator_db["leads"].count_documents({"tenant_id": tenant, "holder": {"$ne": None}})
    waiting_at_kill = await allocator_db["leads"].count_documents({"tenant_id": tenant, "outbox_at": {"$exists": True}})
    orphans = await platform.abort_orphaned_transactions("allocator")
    await asyncio.sleep(2)  # claims keep coming and fail while it is down
    restarted = time.monotonic()
    allocator.start()
    ready = await allocator.wait_ready(90)
    try:
        await asyncio.wait_for(asyncio.gather(*loops), timeout=120)
    finally:
        done.set()

    async def relayed() -> bool:
        return await allocator_db["leads"].count_documents({"tenant_id": tenant, "outbox_at": {"$exists": True}}) == 0
    await wait_until(relayed, 60, "every holder change relayed", allocator)
    caught_up = time.monotonic() - restarted

    held = {doc["_id"]: doc["holder"] async for doc in allocator_db["leads"].find(
        {"tenant_id": tenant, "holder": {"$ne": None}}, {"holder": 1})}
    assert held_at_kill < len(held), "the kill came after the last claim"
    records = (await read_topics(platform.infra.kafka_bootstrap, "allocation.claimed.v1"))["allocation.claimed.v1"]
    mine = [r["value"] for r in records if isinstance(r["value"], dict) and r["value"].get("tenantid") == tenant]
    claimed = {e["id"]: e["data"] for e in mine}
    per_lead = Counter(data["lead_id"] for data in claimed.values())
    assert all(n == 1 for n in per_lead.values()), [lead for lead, n in per_lead.items() if n > 1]  # one change each
    assert {data["lead_id"]: data["agent_id"] for data in claimed.values()} == held  # none lost, none extra
    assert acknowledged.items() <= held.items()  # every claim answered 200 stands
    redelivered = len(mine) - len(claimed)  # the relay publishes at least once; consumers dedupe by id
    report(f"sigkill during claims: {len(agents)} agents claiming over HTTP, allocator killed with {held_at_kill} "
           f"leads held ({waiting_at_kill} holder changes still in the embedded outbox), {orphans} orphaned "
           f"sessions ended, ready again in {ready:.1f}s, relayed {caught_up:.1f}s after the restart; claims "
           f"failing meanwhile: {dict(failures)}; result: {len(held)} leads held, {len(claimed)} "
           f"allocation.claimed events, one per held lead with its holder, {len(acknowledged)} acknowledged "
           f"claims all standing" + (f", {redelivered} events published twice" if redelivered else ""))
