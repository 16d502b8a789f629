"""Helpers of lead-intake's tests (importable: the tests folder is on pytest's pythonpath)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lead_intake.service import IntakeService
from telesales_contracts.topics import LEADS_RECEIVED
from telesales_testkit.harness import ServiceHarness


@dataclass(kw_only=True)
class Harness(ServiceHarness):
    intake: IntakeService

    async def send(self, data: dict[str, Any] | bytes, *, event_id: str | None = None,  # type: ignore[override]
                   tenant: str | None = None, topic: str = LEADS_RECEIVED.name, event_type: str | None = None) -> str:
        """Publish a lead (or raw bytes) as an outside system would."""
        if isinstance(data, bytes):
            await self.broker.publish(data, topic=topic)
            return ""
        return await super().send(topic, data, event_id=event_id, tenant=tenant, event_type=event_type)

    async def leads(self) -> list[dict[str, Any]]:
        return await self.intake.store.leads.find({"tenant_id": self.tenant}).to_list()


def lead(**overrides: Any) -> dict[str, Any]:
    """A valid lead as a web form would send it."""
    data: dict[str, Any] = {
        "name": "张伟", "phone": "139 2468 1357", "email": "zhangwei@example.cn", "company": "长春某某科技有限公司",
        "channel": "百度SEM", "business_line": "education", "product_interest": "MBA",
        "behaviour": {"logins_7d": 3, "page_view_seconds": 240, "unpaid_order": True},
    }
    data.update(overrides)
    return data
