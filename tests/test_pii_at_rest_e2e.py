"""Encryption at rest on the real broker and database, with lead-intake, the allocator and the console running:
a lead with a known number, name, email and an extra field goes through intake and the allocator, is claimed
its number put on the do-not-call list, the person arrives again (rejected) and complains; then every document of the three services' databases is read as a
thief with a copy of them would, and none holds the number (E.164 or national digits), the name, the email or
the extra value. The APIs still answer them in full to those allowed."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from bson import json_util
from pymongo import AsyncMongoClient

from console_support import console_on_the_stack
from telesales_testkit.auth import auth_headers
from telesales_testkit.harness import cloudevent, wait_until

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "lead-received.json"


@pytest.fixture(scope="module")
async def console(infra: Any, allocator: Any, tmp_path_factory: pytest.TempPathFactory
                  ) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """The console's BFF in-process (its consumer of notifications on the real broker) and its database."""
    async with console_on_the_stack(infra, tmp_path_factory.mktemp("console"), allocator_url=allocator.base_url,
                                    group="console-e2e") as http:
        yield http, http.app.state.settings.mongo_db


async def readable(infra: Any, databases: list[str], secrets: list[str]) -> list[str]:
    """Where any of `secrets` can be read in any document of `databases`: database.collection and the secret."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_uri)
    found = []
    try:
        for name in databases:
            db = client[name]
            for collection in await db.list_collection_names():
                async for doc in db[collection].find():
                    text = json_util.dumps(doc, ensure_ascii=False)
                    found += [f"{name}.{collection}: {s}" for s in secrets if s in text]
    finally:
        await client.close()
    return found


async def drained(infra: Any, intake_db: str, allocator_db: str, tenant: str) -> bool:
    """No event of the tenant waits in an outbox (they carry the data to Kafka, and leave once relayed)."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_uri)
    try:
        waiting = (await client[intake_db]["outbox"].count_documents({"tenant_id": tenant})
                   + await client[allocator_db]["outbox"].count_documents({"tenant_id": tenant})
                   + await client[allocator_db]["leads"].count_documents({"tenant_id": tenant, "outbox.0": {"$exists": True}}))
    finally:
        await client.close()
    return waiting == 0


async def arrives_again_and_complains(producer: AIOKafkaProducer, http_intake: httpx.AsyncClient,
                                     event: dict[str, Any], tenant: str, lead_id: str, phone: str) -> None:
    """The listed person arrives again (rejected: the rejection's reasons, which quote the number, are kept in
    the inbox) and complains about the lead (the number kept with the complaint's inbox entry)."""
    admin = {"X-Tenant-Id": tenant}
    again = event | {"id": str(uuid.uuid4())}
    await producer.send_and_wait("leads.received.v1", json.dumps(again).encode(), key=again["id"].encode())
    complaint = cloudevent("leads.complaint.v1", tenant, {"lead_id": lead_id, "reason": "rude caller"},
                           event_id=str(uuid.uuid4()), time=datetime.now(UTC).isoformat(), source="/e2e")
    await producer.send_and_wait("leads.complaint.v1", complaint, key=lead_id.encode())

    async def rejected() -> Any:
        answer = await http_intake.get(f"/v1/submissions/{again['id']}", headers=admin)
        return answer.json() if answer.status_code == 200 and answer.json()["status"] == "rejected" else None
    status = await wait_until(rejected, what="the second arrival rejected")
    assert any(phone in reason["message"] for reason in status["reasons"]), status  # answered in full

    async def complained() -> Any:
        answer = (await http_intake.get(f"/v1/do-not-call/{phone}", headers=admin)).json()
        return answer["reason"] == "complaint: rude caller"
    await wait_until(complained, what="the complaint recorded")


async def test_a_copy_of_the_databases_reveals_no_one_and_the_apis_still_answer_in_full(
    infra: Any, producer: AIOKafkaProducer, http_intake: httpx.AsyncClient, http_allocator: httpx.AsyncClient,
    console: tuple[httpx.AsyncClient, str], lead_intake: Any, allocator: Any,
) -> None:
    tenant = f"e2e-{uuid.uuid4().hex[:10]}"
    admin = {"X-Tenant-Id": tenant}
    national = "139" + str(uuid.uuid4().int)[:8]
    phone, name, email = f"+86{national}", f"欧阳{uuid.uuid4().hex[:6]}", f"oy-{uuid.uuid4().hex[:8]}@example.cn"
    wechat = f"wx-{uuid.uuid4().hex[:10]}"
    put = await http_allocator.put("/v1/agents/zhang-san", headers=admin,
                                   json={"name": "张三", "team_id": "mba", "business_line": "education"})
    assert put.status_code == 200, put.text

    event = json.loads(EXAMPLE.read_text(encoding="utf-8")) | {"id": str(uuid.uuid4()), "tenantid": tenant}
    event["data"] |= {"phone": f"{national[:3]} {national[3:7]} {national[7:]}", "name": name, "email": email,
                      "wechat_id": wechat, "notes": f"请加微信 {wechat}"}
    # keyed by the source's reference of the lead, never the number (README "Send a lead")
    await producer.send_and_wait("leads.received.v1", json.dumps(event).encode(), key=event["id"].encode())

    async def pooled() -> Any:
        page = (await http_allocator.get("/v1/pools/education/leads", headers=admin)).json()
        return page["items"] or None
    [lead] = await wait_until(pooled, what="the lead pooled")
    zhang = auth_headers("agent", "zhang-san", tenant=tenant, team="mba")
    claimed = await http_allocator.post("/v1/agents/zhang-san/claims", headers=zhang,
                                        json={"tier_id": "fresh", "count": 1})
    assert claimed.status_code == 200, claimed.text
    mine = (await http_allocator.get(f"/v1/leads/{lead['lead_id']}", headers=zhang)).json()
    assert (mine["phone"], mine["name"], mine["phone_masked"]) == (phone, name, False)
    stored = (await http_intake.get(f"/v1/leads/{lead['lead_id']}", headers=admin)).json()
    assert (stored["phone_e164"], stored["email"], stored["name"]) == (phone, email, name), stored
    found = (await http_intake.get("/v1/leads", params={"phone": phone}, headers=admin)).json()["items"]
    assert [f["lead_id"] for f in found] == [lead["lead_id"]]  # looked up by blind index

    # the number goes on the do-not-call list: both services keep it, the holder is told through the console
    listed = await http_intake.put(f"/v1/do-not-call/{phone}", json={"reason": "asked us to stop"}, headers=admin)
    assert listed.status_code == 200 and listed.json()["phone_masked"] == phone[:6] + "****" + phone[-4:], listed.text

    async def closed() -> Any:
        answer = (await http_allocator.get(f"/v1/leads/{lead['lead_id']}", headers=admin)).json()
        return answer["status"] == "do_not_call"
    await wait_until(closed, what="the lead closed by the listing")
    entry = await http_intake.get(f"/v1/do-not-call/{phone}", headers=admin)
    assert entry.status_code == 200 and entry.json()["phone_masked"] == phone[:6] + "****" + phone[-4:]
    await arrives_again_and_complains(producer, http_intake, event, tenant, lead["lead_id"], phone)
    settings = lead_intake.app.state.settings, allocator.app.state.settings
    await wait_until(lambda: drained(infra, settings[0].mongo_db, settings[1].mongo_db, tenant),
                     what="the outboxes relayed")

    secrets = [phone, national, name, email, wechat]
    databases = [settings[0].mongo_db, settings[1].mongo_db, console[1]]
    assert await readable(infra, databases, secrets) == []
    # and the search finds them when they are there in plain text (a database of the test's own)
    control = f"e2e_pii_control_{uuid.uuid4().hex[:8]}"
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_uri)
    try:
        await client[control]["leads"].insert_one({"phone_e164": phone, "notes": f"{name} {email} {wechat}"})
        assert len(await readable(infra, [control], secrets)) == len(secrets)
    finally:
        await client.drop_database(control)
        await client.close()
