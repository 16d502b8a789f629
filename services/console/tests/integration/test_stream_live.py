"""The live channel end to end on the real broker, MongoDB and Redis: events published to Kafka reach SSE
clients of real uvicorn servers ("replicas" in this process, sharing MongoDB and Redis), once each."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import redis.asyncio as redis
from live_support import Publisher, Replica, SseClient, agent, coins_allocated, hot_lead, new_tenant, replica

from console.notifications import Draft, NotificationKind
from console.settings import ConsoleSettings
from telesales_testkit.harness import wait_until
from telesales_testkit.kafka import TopicTail


@pytest.fixture(scope="module")
def settings(infra: Any) -> ConsoleSettings:
    return ConsoleSettings(kafka_bootstrap=infra.kafka_bootstrap, mongo_uri=infra.mongo_uri, redis_url=infra.redis_url,
                           mongo_db=f"test_console_{uuid.uuid4().hex[:8]}", log_json=False,
                           notification_channel=f"test:console:{uuid.uuid4().hex[:8]}", sse_heartbeat_seconds=0.5)


@pytest.fixture(scope="module")
async def publisher(settings: ConsoleSettings) -> AsyncIterator[Publisher]:
    async with Publisher(settings.kafka_bootstrap) as p:
        yield p


@pytest.fixture(scope="module")
async def console(settings: ConsoleSettings, publisher: Publisher) -> AsyncIterator[Replica]:
    async with replica(settings) as running:
        await consuming(running, publisher)
        yield running


async def consuming(running: Replica, publisher: Publisher) -> None:
    """Wait until the consumer has joined its group and works (an event sent now is stored)."""
    tenant = new_tenant()
    await publisher.send("ledger.coins-allocated.v1", tenant, coins_allocated("warm-up"))
    await wait_until(lambda: running.store.last_seq(tenant, "warm-up"), timeout=60)


async def stream(running: Replica, sub: str, tenant: str, **headers: str) -> SseClient:
    return await SseClient(running.client(), agent(sub, tenant) | headers).open()


async def test_an_event_reaches_the_agents_stream_within_a_second(console: Replica, publisher: Publisher) -> None:
    tenant = new_tenant()
    client = await stream(console, "zhang-san", tenant)
    try:
        assert client.retry == 3000
        assert client.response_headers is not None
        assert client.response_headers["content-type"].startswith("text/event-stream")
        assert client.response_headers["cache-control"] == "no-cache"
        assert client.response_headers["x-accel-buffering"] == "no"
        latencies = []
        for n in range(1, 6):
            sent = time.monotonic()
            await publisher.send("allocation.hot-lead.v1", tenant, hot_lead("zhang-san", lead_id=f"L-{n}"))
            (*_, got) = await client.wait_for(n, timeout=5)
            latencies.append(got.at - sent)
        assert max(latencies) < 1.0, latencies
        assert client.seqs == [1, 2, 3, 4, 5]
        first = client.events[0].data
        assert first["seq"] == 1 and first["kind"] == "hot_lead" and first["link"] == "/leads/L-1"
        assert first["subject"]["signal_kind"] == "unpaid_order" and first["read"] is False
        # Binary content mode is read the same.
        await publisher.send_binary("ledger.coins-allocated.v1", tenant, coins_allocated("zhang-san", 50),
                                    event_id=str(uuid.uuid4()))
        await client.wait_for(6, timeout=5)
        assert client.events[5].data["subject"]["amount"] == 50
        await asyncio.sleep(1.2)
        assert client.comments >= 1  # heartbeats while quiet
    finally:
        await client.close()


async def test_a_redelivered_event_makes_one_notification(console: Replica, publisher: Publisher) -> None:
    tenant = new_tenant()
    client = await stream(console, "li-si", tenant)
    try:
        event_id = str(uuid.uuid4())
        data = coins_allocated("li-si")
        for _ in range(3):
            await publisher.send("ledger.coins-allocated.v1", tenant, data, event_id=event_id)
        await publisher.send("ledger.coins-allocated.v1", tenant, coins_allocated("li-si", 7))
        await client.wait_for(2)
        await asyncio.sleep(0.5)
        assert client.seqs == [1, 2]
        assert [e.data["subject"]["amount"] for e in client.events] == [100, 7]
        page = (await console.client().get("/v1/notifications", headers=agent("li-si", tenant))).json()
        assert [n["seq"] for n in page["items"]] == [2, 1]
    finally:
        await client.close()


async def test_a_reconnect_with_last_event_id_gets_what_it_missed_once(console: Replica, publisher: Publisher) -> None:
    tenant = new_tenant()
    first = await stream(console, "wang-wu", tenant)
    for n in range(2):
        await publisher.send("allocation.hot-lead.v1", tenant, hot_lead("wang-wu", lead_id=f"L-{n}"), key="wang-wu")
    await first.wait_for(2)
    await first.close()
    for n in range(2, 5):
        await publisher.send("allocation.hot-lead.v1", tenant, hot_lead("wang-wu", lead_id=f"L-{n}"), key="wang-wu")
    await wait_until(lambda: reached(console, tenant, "wang-wu", 5))
    again = await stream(console, "wang-wu", tenant, **{"Last-Event-ID": "2"})
    by_query = await SseClient(console.client(), agent("wang-wu", tenant), params={"last_event_id": "4"}).open()
    fresh = await stream(console, "wang-wu", tenant)  # no id: from now on only
    try:
        await again.wait_for(3)
        await by_query.wait_for(1)
        await publisher.send("allocation.hot-lead.v1", tenant, hot_lead("wang-wu", lead_id="L-5"))
        await again.wait_for(4)
        await fresh.wait_for(1)
        await asyncio.sleep(0.3)
        assert again.seqs == [3, 4, 5, 6]
        assert by_query.seqs == [5, 6]
        assert fresh.seqs == [6]
        assert [e.data["subject"]["lead_id"] for e in again.events] == ["L-2", "L-3", "L-4", "L-5"]
    finally:
        for client in (again, by_query, fresh):
            await client.close()


async def test_two_replicas_each_serve_any_user(settings: ConsoleSettings, console: Replica,
                                                publisher: Publisher) -> None:
    tenant = new_tenant()
    async with replica(settings) as other:
        on_first = await stream(console, "zhao-liu", tenant)
        on_second = await stream(other, "qian-qi", tenant)
        both = [await stream(console, "sun-ba", tenant), await stream(other, "sun-ba", tenant)]
        try:
            for user in ("zhao-liu", "qian-qi", "sun-ba", "zhao-liu"):
                await publisher.send("allocation.hot-lead.v1", tenant, hot_lead(user))
            await on_first.wait_for(2, timeout=30)  # the group rebalanced over the two replicas meanwhile
            await on_second.wait_for(1, timeout=30)
            for client in both:
                await client.wait_for(1, timeout=30)
            await asyncio.sleep(0.5)
            assert on_first.seqs == [1, 2] and on_second.seqs == [1]
            assert [c.seqs for c in both] == [[1], [1]]
        finally:
            for client in (on_first, on_second, *both):
                await client.close()


async def test_users_only_get_their_own_tenants_and_own_notifications(console: Replica,
                                                                     publisher: Publisher) -> None:
    tenant, elsewhere = new_tenant(), new_tenant()
    owner = await stream(console, "zhang-san", tenant)
    same_sub_other_tenant = await stream(console, "zhang-san", elsewhere)
    colleague = await stream(console, "li-si", tenant)
    colleague_replaying = await stream(console, "li-si", tenant, **{"Last-Event-ID": "0"})
    try:
        await publisher.send("allocation.hot-lead.v1", tenant, hot_lead("zhang-san"))
        await owner.wait_for(1)
        await asyncio.sleep(0.5)
        for client in (same_sub_other_tenant, colleague, colleague_replaying):
            assert client.events == []
        http = console.client()
        # X-Tenant-Id naming another tenant than the token's is refused for an agent.
        for path in ("/v1/notifications", "/v1/notifications/stream"):
            crossing = await http.get(path, headers=agent("zhang-san", tenant) | {"X-Tenant-Id": elsewhere})
            assert (crossing.status_code, crossing.json()["code"]) == (403, "tenant_mismatch")
        assert (await http.get("/v1/notifications", headers=agent("li-si", tenant))).json()["items"] == []
        assert (await http.get("/v1/notifications", headers=agent("zhang-san", elsewhere))).json()["items"] == []
        refused = await http.post("/v1/notifications/1/read", headers=agent("li-si", tenant))
        assert refused.status_code == 404 and refused.headers["content-type"] == "application/problem+json"
        assert (await http.post("/v1/notifications/1/read", headers=agent("zhang-san", elsewhere))).status_code == 404
        mine = (await http.get("/v1/notifications", headers=agent("zhang-san", tenant))).json()
        assert mine["unread"] == 1 and mine["items"][0]["read"] is False
        no_token = await http.get("/v1/notifications/stream")
        assert no_token.status_code == 401
    finally:
        for client in (owner, same_sub_other_tenant, colleague, colleague_replaying):
            await client.close()


async def test_a_poison_record_is_dead_lettered_and_the_next_event_still_arrives(
        settings: ConsoleSettings, console: Replica, publisher: Publisher) -> None:
    tenant = new_tenant()
    client = await stream(console, "zhou-jiu", tenant)
    async with TopicTail(settings.kafka_bootstrap, "platform.dead-lettered.v1") as tail:
        marker = f"poison-{uuid.uuid4().hex}"
        await publisher.send_raw("allocation.hot-lead.v1", f'{{"not a cloudevent": "{marker}"'.encode())
        bad_data = hot_lead("zhou-jiu") | {"kind": "no-such-signal"}
        bad_id = await publisher.send("allocation.hot-lead.v1", tenant, bad_data)
        await publisher.send("allocation.hot-lead.v1", tenant, hot_lead("zhou-jiu"))
        try:
            await client.wait_for(1)
            broken = await tail.wait_for("platform.dead-lettered.v1",
                                         lambda e: marker in (e.get("data", {}).get("payload_text") or ""), timeout=30)
            invalid = await tail.wait_for("platform.dead-lettered.v1",
                                          lambda e: bad_id in (e.get("data", {}).get("payload_text") or ""), timeout=30)
        finally:
            await client.close()
    assert broken["data"]["error_type"] == "json_error"
    assert invalid["data"]["error_type"] == "schema_error" and invalid["tenantid"] == tenant
    assert client.seqs == [1]


async def test_a_lost_announcement_or_a_redis_disconnect_loses_nothing(console: Replica) -> None:
    tenant = new_tenant()
    client = await stream(console, "wu-shi", tenant)
    try:
        def draft(n: int) -> Draft:
            return Draft(tenant=tenant, user="wu-shi", event_id=f"ev-{n}", part=0, kind=NotificationKind.COINS_RECEIVED,
                         subject={"source": "allocation", "amount": n}, link="/wallet", at=datetime.now(UTC))

        await console.store.add([draft(1)])  # stored, never announced (a lost pub/sub message)
        await console.store.add([draft(2)])
        stored = await console.store.add([draft(3)])
        await console.hub.announce(stored)  # seq 3 shows the gap: 1 and 2 are read from MongoDB
        await client.wait_for(3)
        assert client.seqs == [1, 2, 3]
        # The subscription's connection drops; what is committed meanwhile is read after it resubscribes.
        await console.store.add([draft(4)])
        subscriptions = console.hub.subscriptions
        admin = redis.Redis.from_url(console.hub.redis_url)
        try:
            killed = await admin.execute_command("CLIENT", "KILL", "TYPE", "pubsub", "SKIPME", "yes")
            ours = [c for c in await admin.client_list() if c.get("name") == console.hub.client_name]
        finally:
            await admin.aclose()
        assert killed >= 1 or not ours
        await wait_until(lambda: _true(console.hub.subscriptions > subscriptions), timeout=10)
        await client.wait_for(4)
        assert client.seqs == [1, 2, 3, 4]
        assert [e.data["subject"]["amount"] for e in client.events] == [1, 2, 3, 4]
    finally:
        await client.close()


async def _true(value: bool) -> bool:
    return value


async def reached(running: Replica, tenant: str, user: str, seq: int) -> bool:
    return await running.store.last_seq(tenant, user) >= seq


async def test_streams_end_cleanly_when_the_app_shuts_down(settings: ConsoleSettings) -> None:
    async with replica(settings) as running:
        client = await stream(running, "zheng-shi", new_tenant())
    assert client.task is not None
    await asyncio.wait_for(client.task, 5)  # ended without an error
    assert client.events == []
