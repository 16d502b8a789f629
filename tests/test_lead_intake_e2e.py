"""lead-intake end to end on the real broker and database: what an outside system sees."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from telesales_testkit.harness import wait_until
from telesales_testkit.kafka import TopicTail

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "lead-received.json"
TOPICS = ("leads.qualified.v1", "leads.merged.v1", "leads.rejected.v1", "platform.dead-lettered.v1")


@pytest.fixture
async def tail(infra: Any, lead_intake: Any) -> AsyncIterator[TopicTail]:
    async with TopicTail(infra.kafka_bootstrap, *TOPICS) as tail:
        yield tail


@pytest.fixture
def ours(lead_intake: Any) -> Any:
    """Events of this session's service in one tenant (a `make up` service may share the broker)."""
    return lambda tenant: lambda e: e["tenantid"] == tenant and e["source"] == lead_intake.source


def example_event(tenant: str) -> dict[str, Any]:
    event = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    event["id"] = str(uuid.uuid4())
    event["tenantid"] = tenant
    return event


async def test_readme_example_is_qualified_stored_then_merged_and_garbage_dead_lettered(
    tail: TopicTail, producer: AIOKafkaProducer, http_intake: httpx.AsyncClient, ours: Any,
    lead_intake: Any,
) -> None:
    tenant = f"e2e-{uuid.uuid4().hex[:10]}"
    first = example_event(tenant)
    await producer.send_and_wait("leads.received.v1", json.dumps(first).encode(), key=b"+8613924681357")

    qualified = await tail.wait_for("leads.qualified.v1", ours(tenant))
    lead_id = qualified["data"]["lead_id"]
    assert qualified["data"]["phone_e164"] == "+8613924681357"
    assert qualified["data"]["touch"]["event_id"] == first["id"]
    stored = await http_intake.get(f"/v1/leads/{lead_id}", headers={"X-Tenant-Id": tenant})
    assert stored.status_code == 200 and stored.json()["score"] == qualified["data"]["score"]

    # the same event again is a redelivery (ignored); the same person in a new event is a merge
    await producer.send_and_wait("leads.received.v1", json.dumps(first).encode(), key=b"+8613924681357")
    again = example_event(tenant)
    await producer.send_and_wait("leads.received.v1", json.dumps(again).encode(), key=b"+8613924681357")
    merged = await tail.wait_for("leads.merged.v1", ours(tenant))
    assert merged["data"]["lead_id"] == lead_id and merged["data"]["touch"]["event_id"] == again["id"]
    assert merged["data"]["touches"] == 2

    garbage = f"garbage {uuid.uuid4()}".encode()
    await producer.send_and_wait("leads.received.v1", garbage)
    letter = await tail.wait_for("platform.dead-lettered.v1",
                                 lambda e: e["data"].get("payload_text") == garbage.decode()
                                 and e["source"] == lead_intake.source)
    assert letter["data"]["error_type"] == "json_error"
    assert letter["data"]["original_topic"] == "leads.received.v1"

    page = (await http_intake.get("/v1/leads", headers={"X-Tenant-Id": tenant})).json()
    assert [lead["touches_count"] for lead in page["items"]] == [2]  # the redelivery changed nothing


async def test_http_submission_reaches_the_pool_topics(tail: TopicTail, http_intake: httpx.AsyncClient,
                                                       ours: Any) -> None:
    tenant = f"e2e-{uuid.uuid4().hex[:10]}"
    headers = {"X-Tenant-Id": tenant, "Idempotency-Key": "form-42"}
    body = {"name": "李娜", "phone": "+86 186 0431 2468", "channel": "微信", "business_line": "education"}
    response = await http_intake.post("/v1/leads", json=body, headers=headers)
    assert response.status_code == 202
    event_id = response.json()["event_id"]
    retry = await http_intake.post("/v1/leads", json=body, headers=headers)
    assert retry.json()["event_id"] == event_id  # same Idempotency-Key, same event

    qualified = await tail.wait_for("leads.qualified.v1", ours(tenant))
    assert qualified["data"]["channel"] == "im" and qualified["data"]["touch"]["event_id"] == event_id
    status = (await http_intake.get(f"/v1/submissions/{event_id}", headers=headers)).json()
    assert status["status"] == "qualified" and status["lead_id"] == qualified["data"]["lead_id"]

    junk = await http_intake.post("/v1/leads", json={"phone": "13800138000"}, headers={"X-Tenant-Id": tenant})
    rejected = await tail.wait_for("leads.rejected.v1", ours(tenant))
    assert rejected["data"]["touch"]["event_id"] == junk.json()["event_id"]
    assert [r["code"] for r in rejected["data"]["reasons"]] == ["test_number"]


async def test_health_readiness_and_metrics(http_intake: httpx.AsyncClient) -> None:
    assert (await http_intake.get("/healthz")).json() == {"status": "ok"}
    ready = await http_intake.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"mongodb": "ok", "kafka": "ok"}
    metrics = (await http_intake.get("/metrics")).text
    assert "telesales_messages_consumed_total" in metrics and "telesales_outbox_published_total" in metrics


CRM_EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "lead-received-crm.json"


def crm_event(tenant: str, external_id: str) -> dict[str, Any]:
    """The README's event of a partner's CRM (a system not written for this platform), in a tenant of its own."""
    event = json.loads(CRM_EXAMPLE.read_text(encoding="utf-8"))
    event["id"] = str(uuid.uuid4())
    event["tenantid"] = tenant
    event["data"]["crm_id"] = external_id
    return event


def binary_record(event: dict[str, Any]) -> tuple[bytes, list[tuple[str, bytes]]]:
    """The event in the CloudEvents Kafka binding's binary mode: ce_ headers and the data as the value."""
    headers = [(f"ce_{name}", str(value).encode()) for name, value in event.items() if name != "data"]
    return json.dumps(event["data"], ensure_ascii=False).encode(), [*headers, ("content-type", b"application/json")]


async def test_an_outside_crms_lead_is_qualified_merged_and_answered_with_its_own_id(
    tail: TopicTail, producer: AIOKafkaProducer, http_intake: httpx.AsyncClient, ours: Any, lead_intake: Any,
) -> None:
    """Issue 15's "done when": an event from an outside system with extra fields and its own lead id is
    qualified, merged and answered with that id; found by it; sent again, it updates its touch."""
    tenant = f"e2e-{uuid.uuid4().hex[:10]}"
    headers = {"X-Tenant-Id": tenant}
    first = crm_event(tenant, "PX-4711")
    key = b"+8618604312468"  # one person, one partition: the events are processed in the order sent
    await producer.send_and_wait("leads.received.v1", json.dumps(first, ensure_ascii=False).encode(), key=key)
    qualified = (await tail.wait_for("leads.qualified.v1", ours(tenant)))["data"]
    assert (qualified["touch"]["source_system"], qualified["touch"]["external_id"]) == ("/crm/partner-x", "PX-4711")
    assert qualified["touch"]["event_type"] == "leads.received.v1"  # the topic's name as its type, kept
    assert qualified["external_refs"] == [{"source_system": "/crm/partner-x", "external_id": "PX-4711"}]
    assert qualified["extra"]["owner"] == "partner-sales-7" and "consent" not in qualified["extra"]
    # the CRM's consent flags ({"call": true, "sms": false}) are the lead's consent
    assert [(c["scope"], c["granted"]) for c in qualified["consent"]] == [("telemarketing", True), ("sms", False)]
    assert (qualified["name"], qualified["email"]) == ("王芳", "wangfang@example.cn")  # Name, Email: those fields
    found = (await http_intake.get("/v1/leads", headers=headers,
                                   params={"source_system": "/crm/partner-x", "external_id": "PX-4711"})).json()
    assert [item["lead_id"] for item in found["items"]] == [qualified["lead_id"]]
    assert found["items"][0]["extra"] == qualified["extra"]

    # the same record again, in binary content mode: its touch is updated, the answer names the record
    again = crm_event(tenant, "PX-4711")
    again["data"]["owner"] = "partner-sales-9"
    value, record_headers = binary_record(again)
    await producer.send_and_wait("leads.received.v1", value, headers=record_headers, key=key)
    updated = (await tail.wait_for("leads.merged.v1", ours(tenant)))["data"]
    assert (updated["lead_id"], updated["matched_on"], updated["touches"]) == (qualified["lead_id"], "external_ref", 1)
    assert updated["touch"]["event_id"] == again["id"] and updated["extra"]["owner"] == "partner-sales-9"

    # the same person from the web form: merged, the answer still names the CRM's record
    web = example_event(tenant)
    web["data"]["phone"] = "186 0431 2468"
    await producer.send_and_wait("leads.received.v1", json.dumps(web, ensure_ascii=False).encode(), key=key)
    merged = await tail.wait_for("leads.merged.v1", lambda e: ours(tenant)(e) and e["data"]["matched_on"] == "phone")
    assert merged["data"]["external_refs"] == qualified["external_refs"] and merged["data"]["touches"] == 2

    # junk from the CRM is answered with its id too
    junk = crm_event(tenant, "PX-0000")
    junk["data"]["Phone"] = "13800138000"
    await producer.send_and_wait("leads.received.v1", json.dumps(junk, ensure_ascii=False).encode())
    rejected = (await tail.wait_for("leads.rejected.v1", ours(tenant)))["data"]
    assert (rejected["touch"]["external_id"], rejected["touch"]["source_system"]) == ("PX-0000", "/crm/partner-x")

    # the CRM reports the outcome naming its own id
    outcome = {"specversion": "1.0", "id": str(uuid.uuid4()), "source": "/crm/partner-x", "type": "LeadsOutcome",
               "tenantid": tenant, "data": {"crm_id": "PX-4711", "outcome": "won", "amount_fen": 1_280_000}}
    await producer.send_and_wait("leads.outcome.v1", json.dumps(outcome).encode())

    async def recorded() -> Any:
        lead = (await http_intake.get(f"/v1/leads/{qualified['lead_id']}", headers=headers)).json()
        return lead.get("outcome")
    applied = await wait_until(recorded)
    assert (applied["outcome"], applied["external_id"], applied["event_id"]) == ("won", "PX-4711", outcome["id"])


async def test_an_event_without_an_id_or_of_another_kind_is_dead_lettered_saying_why(
    tail: TopicTail, producer: AIOKafkaProducer, lead_intake: Any,
) -> None:
    tenant = f"e2e-{uuid.uuid4().hex[:10]}"
    no_id = crm_event(tenant, "PX-1")
    del no_id["id"]
    other_kind = crm_event(tenant, "PX-2") | {"type": "telesales.leads.qualified.v1"}
    for event in (no_id, other_kind):
        await producer.send_and_wait("leads.received.v1", json.dumps(event, ensure_ascii=False).encode())
    letters = [await tail.wait_for("platform.dead-lettered.v1",
                                   lambda e, crm=crm: e["tenantid"] == tenant and e["source"] == lead_intake.source
                                   and crm in (e["data"].get("payload_text") or ""))
               for crm in ("PX-1", "PX-2")]
    assert letters[0]["data"]["error"] == "id: Field required"
    assert "'telesales.leads.qualified.v1'" in letters[1]["data"]["error"]
    assert "'telesales.leads.received.v1'" in letters[1]["data"]["error"]
