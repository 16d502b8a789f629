"""The broker is SIGKILLed in the middle of the streams and started again on its data some seconds later, as
a crashed broker machine comes back. A broker that kept its records only in memory could not survive this.

While it is down, an outside system's idempotent producer keeps sending (it buffers and retries), the
services' consumers, producers and outbox relays lose their connections, and their readiness says so. Once
it is back: every service reconnects by itself (none is restarted), the broker lost no record it had
acknowledged and the idempotent producer's retries wrote none twice, and every lead, transfer and count is
applied exactly once, as in a run without the crash."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter

import httpx
from aiokafka import AIOKafkaProducer
from exactly_once import caught_up_exactly_once, inbox_count, metric_total, processed_at_least

from faults_support import (
    Platform,
    fund_buyers,
    lead_stream,
    publish_events,
    purchase_stream,
    read_topics,
    report,
    wait_until,
)

DOWN_SECONDS = 8
LEADS = 300
PURCHASES = 300


async def readiness(platform: Platform) -> dict[str, int]:
    """Each service's /readyz status now (0: no answer)."""
    statuses = {}
    async with httpx.AsyncClient(timeout=3) as http:
        for name, service in platform.services.items():
            try:
                statuses[name] = (await http.get(f"{service.base_url}/readyz")).status_code
            except httpx.HTTPError:
                statuses[name] = 0
    return statuses


async def test_a_broker_killed_mid_stream_loses_and_doubles_nothing(platform: Platform) -> None:
    run = uuid.uuid4().hex[:8]
    tenant = f"broker-kill-{run}"
    rng = random.Random(20261206)
    leads = lead_stream(tenant, rng, LEADS)
    purchases = purchase_stream(tenant, rng, PURCHASES)
    broker = platform.infra.broker
    intake_db, ledger_db, metrics_db = platform.db("lead-intake"), platform.db("ledger"), platform.db("metrics")
    await fund_buyers(platform, tenant, run, purchases)
    starts = {name: service.starts for name, service in platform.services.items()}

    # an outside system's producer: idempotent, it retries what the crash left unanswered, for up to 2 minutes
    outside = AIOKafkaProducer(bootstrap_servers=platform.infra.kafka_bootstrap, acks="all",
                               enable_idempotence=True, request_timeout_ms=120_000)
    await outside.start()
    try:
        half_leads, half_purchases = len(leads.events) // 2, len(purchases.events) // 2
        await publish_events(outside, "leads.received.v1", leads.events[:half_leads])
        await publish_events(outside, "ledger.transfer-requested.v1", purchases.events[:half_purchases])
        await wait_until(lambda: processed_at_least(intake_db, tenant, 20), 60, "lead-intake consuming",
                         platform["lead-intake"])
        await wait_until(lambda: processed_at_least(ledger_db, tenant, 20), 60, "the ledger consuming",
                         platform["ledger"])

        broker.kill()
        killed_at = time.monotonic()
        at_kill = {"lead-intake": await inbox_count(intake_db, tenant), "ledger": await inbox_count(ledger_db, tenant),
                   "metrics": await metric_total(metrics_db, tenant, "pool", "created"),
                   "intake outbox": await intake_db["outbox"].count_documents({}),
                   "ledger outbox": await ledger_db["outbox"].count_documents({})}
        assert at_kill["lead-intake"] < len(leads.unique_ids), "the kill came too late to interrupt lead-intake"
        # the rest of both streams is sent while the broker is down: the producer holds it until it is back
        sending = asyncio.create_task(_publish_rest(outside, leads.events[half_leads:],
                                                    purchases.events[half_purchases:]))
        await asyncio.sleep(DOWN_SECONDS / 2)
        while_down = await readiness(platform)
        await asyncio.sleep(DOWN_SECONDS / 2)
        assert not sending.done(), "the producer claimed the broker's word while the broker was down"

        restarted = time.monotonic()
        await asyncio.to_thread(broker.start)  # on its data and ports; the producer retries meanwhile
        broker_back = time.monotonic() - restarted
        await asyncio.wait_for(sending, 120)
        sent = time.monotonic() - restarted
    finally:
        await outside.stop()

    # every service reconnects by itself: ready again with no restart
    reconnected = {name: await service.wait_ready(60) for name, service in platform.services.items()}
    assert {name: service.starts for name, service in platform.services.items()} == starts
    assert all(service.alive() for service in platform.services.values())

    # the broker kept every acknowledged record and the producer's retries doubled none: each event id is on
    # its topic as many times as the stream sent it (the stream delivers some twice on purpose)
    topics = await read_topics(platform.infra.kafka_bootstrap, "leads.received.v1", "ledger.transfer-requested.v1")
    on_topic = {name: Counter(r["value"]["id"] for r in records
                              if isinstance(r["value"], dict) and r["value"].get("tenantid") == tenant)
                for name, records in topics.items()}
    assert on_topic["leads.received.v1"] == Counter(event_id for event_id, _, _ in leads.events)
    assert on_topic["ledger.transfer-requested.v1"] == Counter(event_id for event_id, _, _ in purchases.events)

    _, summary = await caught_up_exactly_once(platform, tenant, leads, purchases)
    report(f"broker SIGKILL: killed after lead-intake processed {at_kill['lead-intake']}/{len(leads.unique_ids)} lead "
           f"events and the ledger {at_kill['ledger']}/{len(purchases.unique_ids)} requests (outbox rows "
           f"{at_kill['intake outbox']}/{at_kill['ledger outbox']}, metrics at {at_kill['metrics']} leads); down "
           f"{DOWN_SECONDS}s, /readyz meanwhile {while_down}; the broker served its topics again {broker_back:.1f}s "
           f"after its start; the buffered half was acknowledged {sent:.1f}s after the restart; services ready again "
           f"without a restart (" + ", ".join(f"{k} {v:.1f}s" for k, v in reconnected.items())
           + f"); every sent record on its topic as often as sent; {time.monotonic() - killed_at:.1f}s after the "
           f"kill {summary}")


async def _publish_rest(producer: AIOKafkaProducer, leads: list[tuple[str, bytes, bytes]],
                        purchases: list[tuple[str, bytes, bytes]]) -> None:
    await asyncio.gather(publish_events(producer, "leads.received.v1", leads),
                         publish_events(producer, "ledger.transfer-requested.v1", purchases))
