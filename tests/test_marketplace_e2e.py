"""The marketplace end to end on the real broker and database, paid by the real ledger: a seller writes a
tip, a reviewer approves it, a funded agent buys it (the marketplace asks the ledger on Kafka and grants
access on its answer), an agent without coins and a purchase over the daily pair limit are refused with the
ledger's reason; the seller sees the sale and redeems through the ledger."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from telesales_testkit.auth import auth_headers
from telesales_testkit.harness import wait_until
from telesales_testkit.kafka import TopicTail

TOPICS = ("ledger.transfer-requested.v1", "ledger.transfer-posted.v1", "ledger.transfer-rejected.v1",
          "marketplace.tip-listed.v1", "marketplace.purchase-completed.v1", "marketplace.purchase-refused.v1")
CHECKS = {"accurate": True, "compliant": True, "no_customer_data": True, "stage_matches": True, "practical": True,
          "media_quality": True}


@pytest.fixture
async def tail(infra: Any, marketplace: Any) -> AsyncIterator[TopicTail]:
    async with TopicTail(infra.kafka_bootstrap, *TOPICS) as tail:
        yield tail


async def test_submit_review_list_buy_through_the_ledger_and_access_is_granted(
    tail: TopicTail, http_marketplace: httpx.AsyncClient, http_ledger: httpx.AsyncClient, marketplace: Any,
    ledger: Any,
) -> None:
    tenant = f"e2e-{uuid.uuid4().hex[:10]}"
    seller = auth_headers("agent", "zhang-san", tenant=tenant)
    buyer = auth_headers("agent", "li-si", tenant=tenant)
    poor = auth_headers("agent", "wang-wu", tenant=tenant)
    reviewer = auth_headers("operator", "reviewer-1", tenant=tenant)
    operator = auth_headers("operator", "ops-e2e", tenant=tenant)
    mine = lambda e: e["tenantid"] == tenant  # noqa: E731

    # the ledger funds the buyer (operators issue and allocate coins)
    issued = await http_ledger.post("/v1/issues", json={"id": "budget", "amount": 1000},
                                    headers=operator)
    assert issued.status_code == 201, issued.text
    allocated = await http_ledger.post("/v1/allocations", json={"id": "a-1", "amount": 500, "user_ids": ["li-si"]},
                                       headers=operator)
    assert allocated.status_code == 201, allocated.text
    policy = await http_ledger.put("/v1/config/policy", headers=operator, json={
        "seller_share_percent": 90, "daily_limits": {"pair_daily_count": 1}})
    assert policy.status_code == 200, policy.text

    # submit -> review -> list
    draft = await http_marketplace.post("/v1/tips", headers=seller, json={
        "title": "客户嫌贵怎么办", "summary": "价格异议三步", "body": "先认同，再拆分，最后对比。", "stage": "objection_handling",
        "product_line": "car-insurance", "tags": ["价格异议"], "price": 120})
    assert draft.status_code == 201, draft.text
    tip_id = draft.json()["tip_id"]
    assert (await http_marketplace.post(f"/v1/tips/{tip_id}/versions/1/submit", headers=seller)).status_code == 200
    reviewed = await http_marketplace.post(f"/v1/tips/{tip_id}/versions/1/review", headers=reviewer,
                                           json={"checks": CHECKS})
    assert reviewed.status_code == 200 and reviewed.json()["status"] == "approved", reviewed.text
    await tail.wait_for("marketplace.tip-listed.v1", lambda e: mine(e) and e["data"]["tip_id"] == tip_id)
    found = (await http_marketplace.get("/v1/tips", params={"q": "嫌贵"}, headers={"X-Tenant-Id": tenant})).json()
    assert [t["tip_id"] for t in found["items"]] == [tip_id]

    # buy: the ledger pays on Kafka, the marketplace grants access on its answer
    bought = await http_marketplace.post(f"/v1/tips/{tip_id}/purchases", headers=buyer)
    assert bought.status_code == 202, bought.text
    transfer_id = bought.json()["transfer_id"]
    request = await tail.wait_for("ledger.transfer-requested.v1",
                                  lambda e: mine(e) and e["data"]["transfer_id"] == transfer_id)
    assert request["source"] == marketplace.source
    posted = await tail.wait_for("ledger.transfer-posted.v1",
                                 lambda e: mine(e) and e["data"]["transfer_id"] == transfer_id)
    assert (posted["data"]["buyer_balance"], posted["data"]["seller_amount"]) == (380, 108)
    await tail.wait_for("marketplace.purchase-completed.v1",
                        lambda e: mine(e) and e["data"]["transfer_id"] == transfer_id)

    async def granted() -> Any:
        response = await http_marketplace.get(f"/v1/tips/{tip_id}/purchases/mine", headers=buyer)
        return response.json()["status"] == "granted"
    await wait_until(granted)
    content = await http_marketplace.get(f"/v1/tips/{tip_id}/content", headers=buyer)
    assert content.status_code == 200 and content.json()["body"] == "先认同，再拆分，最后对比。"

    # an agent without coins is refused by the ledger, with its reason, and gets no access
    refused = await http_marketplace.post(f"/v1/tips/{tip_id}/purchases", headers=poor)
    refusal = await tail.wait_for("marketplace.purchase-refused.v1",
                                  lambda e: mine(e) and e["data"]["transfer_id"] == refused.json()["transfer_id"])
    assert refusal["data"]["reason"] == "insufficient_funds"
    assert (await http_marketplace.get(f"/v1/tips/{tip_id}/content", headers=poor)).status_code == 403

    # a second tip of the same seller the same day: the ledger's pair limit, named in the refusal
    second = await http_marketplace.post("/v1/tips", headers=seller, json={
        "title": "开场白", "stage": "opening", "product_line": "car-insurance", "price": 10})
    second_id = second.json()["tip_id"]
    await http_marketplace.post(f"/v1/tips/{second_id}/versions/1/submit", headers=seller)
    await http_marketplace.post(f"/v1/tips/{second_id}/versions/1/review", headers=reviewer, json={"checks": CHECKS})
    limited = await http_marketplace.post(f"/v1/tips/{second_id}/purchases", headers=buyer)
    assert limited.status_code == 202, limited.text
    limit = await tail.wait_for("marketplace.purchase-refused.v1",
                                lambda e: mine(e) and e["data"]["transfer_id"] == limited.json()["transfer_id"])
    assert (limit["data"]["reason"], limit["data"]["limit"], limit["data"]["limit_value"]) == (
        "daily_limit", "pair_daily_count", 1)
    mine_now = (await http_marketplace.get(f"/v1/tips/{second_id}/purchases/mine", headers=buyer)).json()
    assert (mine_now["status"], mine_now["refusal"]["limit"]) == ("refused", "pair_daily_count")

    # the books: coins moved once; the seller sees the sale and redeems through the ledger
    balances = {a: (await http_ledger.get(f"/v1/accounts/{a}", headers={"X-Tenant-Id": tenant})).json()["balance"]
                for a in ("wallet:li-si", "earnings:zhang-san")}
    assert balances == {"wallet:li-si": 380, "earnings:zhang-san": 108}
    summary = (await http_marketplace.get("/v1/sellers/zhang-san", headers={"X-Tenant-Id": tenant})).json()
    assert (summary["sales"], summary["sales_coins"], summary["earnings"]) == (1, 120, 108)
    redeemed = await http_marketplace.post("/v1/sellers/zhang-san/redemptions", headers=seller,
                                           json={"id": "redeem-1", "yuan": 1, "item": "话费"})
    assert redeemed.status_code == 201, redeemed.text
    assert (redeemed.json()["coins"], redeemed.json()["yuan_fen"]) == (100, 100)
    again = await http_marketplace.post("/v1/sellers/zhang-san/redemptions", headers=seller,
                                        json={"id": "redeem-1", "yuan": 1, "item": "话费"})
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    too_much = await http_marketplace.post("/v1/sellers/zhang-san/redemptions", headers=seller,
                                           json={"id": "redeem-2", "yuan": 1})
    assert (too_much.status_code, too_much.json()["code"]) == (409, "insufficient_funds")
    earnings = (await http_ledger.get("/v1/accounts/earnings:zhang-san", headers={"X-Tenant-Id": tenant})).json()
    assert earnings["balance"] == 8
