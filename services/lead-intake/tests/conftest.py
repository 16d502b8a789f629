"""Fixtures of lead-intake's tests: handler tests run the real handlers against the real MongoDB with
FastStream's in-memory TestKafkaBroker; the real-broker path is tested in tests/ at the top level."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from lead_intake.main import create_app
from lead_intake.service import IntakeService
from lead_intake.settings import LeadIntakeSettings
from telesales_contracts import CLOUDEVENTS_CONTENT_TYPE
from telesales_contracts.topics import DEAD_LETTERS, LEADS_MERGED, LEADS_QUALIFIED, LEADS_RECEIVED, LEADS_REJECTED


@pytest.fixture(scope="session")
def intake_settings(infra: Any) -> LeadIntakeSettings:
    return LeadIntakeSettings(
        kafka_bootstrap=infra.kafka_bootstrap,
        mongo_uri=infra.mongo_uri,
        redis_url=infra.redis_url,
        mongo_db=f"test_lead_intake_{uuid.uuid4().hex[:8]}",
        log_json=False,
        config_cache_seconds=0,
    )


@dataclass
class Harness:
    broker: KafkaBroker
    intake: IntakeService
    http: httpx.AsyncClient
    tenant: str
    events: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))

    async def send(self, data: dict[str, Any] | bytes, *, event_id: str | None = None, tenant: str | None = None,
                   topic: str = LEADS_RECEIVED.name, event_type: str | None = None) -> str:
        """Publish a lead (or raw bytes) as an outside system would."""
        if isinstance(data, bytes):
            await self.broker.publish(data, topic=topic)
            return ""
        event_id = event_id or str(uuid.uuid4())
        envelope = {
            "specversion": "1.0", "id": event_id, "source": "/tests", "type": event_type or f"telesales.{topic}",
            "time": "2026-11-24T09:30:00+08:00", "datacontenttype": "application/json",
            "tenantid": tenant or self.tenant, "data": data,
        }
        await self.broker.publish(json.dumps(envelope).encode(), topic=topic,
                                  headers={"content-type": CLOUDEVENTS_CONTENT_TYPE})
        return event_id

    async def relay(self) -> None:
        """Publish what the outbox holds (the background relay is not running in handler tests)."""
        while await self.relay_once():
            pass

    async def relay_once(self) -> int:
        return await self.relay_obj.relay_once()

    @property
    def relay_obj(self) -> Any:
        return self._relay

    _relay: Any = None

    def of(self, topic: str) -> list[dict[str, Any]]:
        return [e for e in self.events[topic] if e.get("tenantid") == self.tenant]

    async def leads(self) -> list[dict[str, Any]]:
        return await self.intake.store.leads.find({"tenant_id": self.tenant}).to_list()


@pytest.fixture
async def harness(intake_settings: LeadIntakeSettings) -> AsyncIterator[Harness]:
    app = create_app(intake_settings)
    broker: KafkaBroker = app.state.broker
    intake: IntakeService = app.state.intake
    events: dict[str, list[dict[str, Any]]] = defaultdict(list)

    for topic in (LEADS_QUALIFIED, LEADS_MERGED, LEADS_REJECTED, DEAD_LETTERS):
        def collector(name: str = topic.name) -> Any:
            async def collect(body: bytes) -> None:
                events[name].append(json.loads(body))
            return collect
        broker.subscriber(topic.name, group_id="test-collector", decoder=_raw)(collector())

    await intake.store.ensure_indexes()
    async with TestKafkaBroker(broker):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://lead-intake") as http:
            h = Harness(broker=broker, intake=intake, http=http, tenant=f"t-{uuid.uuid4().hex[:12]}", events=events)
            h._relay = app.state.relay
            http.headers["X-Tenant-Id"] = h.tenant
            yield h
            await h.relay()
            await app.state.relay.stop()  # hands the relay lease over to the next test's relay
    await intake.store.client.close()


async def _raw(msg: Any) -> Any:
    return msg.body


def lead(**overrides: Any) -> dict[str, Any]:
    """A valid lead as a web form would send it."""
    data: dict[str, Any] = {
        "name": "张伟", "phone": "139 2468 1357", "email": "zhangwei@example.cn", "company": "长春某某科技有限公司",
        "channel": "百度SEM", "business_line": "education", "product_interest": "MBA",
        "behaviour": {"logins_7d": 3, "page_view_seconds": 240, "unpaid_order": True},
    }
    data.update(overrides)
    return data
