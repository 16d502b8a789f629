"""Helpers of lead-intake's tests (importable: the tests folder is on pytest's pythonpath)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lead_intake.service import IntakeService
from telesales_contracts.topics import LEADS_RECEIVED
from telesales_runtime.pii_crypto import key_id_of
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

    async def leads(self, tenant: str | None = None) -> list[dict[str, Any]]:
        """The tenant's stored leads, opened as the store opens them; each stored sealed (never in plain text)."""
        stored = await self.intake.store.leads.find({"tenant_id": tenant or self.tenant}).to_list()
        for doc in stored:
            for name in ("phone_e164", "email", "name"):
                assert doc.get(name) is None or key_id_of(doc[name]) is not None, f"{name} stored in plain text"
        return [self.intake.store.sealing.open_lead(doc) for doc in stored]  # type: ignore[misc]


def lead(**overrides: Any) -> dict[str, Any]:
    """A valid lead as a web form would send it."""
    data: dict[str, Any] = {
        "name": "张伟", "phone": "139 2468 1357", "email": "zhangwei@example.cn", "company": "长春某某科技有限公司",
        "channel": "百度SEM", "business_line": "education", "product_interest": "MBA",
        "behaviour": {"logins_7d": 3, "page_view_seconds": 240, "unpaid_order": True},
    }
    data.update(overrides)
    return data
