"""Erasure of a person, on the real stack with the six services running: a person goes through the whole
platform (submitted, qualified, pooled, claimed, seen in full, a call logged through the console, closed with
a note naming them), is erased on request, and once the request is complete (every service answered and
lead-intake's topic step is done), no database of the platform (every collection of every database MongoDB
lists), no Redis key and no Kafka topic of the platform (every record from the log start, dead letters'
base64 payloads decoded) holds their number, name or email readably. Then what tries to break it: an unknown person, a repeat, an erasure before the lead reaches the allocator,
a supervisor or an agent asking."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import bson
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from bson.raw_bson import RawBSONDocument
from floor_support import pooled_lead, put_agents
from pymongo import AsyncMongoClient
from topic_support import dead_letters_before, replayable, topics_holding

from allocator_support import qualified
from console_support import console_on_the_stack
from telesales_runtime.redis_client import connect_redis
from telesales_testkit.auth import auth_headers
from telesales_testkit.harness import cloudevent, wait_until
from telesales_testkit.kafka import TopicTail

SYSTEM_DATABASES = {"admin", "config", "local"}
COMPLETION_DEADLINE_SECONDS = 120


@pytest.fixture(scope="module")
async def console_app(infra: Any, allocator: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    """The console's BFF in-process, its consumers on the real broker, calling the real allocator."""
    async with console_on_the_stack(infra, tmp_path_factory.mktemp("console"), allocator_url=allocator.base_url,
                                    group="console-e2e") as http:
        yield http.app


@pytest.fixture(scope="module")
async def console(console_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=console_app),
                                 base_url=console_app.state.settings.public_url, timeout=30) as http:
        yield http


@pytest.fixture
async def everyone(lead_intake: Any, allocator: Any, ledger: Any, marketplace: Any, metrics: Any,
                   console: httpx.AsyncClient) -> httpx.AsyncClient:
    """The six services running; the console's client."""
    return console


class Person:
    def __init__(self) -> None:
        digits = str(uuid.uuid4().int)[:8]
        self.national = "139" + digits
        self.e164 = "+86" + self.national
        tag = uuid.uuid4().hex[:8]
        self.name = f"Qingxu Erasable{tag}"
        self.email = f"erasable.{tag}@example.com"
        self.notes = f"call {self.name} after 6pm"

    @property
    def needles(self) -> dict[str, bytes]:
        return {"e164": self.e164.encode(), "national": self.national.encode(), "name": self.name.encode(),
                "email": self.email.encode()}


def paths_of(value: Any, needle: str, path: str = "") -> list[str]:
    """Where in a document `needle` shows (for a failure's message)."""
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in paths_of(item, needle, f"{path}.{key}")]
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in paths_of(item, needle, f"{path}[{i}]")]
    if isinstance(value, bytes | str):
        return [path] if needle in (value if isinstance(value, str) else value.decode("utf-8", "replace")) else []
    return []


async def mongo_hits(mongo_uri: str, needles: dict[str, bytes]) -> list[str]:
    """Where (database.collection _id: what) any needle is readable, in every database MongoDB lists."""
    client: AsyncMongoClient[RawBSONDocument] = AsyncMongoClient(mongo_uri, document_class=RawBSONDocument)
    hits = []
    try:
        for database in await client.list_database_names():
            if database in SYSTEM_DATABASES:
                continue
            db = client[database]
            for collection in await db.list_collection_names():
                if collection.startswith("system."):
                    continue
                async for doc in db[collection].find({}):
                    raw = doc.raw
                    hits.extend(f"{database}.{collection} {what} at {paths_of(bson.decode(raw), needle.decode())}"
                                for what, needle in needles.items() if needle in raw)
    finally:
        await client.close()
    return hits


async def redis_hits(redis_url: str, needles: dict[str, bytes]) -> list[str]:
    redis = connect_redis(redis_url)
    hits = []
    try:
        async for key in redis.scan_iter(count=1000):
            kind = await redis.type(key)
            kind = kind.decode() if isinstance(kind, bytes) else kind
            if kind == "string":
                value: Any = await redis.get(key)
            elif kind == "hash":
                value = await redis.hgetall(key)
            elif kind == "list":
                value = await redis.lrange(key, 0, -1)
            elif kind == "set":
                value = await redis.smembers(key)
            elif kind == "zset":
                value = await redis.zrange(key, 0, -1)
            elif kind == "stream":
                value = await redis.xrange(key)
            else:
                value = None
            text = (repr(key) + repr(value)).encode()
            hits.extend(f"redis {key!r} {what}" for what, needle in needles.items() if needle in text)
    finally:
        await redis.aclose()
    return hits


async def assert_nowhere(infra: Any, person: Person, done: dict[str, Any], someone_else: bytes) -> None:
    """Every service answered, the topic step is done, and no collection, Redis key or topic holds the person;
    the other dead letter of a truncated range is still there for replay."""
    assert sorted(done["services"]) == sorted(done["expected_services"]) and len(done["services"]) == 6
    topics = done["topics"]
    assert topics["completed_at"] and topics["partitions_truncated"] >= 2 and topics["waiting_on"] == []
    mongo = await mongo_hits(infra.mongo_uri, person.needles)
    cached = await redis_hits(infra.redis_url, person.needles)
    assert mongo == [] and cached == [], (mongo, cached)
    holding = await topics_holding(infra.kafka_bootstrap, person.needles)
    assert holding == {}, f"Kafka topics still holding the person: {holding}"
    assert topics["dead_letters_kept"] >= 1 and await replayable(infra.kafka_bootstrap, someone_else)


async def put_floor(allocator: httpx.AsyncClient, tenant: str) -> None:
    await put_agents(allocator, tenant, [("zhang-san", "agent"), ("sup-wang", "supervisor")])


async def through_the_platform(person: Person, tenant: str, intake: httpx.AsyncClient,
                               allocator: httpx.AsyncClient, console: httpx.AsyncClient) -> str:
    """The person submitted, qualified, pooled, claimed, seen in full, called, asked a deal-in-progress mark for
    (the supervisor notified, with the note naming the person) and closed; the lead id."""
    admin = {"X-Tenant-Id": tenant}
    sent = await intake.post("/v1/leads", headers=admin, json={
        "name": person.name, "phone": person.national, "email": person.email, "notes": person.notes,
        "business_line": "education", "channel": "百度SEM", "product_interest": "MBA",
        "attributes": {"contact": person.name}})
    assert sent.status_code == 202, sent.text

    async def qualified_id() -> Any:
        status = (await intake.get(sent.json()["status_url"], headers=admin)).json()
        return status.get("lead_id") if status["status"] == "qualified" else None
    lead_id = await wait_until(qualified_id, what="the lead qualified")

    async def pooled() -> Any:
        answer = await allocator.get(f"/v1/leads/{lead_id}", headers=admin)
        return answer.status_code == 200 and answer.json()["status"] == "pooled"
    await wait_until(pooled, what="the lead pooled")
    zhang = auth_headers("agent", "zhang-san", tenant=tenant, team="mba")
    claimed = await allocator.post("/v1/agents/zhang-san/claims", headers=zhang, json={"tier_id": "fresh", "count": 1})
    assert claimed.status_code == 200 and claimed.json()["leads"][0]["lead_id"] == lead_id, claimed.text
    full = (await allocator.get(f"/v1/leads/{lead_id}", headers=zhang)).json()
    assert full["phone"] == person.e164 and full["name"] == person.name, full
    logged = await console.post("/v1/calls", headers=zhang, json={
        "call_id": f"c-{uuid.uuid4().hex[:8]}", "lead_id": lead_id, "started_at": datetime.now(UTC).isoformat(),
        "duration_seconds": 95, "connected": True})
    assert logged.status_code == 202, logged.text
    marked = await allocator.post(f"/v1/leads/{lead_id}/deal-mark", headers=zhang,
                                  json={"agent_id": "zhang-san", "note": f"{person.name} wants the MBA"})
    assert marked.status_code == 200, marked.text
    supervisor = auth_headers("supervisor", "sup-wang", tenant=tenant, team="mba")

    async def told() -> Any:
        page = (await console.get("/v1/notifications", headers=supervisor)).json()
        return [n for n in page["items"] if n["subject"].get("lead_id") == lead_id] or None
    [notice] = await wait_until(told, what="the supervisor's notification")
    assert person.name in notice["subject"]["note"]
    closed = await allocator.post(f"/v1/leads/{lead_id}/close", headers=zhang,
                                  json={"agent_id": "zhang-san", "reason": f"{person.name} bought elsewhere"})
    assert closed.status_code == 200, closed.text
    return lead_id


async def test_an_erased_person_is_nowhere_readable(infra: Any, http_intake: httpx.AsyncClient,
                                                     http_allocator: httpx.AsyncClient, allocator: Any,
                                                     producer: AIOKafkaProducer, everyone: httpx.AsyncClient) -> None:
    tenant = f"e2e-{uuid.uuid4().hex[:10]}"
    person = Person()
    await put_floor(http_allocator, tenant)
    async with TopicTail(infra.kafka_bootstrap, "privacy.erasure-requested.v1") as tail:
        lead_id = await through_the_platform(person, tenant, http_intake, http_allocator, everyone)
        assert await mongo_hits(infra.mongo_uri, person.needles), "the person should be stored before the erasure"
        someone_else = await dead_letters_before(producer, person.name, person.national)

        async def on_the_topics() -> Any:
            found = await topics_holding(infra.kafka_bootstrap, person.needles)
            return found if "platform.dead-lettered.v1" in found else None
        before = await wait_until(on_the_topics, what="the person's dead letter")
        assert "leads.qualified.v1" in before and "allocation.closed.v1" in before, before  # the check can fail

        privacy = auth_headers("service", "privacy-desk", tenant=tenant)
        started = time.monotonic()
        asked = await http_intake.post("/v1/erasures", headers=privacy,
                                       json={"phone": person.national, "email": person.email, "reason": "ticket 19"})
        assert asked.status_code == 202, asked.text
        request = asked.json()
        assert request["lead_ids"] == [lead_id] and request["status"] == "pending"
        assert person.national not in asked.text and person.email not in asked.text

        async def complete() -> Any:
            answer = (await http_intake.get(f"/v1/erasures/{request['request_id']}", headers=privacy)).json()
            return answer if answer["status"] == "complete" else None
        done = await wait_until(complete, timeout=COMPLETION_DEADLINE_SECONDS, what="every service's completion "
                                "and the topic step")
        took = time.monotonic() - started
        services_took = max(s["completed_at"] for s in done["services"].values())
        print(f"\nerasure request -> complete (topics clean) in {took:.2f} s (services answered by "
              f"{services_took}, topics clean at {done['topics']['completed_at']}); topic step:",
              {k: v for k, v in done["topics"].items() if k != "completed_at"}, "; per service:",
              {name: s["counts"] for name, s in done["services"].items()})
        assert took < COMPLETION_DEADLINE_SECONDS / 2, took
        assert done["requested_by"]["sub"] == "privacy-desk" and done["note"] == "ticket 19"
        await assert_nowhere(infra, person, done, someone_else)
        await tail.poll(1000)
        erased_events = [e for e in tail.events["privacy.erasure-requested.v1"]
                         if e["data"]["request_id"] == request["request_id"]]
        assert len(erased_events) == 1

    # the lead is still there for the counts, without the person
    lead = (await http_allocator.get(f"/v1/leads/{lead_id}", headers={"X-Tenant-Id": tenant})).json()
    assert lead["phone"] is None and lead["name"] is None and lead["status"] == "closed"
    # the outside system sends the person's record again (matched on its reference): the erased lead stays closed
    merged = {"lead_id": lead_id, "matched_on": "external_ref", "touches": 2, "external_refs": [],
              "touch": {"event_id": str(uuid.uuid4()), "source": "/crm", "channel": "search_ads_seo",
                        "received_at": datetime.now(UTC).isoformat()}}
    await producer.send_and_wait("leads.merged.v1", cloudevent("leads.merged.v1", tenant, merged,
                                 event_id=str(uuid.uuid4()), time=datetime.now(UTC).isoformat(), source="/e2e"),
                                 key=lead_id.encode())
    inbox = allocator.app.state.store.db["inbox"]
    await wait_until(lambda: inbox.find_one({"tenant_id": tenant, "outcome.status": "erased"}),
                     what="the repeat consumed")
    assert (await http_allocator.get(f"/v1/leads/{lead_id}", headers={"X-Tenant-Id": tenant})).json()["status"] == "closed"
    # asked again: nobody has that number or email any more
    again = await http_intake.post("/v1/erasures", headers=privacy, json={"phone": person.e164})
    assert again.status_code == 202 and again.json()["status"] == "nothing_found" and again.json()["lead_ids"] == []
    listed = (await http_intake.get("/v1/erasures", headers=privacy)).json()["items"]
    assert [item["request_id"] for item in listed] == [again.json()["request_id"], request["request_id"]]


async def test_an_unknown_person_gets_a_clear_answer_and_no_event(infra: Any, http_intake: httpx.AsyncClient) -> None:
    tenant = f"e2e-{uuid.uuid4().hex[:10]}"
    operator = auth_headers("operator", "op-1", tenant=tenant)
    async with TopicTail(infra.kafka_bootstrap, "privacy.erasure-requested.v1") as tail:
        answer = await http_intake.post("/v1/erasures", headers=operator, json={"email": "nobody@example.com"})
        assert answer.status_code == 202, answer.text
        assert answer.json()["status"] == "nothing_found"

        async def topics_checked() -> Any:
            again = (await http_intake.get(f"/v1/erasures/{answer.json()['request_id']}", headers=operator)).json()
            return again if again["completed_at"] else None
        done = await wait_until(topics_checked, what="the topic step of a request that found no lead")
        assert done["status"] == "nothing_found" and done["topics"]["completed_at"] and done["services"] == {}
        await tail.poll(1000)
        assert [e for e in tail.events["privacy.erasure-requested.v1"] if e.get("tenantid") == tenant] == []
    for body in ({}, {"phone": "12"}, {"phone": "13900000000", "extra": 1}):
        refused = await http_intake.post("/v1/erasures", headers=operator, json=body)
        assert refused.status_code == 422 and refused.headers["content-type"].startswith("application/problem+json")
    missing = await http_intake.get("/v1/erasures/erasure-nope", headers=operator)
    assert missing.status_code == 404


async def test_a_rejected_person_without_a_lead_is_erased_from_the_topics(
        infra: Any, http_intake: httpx.AsyncClient, everyone: httpx.AsyncClient) -> None:
    tenant = f"e2e-{uuid.uuid4().hex[:10]}"
    person = Person()
    admin = {"X-Tenant-Id": tenant}
    required = await http_intake.put("/v1/config/consent", headers=admin, json={"require_telemarketing_consent": True})
    assert required.status_code == 200, required.text
    sent = await http_intake.post("/v1/leads", headers=admin, json={
        "name": person.name, "phone": person.national, "email": person.email, "business_line": "education",
        "channel": "百度SEM", "product_interest": "MBA"})
    assert sent.status_code == 202, sent.text

    async def rejected_on_the_topic() -> Any:
        status = (await http_intake.get(sent.json()["status_url"], headers=admin)).json()
        found = await topics_holding(infra.kafka_bootstrap, person.needles) if status["status"] == "rejected" else {}
        return found if "leads.rejected.v1" in found else None
    await wait_until(rejected_on_the_topic, what="the rejection on leads.rejected.v1")
    privacy = auth_headers("service", "privacy-desk", tenant=tenant)
    asked = (await http_intake.post("/v1/erasures", headers=privacy, json={"phone": person.e164})).json()
    assert asked["status"] == "nothing_found"

    async def done() -> Any:
        answer = (await http_intake.get(f"/v1/erasures/{asked['request_id']}", headers=privacy)).json()
        return answer if answer["completed_at"] else None
    finished = await wait_until(done, timeout=COMPLETION_DEADLINE_SECONDS, what="the topic step")
    assert finished["topics"]["partitions_truncated"] >= 1
    # the name and email were never asked for: only the number is looked for, and only it must be gone
    holding = await topics_holding(infra.kafka_bootstrap, {k: v for k, v in person.needles.items()
                                                          if k in ("e164", "national")})
    assert holding == {}, holding


async def test_a_supervisor_or_an_agent_may_not_erase(http_intake: httpx.AsyncClient) -> None:
    tenant = f"e2e-{uuid.uuid4().hex[:10]}"
    for role in ("supervisor", "agent"):
        refused = await http_intake.post("/v1/erasures", headers=auth_headers(role, "someone", tenant=tenant,
                                                                             team="mba"), json={"phone": "13912345678"})
        assert refused.status_code == 403, refused.text



async def request_erasure_of_an_unseen_lead(producer: AIOKafkaProducer) -> tuple[str, str, dict[str, Any]]:
    """An erasure request, published straight to the topic, for a lead of a new tenant no service has seen."""
    tenant = f"e2e-{uuid.uuid4().hex[:10]}"
    lead_id = uuid.uuid4().hex[:24]
    request = {"request_id": f"erasure-{uuid.uuid4().hex}", "lead_ids": [lead_id], "reason": "request"}
    await producer.send_and_wait("privacy.erasure-requested.v1", cloudevent(
        "privacy.erasure-requested.v1", tenant, request, event_id=str(uuid.uuid4()),
        time=datetime.now(UTC).isoformat(), source="/e2e"), key=request["request_id"].encode())
    return tenant, lead_id, request

async def test_an_erasure_before_the_lead_reaches_the_allocator(
        producer: AIOKafkaProducer, http_allocator: httpx.AsyncClient, allocator: Any) -> None:
    tenant, lead_id, request = await request_erasure_of_an_unseen_lead(producer)
    erasures = allocator.app.state.store.db["erasures"]

    async def handled() -> Any:
        return await erasures.find_one({"request_id": request["request_id"]})
    await wait_until(handled, what="the allocator's erasure")
    number = "+86139" + str(uuid.uuid4().int)[:8]
    late = cloudevent("leads.qualified.v1", tenant, qualified(lead_id, phone_e164=number, name="Late Arrival"),
                      event_id=str(uuid.uuid4()), time=datetime.now(UTC).isoformat(), source="/e2e")
    await producer.send_and_wait("leads.qualified.v1", late, key=lead_id.encode())
    inbox = allocator.app.state.store.db["inbox"]

    async def consumed() -> Any:
        return await inbox.find_one({"tenant_id": tenant})
    await wait_until(consumed, what="the late lead consumed")
    stored = await allocator.app.state.store.leads.find_one({"_id": lead_id})
    assert stored["status"] == "erased" and stored.get("phone_e164") is None and "name" not in stored, stored


async def test_retention_erases_leads_closed_longer_than_the_tenant_keeps_them(
        infra: Any, http_intake: httpx.AsyncClient, http_allocator: httpx.AsyncClient, allocator: Any,
        everyone: httpx.AsyncClient) -> None:
    tenant = f"e2e-{uuid.uuid4().hex[:10]}"
    person = Person()
    await put_floor(http_allocator, tenant)
    policy = await http_allocator.put("/v1/config/policy", headers={"X-Tenant-Id": tenant},
                                      json={"personal_data_retention_days": 30})
    assert policy.status_code == 200, policy.text
    lead_id = await through_the_platform(person, tenant, http_intake, http_allocator, everyone)
    # the tenant keeps closed leads for less time than the topics keep personal data: its retention clears them too
    assert "leads.qualified.v1" in await wait_until(lambda: topics_holding(infra.kafka_bootstrap, person.needles),
                                                    what="the person on the topics")
    retention = allocator.app.state.retention  # the e2e allocator runs no sweeps of its own: rounds by hand
    assert (await retention.tenants_with_retention())[tenant] == 30
    assert await retention.sweep_tenant(tenant, 30) == []  # closed just now: kept
    # closed 31 days ago, as the sweep's clock sees it
    leads = allocator.app.state.store.leads
    await leads.update_one({"_id": lead_id}, {"$set": {"closed_at": datetime.now(UTC) - timedelta(days=31)}})
    started = time.monotonic()
    [request_id] = await retention.sweep_tenant(tenant, 30)
    assert await retention.sweep_tenant(tenant, 30) == []  # requested once, not again each round

    async def complete() -> Any:
        answer = await http_intake.get(f"/v1/erasures/{request_id}", headers={"X-Tenant-Id": tenant})
        return answer.json() if answer.status_code == 200 and answer.json()["status"] == "complete" else None
    done = await wait_until(complete, timeout=COMPLETION_DEADLINE_SECONDS, what="the retention erasure complete")
    print(f"\nretention request -> complete in {time.monotonic() - started:.2f} s")
    assert done["reason"] == "retention" and len(done["services"]) == 6
    assert done["services"]["lead-intake"]["counts"]["leads"] == 1
    assert done["topics"]["completed_at"] and done["topics"]["records_removed"] > 0, done["topics"]
    assert await mongo_hits(infra.mongo_uri, person.needles) == []
    assert await topics_holding(infra.kafka_bootstrap, person.needles) == {}
    assert (await leads.find_one({"_id": lead_id}))["erased_at"] is not None


async def test_an_erased_pooled_lead_leaves_its_pool(producer: AIOKafkaProducer, http_allocator: httpx.AsyncClient,
                                                     allocator: Any) -> None:
    tenant = f"e2e-{uuid.uuid4().hex[:10]}"
    await put_floor(http_allocator, tenant)
    lead_id = await pooled_lead(producer, http_allocator, tenant)
    request = {"request_id": f"erasure-{uuid.uuid4().hex}", "lead_ids": [lead_id], "reason": "request"}
    event = cloudevent("privacy.erasure-requested.v1", tenant, request, event_id=str(uuid.uuid4()),
                       time=datetime.now(UTC).isoformat(), source="/e2e")
    for _ in range(2):  # delivered twice: handled once
        await producer.send_and_wait("privacy.erasure-requested.v1", event, key=request["request_id"].encode())

    async def withdrawn() -> Any:
        answer = (await http_allocator.get(f"/v1/leads/{lead_id}", headers={"X-Tenant-Id": tenant})).json()
        return answer if answer["status"] == "erased" else None
    lead = await wait_until(withdrawn, what="the lead out of its pool")
    assert lead["phone"] is None and lead["name"] is None and lead["holder"] is None
    zhang = auth_headers("agent", "zhang-san", tenant=tenant, team="mba")
    claimed = await http_allocator.post("/v1/agents/zhang-san/claims", headers=zhang,
                                        json={"tier_id": "fresh", "count": 5})
    assert claimed.status_code == 200 and claimed.json()["leads"] == [], claimed.text
    records = await allocator.app.state.store.db["erasures"].count_documents({"request_id": request["request_id"]})
    assert records == 1


async def test_a_broken_erasure_request_is_dead_lettered_by_every_service(
        infra: Any, producer: AIOKafkaProducer, everyone: httpx.AsyncClient) -> None:
    tenant = f"e2e-{uuid.uuid4().hex[:10]}"
    broken = cloudevent("privacy.erasure-requested.v1", tenant, {"request_id": "r-1", "lead_ids": "L1",
                                                                 "reason": "because"},
                        event_id=str(uuid.uuid4()), time=datetime.now(UTC).isoformat(), source="/e2e")
    async with TopicTail(infra.kafka_bootstrap, "platform.dead-lettered.v1") as tail:
        await producer.send_and_wait("privacy.erasure-requested.v1", broken, key=b"r-1")

        async def every_service() -> Any:
            await tail.poll()
            services = {e["data"]["service"] for e in tail.events["platform.dead-lettered.v1"]
                        if e.get("tenantid") == tenant and e["data"]["original_topic"] == "privacy.erasure-requested.v1"}
            return services if len(services) == 6 else None
        services = await wait_until(every_service, what="a dead letter from every service")
    assert services == {"lead-intake", "allocator", "console", "metrics", "marketplace", "ledger"}


async def test_a_notification_arriving_after_the_erasure_is_stored_without_the_person(
        producer: AIOKafkaProducer, console_app: Any, everyone: httpx.AsyncClient) -> None:
    tenant, lead_id, request = await request_erasure_of_an_unseen_lead(producer)
    erasures = console_app.state.notification_store.db["erasures"]

    async def handled() -> Any:
        return await erasures.find_one({"request_id": request["request_id"]})
    await wait_until(handled, what="the console's erasure")
    # a deal-mark request the allocator published before the erasure, reaching the console only now
    late = {"lead_id": lead_id, "request_id": "dm-1", "agent_id": "zhang-san", "team_id": "mba",
            "business_line": "education", "supervisors": ["sup-wang"], "note": "Late Person wants the MBA",
            "requested_at": datetime.now(UTC).isoformat()}
    await producer.send_and_wait("allocation.deal-mark-requested.v1", cloudevent(
        "allocation.deal-mark-requested.v1", tenant, late, event_id=str(uuid.uuid4()),
        time=datetime.now(UTC).isoformat(), source="/e2e"), key=lead_id.encode())
    supervisor = auth_headers("supervisor", "sup-wang", tenant=tenant, team="mba")

    async def told() -> Any:
        page = (await everyone.get("/v1/notifications", headers=supervisor)).json()
        return [n for n in page["items"] if n["subject"].get("lead_id") == lead_id] or None
    [notice] = await wait_until(told, what="the late notification")
    assert notice["subject"]["note"] is None and notice["subject"]["agent_id"] == "zhang-san"
