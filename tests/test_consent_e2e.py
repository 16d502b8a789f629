"""Consent on the real broker and database, with lead-intake and the allocator running: a tenant that requires
telemarketing consent. A lead without it (none, only sms, dated after its arrival) never reaches a pool; the
same person with consent does, and its agent sees what the person agreed to; imported leads follow the same
rule; a withdrawal arriving later (a merge into the known lead) closes the lead in the allocator for good,
and the person arriving again does not reopen it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from telesales_testkit.harness import cloudevent, wait_until
from telesales_testkit.kafka import TopicTail


def received(tenant: str, data: dict[str, Any]) -> tuple[str, bytes]:
    event_id = str(uuid.uuid4())
    return event_id, cloudevent("leads.received.v1", tenant, data, event_id=event_id,
                                time=datetime.now(UTC).isoformat(), source="/e2e/web-form")


def consent(scopes: Any = "telemarketing", *, ago: timedelta = timedelta(days=1), granted: bool = True,
            statement: str = "我同意接收课程电话推荐") -> dict[str, Any]:
    return {"statement": statement, "given_at": (datetime.now(UTC) - ago).isoformat(), "scopes": scopes,
            "granted": granted, "evidence": "form-77"}


def a_number() -> str:
    return "139" + str(uuid.uuid4().int)[:8]


class Tenant:
    def __init__(self, intake: httpx.AsyncClient, allocator: httpx.AsyncClient, producer: AIOKafkaProducer) -> None:
        self.id = f"e2e-{uuid.uuid4().hex[:10]}"
        self.headers = {"X-Tenant-Id": self.id}
        self.intake, self.allocator, self.producer = intake, allocator, producer

    async def send(self, number: str, **data: Any) -> str:
        event_id, body = received(self.id, {"name": "张伟", "phone": number, "business_line": "education", **data})
        await self.producer.send_and_wait("leads.received.v1", body, key=number.encode())
        return event_id

    async def outcome(self, event_id: str) -> dict[str, Any]:
        async def done() -> Any:
            answer = (await self.intake.get(f"/v1/submissions/{event_id}", headers=self.headers)).json()
            return answer if answer["status"] != "pending" else None
        return await wait_until(done, what=f"lead-intake's answer to {event_id}")

    async def allocator_lead(self, lead_id: str, status: str) -> dict[str, Any]:
        async def there() -> Any:
            answer = await self.allocator.get(f"/v1/leads/{lead_id}", headers=self.headers)
            return answer.json() if answer.status_code == 200 and answer.json()["status"] == status else None
        return await wait_until(there, what=f"lead {lead_id} {status} at the allocator")


@pytest.fixture
async def tenant(http_intake: httpx.AsyncClient, http_allocator: httpx.AsyncClient, producer: AIOKafkaProducer,
                 allocator: Any) -> Tenant:
    tenant = Tenant(http_intake, http_allocator, producer)
    required = await http_intake.put("/v1/config/consent", headers=tenant.headers,
                                     json={"require_telemarketing_consent": True})
    assert required.status_code == 200, required.text
    return tenant


async def test_no_lead_without_telemarketing_consent_reaches_a_pool_and_a_withdrawal_closes_it(tenant: Tenant
                                                                                              ) -> None:
    number = a_number()
    for data in ({}, {"consent": consent("sms")}, {"consent": consent(ago=-timedelta(hours=2))}):
        answer = await tenant.outcome(await tenant.send(number, **data))
        assert answer["status"] == "rejected" and answer["reasons"][0]["code"] == "no_consent", (data, answer)

    answer = await tenant.outcome(await tenant.send(number, consent=consent(["phone_call", "短信"])))
    assert answer["status"] == "qualified", answer
    lead_id = answer["lead_id"]
    pooled = await tenant.allocator_lead(lead_id, "pooled")
    assert [(c["scope"], c["granted"], c["evidence"]) for c in pooled["consent"]] == [
        ("telemarketing", True, "form-77"), ("sms", True, "form-77")]

    withdrawn = await tenant.outcome(await tenant.send(number, consent=consent(
        "calls", ago=timedelta(minutes=1), granted=False, statement="请不要再打电话")))
    assert withdrawn["status"] == "merged" and withdrawn["consent"] == "granted: -; withdrawn: telemarketing"
    closed = await tenant.allocator_lead(lead_id, "do_not_call")
    assert closed["consent"][0] == closed["consent"][0] | {"scope": "telemarketing", "granted": False,
                                                           "statement": "请不要再打电话"}
    # the person arrives again (no consent stated): the lead stays closed
    again = await tenant.outcome(await tenant.send(number))
    assert again["status"] == "merged"
    assert (await tenant.allocator_lead(lead_id, "do_not_call"))["lead_id"] == lead_id


@pytest.fixture
async def rejections(infra: Any, lead_intake: Any) -> Any:
    async with TopicTail(infra.kafka_bootstrap, "leads.rejected.v1") as tail:
        yield tail


async def test_an_import_lets_only_consented_leads_into_the_pools(tenant: Tenant, rejections: TopicTail) -> None:
    given = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    consented, sms_only, none = a_number(), a_number(), a_number()
    csv = ("phone,name,consent_statement,consent_given_at,consent_scopes,consent_evidence\n"
           f"{consented},张伟,我同意电话联系,{given},telemarketing,call-rec-1\n"
           f"{sms_only},李娜,我同意短信,{given},sms,\n"
           f"{none},王芳,,,,\n")
    imported = await tenant.intake.post("/v1/leads:import", content=csv.encode(),
                                        headers={**tenant.headers, "Content-Type": "text/csv"})
    assert imported.status_code == 202 and imported.json()["accepted"] == 3, imported.text

    async def stored() -> Any:
        page = (await tenant.intake.get("/v1/leads", headers=tenant.headers)).json()
        return page["items"] if page["items"] else None
    [lead] = await wait_until(stored, what="the consented lead stored")
    assert lead["consent"][0]["evidence"] == "call-rec-1"
    await tenant.allocator_lead(lead["lead_id"], "pooled")
    for number in (sms_only, none):
        rejected = await rejections.wait_for("leads.rejected.v1", lambda e, n=number: e["tenantid"] == tenant.id
                                             and e["data"]["phone_e164"] == f"+86{n}")
        assert [r["code"] for r in rejected["data"]["reasons"]] == ["no_consent"]
        found = (await tenant.intake.get("/v1/leads", params={"phone": number}, headers=tenant.headers)).json()
        assert found["items"] == [], number
