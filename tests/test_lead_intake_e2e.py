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

from telesales_runtime.testing.kafka import TopicTail

pytestmark = pytest.mark.integration

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
