"""The struggle push by itself, end to end on the real broker and database, with the real ledger and the real
metrics service: nobody calls the struggle API. Calls that end at an objection without progress
(calls.logged.v1) push the best-rated objection-handling tip the agent does not own (one it bought through
the ledger is never pushed), at most PUSH_DAILY_CAP a day however many such calls come; the rolling window's
job (leased, every second here) asks metrics for each calling agent's funnel against its team's and pushes
for the leaking step: quoting for an agent whose contacts show no intent, service introduction for one whose
agreed visits are not made."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient

from telesales_contracts import CLOUDEVENTS_CONTENT_TYPE
from telesales_testkit.auth import auth_headers
from telesales_testkit.harness import cloudevent, wait_until
from telesales_testkit.kafka import TopicTail, position_group_at_end

STRUGGLE = "marketplace.struggle-recommended.v1"
CHECKS = {"accurate": True, "compliant": True, "no_customer_data": True, "stage_matches": True, "practical": True,
          "media_quality": True}
TENANT = f"e2e-{uuid.uuid4().hex[:10]}"
NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)


@pytest.fixture
async def pushing_marketplace(infra: Any, ledger: Any, metrics: Any) -> AsyncIterator[Any]:
    """A marketplace reading rates from the session's metrics, its window job every second, 2 pushes a day."""
    from marketplace.events import CONSUMED_TOPICS
    from marketplace.main import create_app
    from marketplace.settings import MarketplaceSettings

    run = uuid.uuid4().hex[:8]
    settings = MarketplaceSettings(
        kafka_bootstrap=infra.kafka_bootstrap, mongo_uri=infra.mongo_uri, redis_url=infra.redis_url,
        mongo_db=f"e2e_push_{run}", consumer_group=f"marketplace-push-{run}", log_json=False,
        event_source=f"/services/marketplace/e2e-push-{run}", ledger_url=ledger.base_url, metrics_url=metrics.base_url,
        push_daily_cap=2, struggle_job_interval_seconds=1, struggle_window_days=3)
    for topic in CONSUMED_TOPICS:
        await position_group_at_end(infra.kafka_bootstrap, settings.consumer_group, topic.name)
    app = create_app(settings)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "the marketplace stopped during start-up"
        await asyncio.sleep(0.1)
    try:
        yield app, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        cleaner: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_uri)
        await cleaner.drop_database(settings.mongo_db)
        await cleaner.close()


async def publish(producer: AIOKafkaProducer, topic: str, data: dict[str, Any], key: str) -> str:
    event_id = str(uuid.uuid4())
    body = cloudevent(topic, TENANT, data, event_id=event_id, time=NOW.isoformat(), source="/e2e-dialer")
    await producer.send_and_wait(topic, body, key=key.encode(),
                                 headers=[("content-type", CLOUDEVENTS_CONTENT_TYPE.encode())])
    return event_id


def call(agent: str, lead: str, **ended: str) -> dict[str, Any]:
    return {"agent_id": agent, "lead_id": lead, "started_at": NOW.isoformat(), "duration_seconds": 95,
            "connected": True, **ended}


async def list_tip(http: httpx.AsyncClient, title: str, stage: str) -> str:
    seller, reviewer = auth_headers("agent", "zhang-san", tenant=TENANT), auth_headers("operator", "rev", tenant=TENANT)
    draft = await http.post("/v1/tips", headers=seller, json={"title": title, "stage": stage, "price": 10,
                                                              "product_line": "mba", "summary": title, "body": title})
    assert draft.status_code == 201, draft.text
    tip_id = draft.json()["tip_id"]
    assert (await http.post(f"/v1/tips/{tip_id}/versions/1/submit", headers=seller)).status_code == 200
    reviewed = await http.post(f"/v1/tips/{tip_id}/versions/1/review", headers=reviewer, json={"checks": CHECKS})
    assert reviewed.status_code == 200, reviewed.text
    return tip_id


async def buy(http: httpx.AsyncClient, tip_id: str, buyer: str) -> None:
    headers = auth_headers("agent", buyer, tenant=TENANT)
    assert (await http.post(f"/v1/tips/{tip_id}/purchases", headers=headers)).status_code == 202

    async def granted() -> bool:
        return (await http.get(f"/v1/tips/{tip_id}/purchases/mine", headers=headers)).json()["status"] == "granted"
    await wait_until(granted, timeout=60)


async def rate(http: httpx.AsyncClient, tip_id: str, stars: int) -> None:
    await buy(http, tip_id, "rater")
    rated = await http.post(f"/v1/tips/{tip_id}/ratings", json={"stars": stars},
                            headers=auth_headers("agent", "rater", tenant=TENANT))
    assert rated.status_code == 201, rated.text


async def funnels(producer: AIOKafkaProducer, metrics: Any) -> None:
    """The team mba: chen-ba takes 2 leads to paid; wang-wu 2 to paid and 2 stay valid (intent 0.5 against
    the team's 0.8: quoting); zhao-liu 2 to paid and 2 stop at an agreed visit (visits 0.5 against 0.75:
    service introduction). li-si has calls only."""
    for agent in ("li-si", "wang-wu", "zhao-liu", "chen-ba"):
        await publish(producer, "agents.changed.v1", {"agent_id": agent, "name": agent, "team_id": "mba"}, agent)
    ops = auth_headers("operator", "ops-e2e", tenant=TENANT)
    async with httpx.AsyncClient(base_url=metrics.base_url, headers=ops, timeout=30) as http:
        async def on_roster() -> bool:
            return (await http.get("/v1/agents/chen-ba/indicators")).json()["team_agents"] == 4
        await wait_until(on_roster, timeout=60)
        plan = {"chen-ba": ["paid", "paid"], "wang-wu": ["paid", "paid", "valid", "valid"],
                "zhao-liu": ["paid", "paid", "agreed_visit", "agreed_visit"]}
        for agent, steps in plan.items():
            for n, step in enumerate(steps):
                await publish(producer, "leads.stage-changed.v1", {"lead_id": f"{agent}-{n}", "stage_percent": 50,
                                                                   "funnel_step": step, "agent_id": agent},
                              f"{agent}-{n}")

        async def counted() -> bool:
            body = (await http.get("/v1/agents/zhao-liu/indicators")).json()
            return [r["count"] for r in body["team"]["funnel"]] == [10, 8, 8, 6, 6, 6]
        await wait_until(counted, timeout=60)


async def test_calls_and_the_window_push_tips_without_anyone_asking(
    producer: AIOKafkaProducer, infra: Any, ledger: Any, metrics: Any, pushing_marketplace: Any,
) -> None:
    app, base_url = pushing_marketplace
    ops = auth_headers("operator", "ops-e2e", tenant=TENANT)
    async with httpx.AsyncClient(base_url=ledger.base_url, timeout=30) as http:
        assert (await http.post("/v1/issues", json={"id": "budget", "amount": 1000}, headers=ops)).status_code == 201
        allocated = await http.post("/v1/allocations", json={"id": "a-1", "amount": 200, "user_ids": ["li-si", "rater"]},
                                    headers=ops)
        assert allocated.status_code == 201, allocated.text
        policy = await http.put("/v1/config/policy", headers=ops, json={
            "seller_share_percent": 90, "daily_limits": {"pair_daily_count": 20, "buyer_daily_count": 20}})
        assert policy.status_code == 200, policy.text
    async with TopicTail(infra.kafka_bootstrap, STRUGGLE) as tail, httpx.AsyncClient(base_url=base_url,
                                                                                   timeout=30) as http:
        owned = await list_tip(http, "嫌贵(已买)", "objection_handling")
        objections = [await list_tip(http, f"异议{n}", "objection_handling") for n in range(3)]
        quoting = await list_tip(http, "报价三步", "quoting")
        service = await list_tip(http, "服务介绍", "service_introduction")
        for tip_id, stars in ((owned, 5), (objections[0], 4), (objections[1], 3), (objections[2], 2)):
            await rate(http, tip_id, stars)
        await buy(http, owned, "li-si")  # the best objection tip is li-si's: never pushed to it

        await funnels(producer, metrics)
        # li-si's calls end at an objection without progress, five times; the cap is 2 a day
        stalled = [await publish(producer, "calls.logged.v1",
                                 call("li-si", f"li-si-{n}", stage_reached="objection_handling", outcome="no_progress"),
                                 f"li-si-{n}") for n in range(5)]
        for agent in ("wang-wu", "zhao-liu", "chen-ba"):  # plain calls: the window's job looks at these agents
            await publish(producer, "calls.logged.v1", call(agent, f"{agent}-call"), f"{agent}-call")

        mine = lambda e: e["tenantid"] == TENANT  # noqa: E731
        quoted = await tail.wait_for(STRUGGLE, lambda e: mine(e) and e["data"]["agent_id"] == "wang-wu", timeout=60)
        introduced = await tail.wait_for(STRUGGLE, lambda e: mine(e) and e["data"]["agent_id"] == "zhao-liu",
                                         timeout=60)

        async def calls_handled() -> Any:
            entries = await app.state.store.inbox.collection.find({"tenant_id": TENANT,
                                                                   "outcome.agent_id": "li-si"}).to_list()
            return entries if len(entries) == len(stalled) else None
        handled = await wait_until(calls_handled, timeout=60)
        for _ in range(15):  # three more seconds: rounds of the window's job
            await tail.poll()
        pushed = [e["data"] for e in tail.events[STRUGGLE] if mine(e)]

    assert (quoted["data"]["trigger"], quoted["data"]["step"], quoted["data"]["stage"]) == ("window", "intent", "quoting")
    assert (quoted["data"]["agent_rate"], quoted["data"]["team_rate"]) == (0.5, 0.8)
    assert [t["tip_id"] for t in quoted["data"]["tips"]] == [quoting]
    assert (introduced["data"]["step"], introduced["data"]["stage"]) == ("visit", "service_introduction")
    assert [t["tip_id"] for t in introduced["data"]["tips"]] == [service]

    to_li_si = [d for d in pushed if d["agent_id"] == "li-si"]
    assert [(d["trigger"], d["stage"]) for d in to_li_si] == [("call", "objection_handling")] * 2
    assert [d["tips"][0]["tip_id"] for d in to_li_si] == objections[:2]  # best first, never the owned one
    assert Counter(e["outcome"]["status"] for e in handled) == {"pushed": 2, "daily_cap": 3}
    # one window push a day per agent, however many rounds ran; nothing for the agent who does not leak
    assert Counter(d["agent_id"] for d in pushed if d["trigger"] == "window") == {"wang-wu": 1, "zhao-liu": 1}
