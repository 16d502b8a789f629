"""The ledger end to end on the real broker and database: the roster arrives as events, operators issue
and allocate coins by role, the marketplace's purchase request is answered on Kafka, and the balances and
the books are right."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from telesales_contracts import CLOUDEVENTS_CONTENT_TYPE
from telesales_testkit.auth import auth_headers
from telesales_testkit.harness import cloudevent, wait_until
from telesales_testkit.kafka import TopicTail

TOPICS = ("ledger.transfer-posted.v1", "ledger.transfer-rejected.v1", "ledger.coins-allocated.v1")


@pytest.fixture
async def tail(infra: Any, ledger: Any) -> AsyncIterator[TopicTail]:
    async with TopicTail(infra.kafka_bootstrap, *TOPICS) as tail:
        yield tail


async def publish(producer: AIOKafkaProducer, topic: str, tenant: str, data: dict[str, Any], key: str) -> str:
    event_id = str(uuid.uuid4())
    body = cloudevent(topic, tenant, data, event_id=event_id, time=datetime.now(UTC).isoformat(), source="/e2e")
    await producer.send_and_wait(topic, body, key=key.encode(),
                                 headers=[("content-type", CLOUDEVENTS_CONTENT_TYPE.encode())])
    return event_id


async def test_a_purchase_request_is_paid_and_answered_on_the_broker(
    tail: TopicTail, producer: AIOKafkaProducer, http_ledger: httpx.AsyncClient, ledger: Any,
) -> None:
    tenant = f"e2e-{uuid.uuid4().hex[:10]}"
    headers = {"X-Tenant-Id": tenant}
    mine = lambda e: e["tenantid"] == tenant and e["source"] == ledger.source  # noqa: E731

    # the roster, as the HR system and the allocator announce it
    for agent_id, role in (("li-si", "agent"), ("wang-wu", "agent"), ("zhao-liu", "supervisor")):
        await publish(producer, "agents.changed.v1", tenant, {"agent_id": agent_id, "name": agent_id, "role": role},
                      agent_id)

    async def on_roster() -> Any:
        return all([(await http_ledger.get(f"/v1/users/{u}", headers=headers)).json()["on_roster"]
                    for u in ("li-si", "wang-wu", "zhao-liu")])
    await wait_until(on_roster)

    issued = await http_ledger.post("/v1/issues", json={"id": "budget-2026-11", "amount": 1000},
                                    headers=headers | auth_headers("operator", "ops-e2e", tenant=tenant))
    assert issued.status_code == 201, issued.text
    allocated = await http_ledger.post("/v1/allocations", json={"id": "agents-2026-11", "amount": 200},
                                       headers=headers | auth_headers("operator", "ops-e2e", tenant=tenant))
    assert allocated.status_code == 201, allocated.text
    assert sorted(a["user_id"] for a in allocated.json()["allocated"]) == ["li-si", "wang-wu"]  # agents only
    granted = await tail.wait_for("ledger.coins-allocated.v1", lambda e: mine(e) and e["data"]["user_id"] == "li-si")
    assert (granted["data"]["amount"], granted["data"]["role"], granted["data"]["selection"]) == (200, "agent", "roster")

    request = {"transfer_id": "order-1", "buyer_id": "li-si", "seller_id": "zhao-liu", "tip_id": "tip-报价",
               "price": 120}
    event_id = await publish(producer, "ledger.transfer-requested.v1", tenant, request, "li-si")
    posted = await tail.wait_for("ledger.transfer-posted.v1", lambda e: mine(e) and e["data"]["transfer_id"] == "order-1")
    assert posted["data"]["request_event_id"] == event_id
    assert (posted["data"]["seller_amount"], posted["data"]["platform_amount"], posted["data"]["buyer_balance"]) == (
        120, 0, 80)
    over = await publish(producer, "ledger.transfer-requested.v1", tenant, request | {"transfer_id": "order-2"},
                         "li-si")
    rejected = await tail.wait_for("ledger.transfer-rejected.v1", lambda e: mine(e) and e["data"]["transfer_id"] == "order-2")
    assert (rejected["data"]["reason"], rejected["data"]["request_event_id"]) == ("insufficient_funds", over)

    balances = {account: (await http_ledger.get(f"/v1/accounts/{account}", headers=headers)).json()["balance"]
                for account in ("issuance", "budget", "wallet:li-si", "wallet:wang-wu", "earnings:zhao-liu")}
    assert balances == {"issuance": -1000, "budget": 600, "wallet:li-si": 80, "wallet:wang-wu": 200,
                        "earnings:zhao-liu": 120}
    audit = (await http_ledger.get("/v1/audit", params={"verify": "true"}, headers=headers)).json()
    assert audit["ok"] and audit["sum_of_balances"] == 0
