"""Rules agents cannot walk around, on the real broker and database, with lead-intake, the allocator and the
console running: a resting lead cannot be dialled by its holder (asked directly, or by logging a call
through the console), and a number put on the do-not-call list (by an operator, or by a complaint) closes
the leads with it, pooled and held, in two pools within a second, tells the holder, and refuses every
later dial: through another lead with the same number, or by importing the number again. The compacted
leads.do-not-call.v1 never shows a number (blind index and masked display only), also after its person was
erased, whose number stays refused; the migration replaces the plaintext keys of before by tombstones."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from allocator_support import qualified
from console_support import console_on_the_stack
from lead_intake.dnc_migration import migrate, read_topic
from telesales_testkit.auth import auth_headers
from telesales_testkit.harness import cloudevent, wait_until
from telesales_testkit.kafka import TopicTail

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "lead-received.json"
LISTING_DEADLINE_SECONDS = 1.0


@pytest.fixture(scope="module")
async def console(infra: Any, allocator: Any, tmp_path_factory: pytest.TempPathFactory
                  ) -> AsyncIterator[httpx.AsyncClient]:
    """The console's BFF in-process (its consumer of notifications on the real broker), calling the real
    allocator; a client that sends each request's own bearer token."""
    async with console_on_the_stack(infra, tmp_path_factory.mktemp("console"), allocator_url=allocator.base_url,
                                    group="console-e2e") as http:
        yield http


def envelope(topic: str, tenant: str, data: dict[str, Any]) -> bytes:
    return cloudevent(topic, tenant, data, event_id=str(uuid.uuid4()), time=datetime.now(UTC).isoformat(),
                      source="/e2e")


def phone() -> str:
    return "+86139" + str(uuid.uuid4().int)[:8]


class Floor:
    """One tenant of the test: its agents, leads sent as lead-intake sends them, and the allocator asked."""

    def __init__(self, allocator: httpx.AsyncClient, producer: AIOKafkaProducer) -> None:
        self.tenant = f"e2e-{uuid.uuid4().hex[:10]}"
        self.allocator = allocator
        self.producer = producer
        self.headers = {"X-Tenant-Id": self.tenant}

    def as_(self, role: str, sub: str, team: str | None = None) -> dict[str, str]:
        return auth_headers(role, sub, tenant=self.tenant, team=team)

    async def agent(self, agent_id: str, business_line: str, team: str) -> None:
        answer = await self.allocator.put(f"/v1/agents/{agent_id}", headers=self.headers, json={
            "name": agent_id, "team_id": team, "business_line": business_line})
        assert answer.status_code == 200, answer.text

    async def qualified(self, number: str, business_line: str) -> str:
        lead_id = uuid.uuid4().hex[:24]
        data = qualified(lead_id, phone_e164=number, business_line=business_line)
        await self.producer.send_and_wait("leads.qualified.v1", envelope("leads.qualified.v1", self.tenant, data),
                                          key=lead_id.encode())
        return lead_id

    async def lead(self, lead_id: str) -> dict[str, Any] | None:
        answer = await self.allocator.get(f"/v1/leads/{lead_id}", headers=self.headers)
        return answer.json() if answer.status_code == 200 else None

    async def pooled(self, lead_id: str) -> dict[str, Any]:
        async def there() -> Any:
            lead = await self.lead(lead_id)
            return lead if lead and lead["status"] == "pooled" else None
        return await wait_until(there, what=f"lead {lead_id} pooled")

    async def claim(self, agent_id: str, team: str, lead_id: str) -> None:
        answer = await self.allocator.post(f"/v1/agents/{agent_id}/claims", json={"tier_id": "fresh", "count": 5},
                                           headers=self.as_("agent", agent_id, team))
        assert answer.status_code == 200, answer.text
        assert lead_id in [lead["lead_id"] for lead in answer.json()["leads"]], answer.text

    async def dial(self, lead_id: str, headers: dict[str, str], agent_id: str | None = None) -> dict[str, Any]:
        answer = await self.allocator.post(f"/v1/leads/{lead_id}/dial", headers=headers,
                                           json={} if agent_id is None else {"agent_id": agent_id})
        assert answer.status_code == 200, answer.text  # a refusal is an answer, not an error
        return answer.json()

    async def closed_within(self, lead_ids: list[str], started: float, timeout: float = 10.0) -> float:
        """Seconds from `started` until every lead is closed for do-not-call (polled every 20 ms)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = await asyncio.gather(*(self.lead(lead_id) for lead_id in lead_ids))
            if all(s is not None and s["status"] == "do_not_call" for s in states):
                return time.monotonic() - started
            await asyncio.sleep(0.02)
        raise AssertionError(f"leads not closed in {timeout} s: {[s and s['status'] for s in states]}")


async def test_a_resting_lead_cannot_be_dialled_by_its_holder(
    producer: AIOKafkaProducer, http_allocator: httpx.AsyncClient, console: httpx.AsyncClient,
) -> None:
    floor = Floor(http_allocator, producer)
    await floor.agent("zhang-san", "education", "mba")
    await floor.agent("li-si", "education", "mba")
    policy = await http_allocator.put("/v1/config/policy", headers=floor.headers, json={"contact_max_calls": 1})
    assert policy.status_code == 200, policy.text
    lead_id = await floor.qualified(phone(), "education")
    await floor.pooled(lead_id)
    zhang = floor.as_("agent", "zhang-san", "mba")
    assert (await floor.dial(lead_id, zhang))["reason"] == "not_held"  # pooled: claim it first
    await floor.claim("zhang-san", "mba", lead_id)
    assert (await floor.dial(lead_id, zhang))["allowed"] is True

    # Two calls logged through the console (each asked first, and allowed): more than the policy's one.
    for number in range(2):
        logged = await console.post("/v1/calls", headers=zhang, json={
            "call_id": f"c-{uuid.uuid4().hex[:8]}-{number}", "lead_id": lead_id,
            "started_at": datetime.now(UTC).isoformat(), "duration_seconds": 30, "connected": True})
        assert logged.status_code == 202, logged.text

    async def resting() -> Any:
        answer = await floor.dial(lead_id, zhang)
        return answer if answer["reason"] == "resting" else None
    refused = await wait_until(resting, what="the lead resting")
    assert refused["allowed"] is False and refused["agent_id"] == "zhang-san"
    rest_until = datetime.fromisoformat(refused["rest_until"])
    assert rest_until > datetime.now(UTC) and rest_until.isoformat()[:16] in refused["detail"]
    assert (await floor.lead(lead_id))["holder"] == "zhang-san"  # still the holder, and still refused

    # Walking around it: a dialer asking for the holder, the holder logging a call anyway, another agent.
    dialer = auth_headers("service", "dialer-1", tenant=floor.tenant)
    assert (await floor.dial(lead_id, dialer, agent_id="zhang-san"))["reason"] == "resting"
    again = await console.post("/v1/calls", headers=zhang, json={
        "call_id": f"c-{uuid.uuid4().hex[:8]}", "lead_id": lead_id, "started_at": datetime.now(UTC).isoformat(),
        "duration_seconds": 30, "connected": True})
    assert again.status_code == 409, again.text
    assert again.json()["code"] == "dial_refused" and again.json()["reason"] == "resting"
    li = floor.as_("agent", "li-si", "mba")
    assert (await floor.dial(lead_id, li))["reason"] == "not_the_holder"
    forbidden = await http_allocator.post(f"/v1/leads/{lead_id}/dial", headers=li, json={"agent_id": "zhang-san"})
    assert forbidden.status_code == 403 and forbidden.json()["code"] == "not_your_agent"
    unknown = await http_allocator.post("/v1/leads/no-such-lead/dial", headers=zhang, json={})
    assert unknown.status_code == 404


async def _two_pools_one_number(floor: Floor) -> tuple[str, str, str]:
    """A number with a lead held by zhang-san in pool `education` and one pooled in pool `loans`."""
    await floor.agent("zhang-san", "education", "mba")
    number = phone()
    held = await floor.qualified(number, "education")
    pooled = await floor.qualified(number, "loans")
    await floor.pooled(held)
    assert (await floor.pooled(pooled))["pool_id"] == "loans"
    await floor.claim("zhang-san", "mba", held)
    return number, held, pooled


async def _holder_told(console: httpx.AsyncClient, floor: Floor, lead_id: str) -> dict[str, Any]:
    async def told() -> Any:
        page = (await console.get("/v1/notifications", headers=floor.as_("agent", "zhang-san", "mba"))).json()
        return [n for n in page["items"] if n["kind"] == "lead_do_not_call" and n["subject"]["lead_id"] == lead_id]
    [notification] = await wait_until(told, what="the holder's notification")
    return notification


async def _every_later_dial_refused(floor: Floor, number: str, held: str, lead_intake: Any,
                                    http_intake: httpx.AsyncClient, tail: TopicTail) -> None:
    zhang = floor.as_("agent", "zhang-san", "mba")
    assert (await floor.dial(held, zhang))["reason"] == "do_not_call"
    # another lead with the same number, arriving after the listing (as if it had slipped past intake)
    late = await floor.qualified(number, "education")

    async def stored() -> Any:
        return await floor.lead(late)
    assert (await wait_until(stored, what="the late lead stored"))["status"] == "do_not_call"
    assert (await floor.dial(late, zhang))["reason"] == "do_not_call"
    nothing = await floor.allocator.post("/v1/agents/zhang-san/claims", json={"tier_id": "fresh", "count": 5},
                                         headers=zhang)
    assert nothing.status_code == 200 and nothing.json()["claimed"] == 0, nothing.text
    # the number imported again through lead-intake: rejected at the door
    event = json.loads(EXAMPLE.read_text(encoding="utf-8")) | {"id": str(uuid.uuid4()), "tenantid": floor.tenant}
    event["data"]["phone"] = number
    # keyed by the source's own reference of the lead, never by a personal value (README "Personal data")
    await floor.producer.send_and_wait("leads.received.v1", json.dumps(event).encode(), key=event["id"].encode())
    rejected = await tail.wait_for("leads.rejected.v1", lambda e: e["tenantid"] == floor.tenant
                                   and e["source"] == lead_intake.source and e["data"]["phone_e164"] == number)
    assert "do_not_call" in [r["code"] for r in rejected["data"]["reasons"]]


@pytest.fixture
async def tail(infra: Any, allocator: Any, lead_intake: Any) -> AsyncIterator[TopicTail]:
    async with TopicTail(infra.kafka_bootstrap, "leads.do-not-call.v1", "allocation.closed.v1",
                         "leads.rejected.v1") as tail:
        yield tail


async def test_an_operator_s_do_not_call_closes_the_number_s_leads_in_every_pool_within_a_second(
    producer: AIOKafkaProducer, http_allocator: httpx.AsyncClient, http_intake: httpx.AsyncClient,
    console: httpx.AsyncClient, tail: TopicTail, allocator: Any, lead_intake: Any,
) -> None:
    floor = Floor(http_allocator, producer)
    number, held, pooled = await _two_pools_one_number(floor)

    started = time.monotonic()
    put = await http_intake.put(f"/v1/do-not-call/{number}", json={"reason": "asked us to stop"},
                                headers={"X-Tenant-Id": floor.tenant})
    assert put.status_code == 200, put.text
    took = await floor.closed_within([held, pooled], started)
    print(f"do-not-call by operator: both leads closed {took * 1000:.0f} ms after the PUT")
    assert took < LISTING_DEADLINE_SECONDS

    listed = await tail.wait_for("leads.do-not-call.v1", lambda e: e["tenantid"] == floor.tenant)
    assert listed["data"]["listed"] is True and listed["data"]["source"] == "operator"
    closed = await tail.wait_for("allocation.closed.v1", lambda e: e["tenantid"] == floor.tenant
                                 and e["source"] == allocator.source)
    assert (closed["data"]["lead_id"], closed["data"]["agent_id"], closed["data"]["do_not_call"]) == (
        held, "zhang-san", True)
    notification = await _holder_told(console, floor, held)
    assert notification["link"] == "/leads" and "asked us to stop" in notification["subject"]["reason"]
    await _every_later_dial_refused(floor, number, held, lead_intake, http_intake, tail)


async def test_a_complaint_closes_the_number_s_leads_in_every_pool_within_a_second(
    producer: AIOKafkaProducer, http_allocator: httpx.AsyncClient, http_intake: httpx.AsyncClient,
    console: httpx.AsyncClient, tail: TopicTail, allocator: Any, lead_intake: Any,
) -> None:
    floor = Floor(http_allocator, producer)
    number, held, pooled = await _two_pools_one_number(floor)

    started = time.monotonic()
    # the complaint is about the pooled lead: the held one, in another pool, is closed all the same
    await producer.send_and_wait("leads.complaint.v1", envelope("leads.complaint.v1", floor.tenant, {
        "lead_id": pooled, "reason": "rude caller", "phone_e164": number}), key=pooled.encode())
    took = await floor.closed_within([held, pooled], started)
    print(f"do-not-call by complaint: both leads closed {took * 1000:.0f} ms after the complaint")
    assert took < LISTING_DEADLINE_SECONDS

    entry = await http_intake.get(f"/v1/do-not-call/{number}", headers={"X-Tenant-Id": floor.tenant})
    assert entry.status_code == 200 and entry.json()["reason"] == "complaint: rude caller"
    assert entry.json()["phone_masked"] == number[:6] + "****" + number[-4:]
    notification = await _holder_told(console, floor, held)
    assert "rude caller" in notification["subject"]["reason"]
    await _every_later_dial_refused(floor, number, held, lead_intake, http_intake, tail)


# ---- no number on the compacted topic, ever -------------------------------------------------------------------


def written_forms(number: str) -> re.Pattern[str]:
    """The number however it may be written: E.164, with 86 or 0086, national, grouped by spaces or dashes."""
    national = number.removeprefix("+86")
    grouped = rf"{national[:3]}[ -]?{national[3:7]}[ -]?{national[7:]}"
    return re.compile(rf"(?:\+|00)?(?:86[ -]?)?{grouped}")


async def _numbers_on_the_topic(infra: Any, *numbers: str) -> list[str]:
    """Every record of leads.do-not-call.v1 from its beginning, keys and values, that shows one of `numbers`."""
    forms = [written_forms(n) for n in numbers]
    found = []
    for record in await read_topic(infra.kafka_bootstrap):
        text = record.key + " " + (record.value or b"").decode("utf-8", "replace")
        found += [text[:200] for form in forms if form.search(text)]
    return found


async def test_the_topic_holds_no_number_after_listing_and_erasing_and_the_number_stays_refused(
    infra: Any, producer: AIOKafkaProducer, http_allocator: httpx.AsyncClient, http_intake: httpx.AsyncClient,
    allocator: Any, lead_intake: Any,
) -> None:
    tenant, number, other = f"e2e-{uuid.uuid4().hex[:10]}", phone(), phone()
    national = number.removeprefix("+86")
    async with TopicTail(infra.kafka_bootstrap, "leads.qualified.v1", "leads.rejected.v1",
                         "leads.do-not-call.v1") as tail:
        event = json.loads(EXAMPLE.read_text(encoding="utf-8")) | {"id": str(uuid.uuid4()), "tenantid": tenant}
        event["data"]["phone"] = f"{national[:3]} {national[3:7]} {national[7:]}"
        await producer.send_and_wait("leads.received.v1", json.dumps(event).encode(), key=event["id"].encode())
        qualified = await tail.wait_for("leads.qualified.v1", lambda e: e["tenantid"] == tenant)
        lead_id = qualified["data"]["lead_id"]
        # a complaint quoting the number every way, and an operator listing another number, its reason quoting it
        await producer.send_and_wait("leads.complaint.v1", envelope("leads.complaint.v1", tenant, {
            "lead_id": lead_id, "reason": f"stop calling {number}, 0086 {national}, {national[:3]}-{national[3:7]}-"
                                          f"{national[7:]}"}), key=lead_id.encode())
        put = await http_intake.put(f"/v1/do-not-call/{other}", json={"reason": f"owner of {other} asked"},
                                    headers={"X-Tenant-Id": tenant})
        assert put.status_code == 200 and put.json()["phone_masked"] == other[:6] + "****" + other[-4:], put.text
        bidx = lead_intake.app.state.store.sealing.phone_index(tenant, number)
        listed = await tail.wait_for("leads.do-not-call.v1", lambda e: e["tenantid"] == tenant
                                     and e["data"]["phone_bidx"] == bidx)
        assert listed["data"]["phone_masked"] == number[:6] + "****" + number[-4:] and listed["subject"] == bidx

        # the allocator closed the lead, matching it by the blind index alone
        async def closed() -> Any:
            answer = await http_allocator.get(f"/v1/leads/{lead_id}", headers={"X-Tenant-Id": tenant})
            return answer.status_code == 200 and answer.json()["status"] == "do_not_call"
        await wait_until(closed, what="the listed lead closed")
        assert await _numbers_on_the_topic(infra, number, other) == []

        # the person is erased: the objection stays, and the topic still holds neither number
        asked = await http_intake.post("/v1/erasures", json={"phone": number},
                                       headers=auth_headers("operator", "op-1", tenant=tenant))
        assert asked.status_code == 202 and asked.json()["lead_ids"] == [lead_id], asked.text
        again = json.loads(EXAMPLE.read_text(encoding="utf-8")) | {"id": str(uuid.uuid4()), "tenantid": tenant}
        again["data"] |= {"phone": number, "name": "张伟", "email": f"{uuid.uuid4().hex[:8]}@example.cn"}
        await producer.send_and_wait("leads.received.v1", json.dumps(again).encode(), key=again["id"].encode())
        rejected = await tail.wait_for("leads.rejected.v1", lambda e: e["tenantid"] == tenant)
        assert [r["code"] for r in rejected["data"]["reasons"]] == ["do_not_call"]
    assert await _numbers_on_the_topic(infra, number, other) == []


async def test_the_migration_replaces_every_plaintext_key_by_a_blind_index_and_a_tombstone(
    infra: Any, producer: AIOKafkaProducer, lead_intake: Any, allocator: Any,
) -> None:
    tenant, kept, superseded = f"e2e-{uuid.uuid4().hex[:10]}", phone(), phone()
    sealing = lead_intake.app.state.store.sealing
    at = datetime.now(UTC)

    async def old_record(number: str, listed: bool, reason: str | None) -> None:  # as lead-intake published before
        await producer.send_and_wait("leads.do-not-call.v1", envelope("leads.do-not-call.v1", tenant, {
            "phone_e164": number, "listed": listed, "source": "operator", "reason": reason,
            "changed_at": at.isoformat()}), key=f"{tenant}/{number}".encode())
    await old_record(kept, True, f"asked, {kept}")
    await old_record(superseded, True, None)
    # a later change of `superseded` published under its blind index already: the migration must not undo it
    later = {"phone_bidx": sealing.phone_index(tenant, superseded), "phone_masked": "+86139****0000",
             "listed": False, "source": "operator", "changed_at": datetime.now(UTC).isoformat()}
    await producer.send_and_wait("leads.do-not-call.v1", envelope("leads.do-not-call.v1", tenant, later),
                                 key=f"{tenant}/{later['phone_bidx']}".encode())

    assert len(await _numbers_on_the_topic(infra, kept)) == 1  # the search finds a number where there is one

    counts = await migrate(infra.kafka_bootstrap, sealing.phone_index, tenants={tenant})
    assert (counts["republished"], counts["tombstoned"], counts["superseded"]) == (1, 2, 1), counts
    last: dict[str, Any] = {}
    for record in await read_topic(infra.kafka_bootstrap):
        if record.key.startswith(f"{tenant}/"):
            last[record.key] = record.value
    # the old keys end in tombstones: compaction removes every record of them
    assert last[f"{tenant}/{kept}"] is None and last[f"{tenant}/{superseded}"] is None
    republished = json.loads(last[f"{tenant}/{sealing.phone_index(tenant, kept)}"])
    assert republished["data"]["listed"] is True and republished["data"]["phone_masked"] == kept[:6] + "****" + kept[-4:]
    assert republished["data"]["reason"] == f"asked, {kept[:6]}****{kept[-4:]}"
    assert json.loads(last[f"{tenant}/{later['phone_bidx']}"])["data"]["listed"] is False  # not undone
    # what stays once compacted holds neither number
    alive = " ".join(f"{k} {v.decode()}" for k, v in last.items() if v is not None)
    assert not written_forms(kept).search(alive) and not written_forms(superseded).search(alive), alive
    # run again: nothing left to do
    assert await migrate(infra.kafka_bootstrap, sealing.phone_index, tenants={tenant}) | {"records_read": 0} == {
        "records_read": 0, "republished": 0, "tombstoned": 0, "superseded": 0, "unreadable": 0}


async def test_once_compacted_no_plaintext_key_is_left(infra: Any, producer: AIOKafkaProducer, lead_intake: Any) -> None:
    """The broker of this test session compacts at once (segments rolled every 100 ms, tombstones kept 0 ms,
    the cleaner's usual 15 s back-off); the topic's own configuration is put back afterwards."""
    tenant, number = f"e2e-{uuid.uuid4().hex[:10]}", phone()
    sealing = lead_intake.app.state.store.sealing
    await producer.send_and_wait("leads.do-not-call.v1", envelope("leads.do-not-call.v1", tenant, {
        "phone_e164": number, "listed": True, "source": "operator", "changed_at": datetime.now(UTC).isoformat()}),
        key=f"{tenant}/{number}".encode())
    assert (await migrate(infra.kafka_bootstrap, sealing.phone_index, tenants={tenant}))["tombstoned"] == 1
    async with compacting_at_once(infra.kafka_bootstrap, "leads.do-not-call.v1"):
        async def compacted() -> Any:
            # each round appends a record to every partition, so its active segment rolls and the cleaner gets
            # to the old ones
            await asyncio.sleep(1)
            for partition in await producer.partitions_for("leads.do-not-call.v1"):
                await producer.send_and_wait("leads.do-not-call.v1", None, key=f"{tenant}/roll".encode(),
                                             partition=partition)
            keys = [r.key for r in await read_topic(infra.kafka_bootstrap) if r.key.startswith(f"{tenant}/")]
            return keys if f"{tenant}/{number}" not in keys else None
        keys = await wait_until(compacted, what="the plaintext key compacted away", timeout=120)
    assert f"{tenant}/{sealing.phone_index(tenant, number)}" in keys  # the number's word stays, by blind index
    assert not [k for k in keys if written_forms(number).search(k)]


@asynccontextmanager
async def compacting_at_once(bootstrap: str, topic: str) -> AsyncIterator[None]:
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    from telesales_contracts.topics import broker_config

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs={
            **broker_config(topic), "segment.ms": "100", "min.cleanable.dirty.ratio": "0.01",
            "delete.retention.ms": "0", "max.compaction.lag.ms": "100"})])
        yield
    finally:
        await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs=broker_config(topic))])
        await admin.close()
