"""Coins end to end on the real broker and databases (issue 18): the ledger reclaims the coins of holders who
do not learn (不学回收) — learning reports on Kafka keep them, spending does not —, refuses a user who has not
learned since the reclaim, and metrics computes the daily-active and re-learn rates from the ledger's and the
marketplace's real events as computed by hand."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from aiokafka import AIOKafkaProducer

from telesales_contracts import CLOUDEVENTS_CONTENT_TYPE
from telesales_testkit.auth import auth_headers
from telesales_testkit.harness import cloudevent, wait_until


async def publish(producer: AIOKafkaProducer, tenant: str, topic: str, data: dict[str, Any], key: str) -> None:
    body = cloudevent(topic, tenant, data, event_id=str(uuid.uuid4()), time=datetime.now(UTC).isoformat(),
                      source="/e2e")
    await producer.send_and_wait(topic, body, key=key.encode(),
                                 headers=[("content-type", CLOUDEVENTS_CONTENT_TYPE.encode())])


def learn_report(user: str, seconds: int, at: datetime) -> dict[str, Any]:
    return {"user_id": user, "tip_id": "tip-1", "session_id": f"s-{user}", "progress_percent": 50,
            "watched_seconds": seconds, "learned": False, "rewatch": False, "rewatches": 0, "at": at.isoformat()}


async def test_learning_keeps_coins_and_the_rates_follow_from_the_real_events(
    producer: AIOKafkaProducer, ledger: Any, metrics: Any,
) -> None:
    tenant = f"e2e-{uuid.uuid4().hex[:10]}"
    ops = auth_headers("operator", "ops-e2e", tenant=tenant)
    users = ("learner", "spender", "idle")
    async with ledger.client() as http:
        assert (await http.put("/v1/config/policy", json={"idle_days": 30}, headers=ops)).status_code == 200
        assert (await http.post("/v1/issues", json={"id": "budget", "amount": 900}, headers=ops)).status_code == 201
        allocated = await http.post("/v1/allocations", json={"id": "coins", "amount": 300, "user_ids": list(users)},
                                    headers=ops)
        assert allocated.status_code == 201, allocated.text
        now = datetime.now(UTC)
        # the wallets opened 40 days ago (rather than waiting: their clock is what the rule reads)
        await ledger.app.state.store.accounts.update_many(
            {"tenant_id": tenant, "kind": "wallet"}, {"$set": {"last_activity_at": now - timedelta(days=40)}})
        # the learner watched two minutes five days ago; the spender buys a tip today and learns nothing
        await publish(producer, tenant, "marketplace.learn-progressed.v1",
                      learn_report("learner", 120, now - timedelta(days=5)), "learner")
        await publish(producer, tenant, "ledger.transfer-requested.v1",
                      {"transfer_id": "p-1", "buyer_id": "spender", "seller_id": "author", "tip_id": "tip-1",
                       "price": 10}, "spender")

        async def both_read() -> bool:
            learner = await ledger.app.state.store.learning.learners.find_one({"_id": f"{tenant}|learner"})
            return learner is not None and (await http.get("/v1/accounts/wallet:spender", headers=ops)).json()[
                "balance"] == 290
        await wait_until(both_read, timeout=60)

        run = await http.post("/v1/reclaims", headers=ops)
        assert run.status_code == 200, run.text
        assert sorted((r["user_id"], r["amount"]) for r in run.json()["reclaimed"]) == [("idle", 300),
                                                                                      ("spender", 290)]
        assert (await http.get("/v1/accounts/wallet:learner", headers=ops)).json()["balance"] == 300

        refused = await http.post("/v1/reallocation-requests", json={"user_id": "spender", "reason": "again"},
                                  headers=auth_headers("agent", "spender", tenant=tenant))
        assert (refused.status_code, refused.json()["code"]) == (409, "not_qualified")

    today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()  # the floor's day, as metrics counts
    async with httpx.AsyncClient(base_url=metrics.base_url, headers=ops, timeout=30) as http:
        async def market_when(check: Any) -> Any:
            async def read() -> Any:
                body = (await http.get("/v1/funnels/marketplace", params={"from": today, "to": today})).json()
                return body if check(body["all_time"]) else None
            return await wait_until(read, timeout=90)

        # the reclaims reach metrics first (a learning report before them would be no re-learning)
        await market_when(lambda total: (total["users_allocated"], total["users_reclaimed"]) == (3, 2))
        # the marketplace's events: the learner and an outsider (no coins) active today; the spender learns again
        for user in ("learner", "outsider"):
            await publish(producer, tenant, "marketplace.daily-active.v1",
                          {"user_id": user, "day": now.date().isoformat(), "first_activity": "visit",
                           "at": now.isoformat()}, user)
        await publish(producer, tenant, "marketplace.learn-progressed.v1",
                      learn_report("spender", 60, datetime.now(UTC)), "spender")
        market = await market_when(lambda total: (total["users_relearned"], total["counts"].get("daily_active")) == (
            1, 2))
    [day] = market["rows"]
    # 日活率: of the three users the coins were allocated to, one was active today (the outsider has no coins): 1/3
    assert (day["counts"]["daily_active"], day["users_allocated"], day["daily_active_rate"]) == (2, 3, 0.333333)
    # 复学率: of the two reclaimed today (spender, idle), one learned again: 1/2
    assert (day["users_reclaimed"], day["reclaimed_relearned"], day["relearn_rate"]) == (2, 1, 0.5)
    assert market["all_time"]["relearn_rate"] == 0.5
