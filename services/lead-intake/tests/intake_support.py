"""Helpers of lead-intake's tests (importable: the tests folder is on pytest's pythonpath)."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx
from faststream.kafka import KafkaBroker

from lead_intake.service import IntakeService
from telesales_contracts import CLOUDEVENTS_CONTENT_TYPE
from telesales_contracts.topics import LEADS_RECEIVED


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


async def raw_body(msg: Any) -> Any:
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
