"""metrics end to end on the real broker and database: events published to their real topics show up in
/metrics (Prometheus text) and in an agent's indicators, and the marketplace's struggle push reads those
indicators over HTTP when it is given no rates."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from telesales_contracts import CLOUDEVENTS_CONTENT_TYPE
from telesales_testkit.auth import auth_headers
from telesales_testkit.harness import cloudevent, wait_until


async def publish(producer: AIOKafkaProducer, tenant: str, topic: str, data: dict[str, Any], key: str,
                  time: datetime) -> None:
    body = cloudevent(topic, tenant, data, event_id=str(uuid.uuid4()), time=time.isoformat(), source="/e2e")
    await producer.send_and_wait(topic, body, key=key.encode(),
                                 headers=[("content-type", CLOUDEVENTS_CONTENT_TYPE.encode())])


def call(agent: str, lead: str, at: datetime, seconds: int) -> dict[str, Any]:
    return {"agent_id": agent, "lead_id": lead, "started_at": at.isoformat(), "duration_seconds": seconds,
            "connected": True}


async def test_published_events_reach_prometheus_the_indicators_and_the_struggle_push(
    producer: AIOKafkaProducer, metrics: Any, infra: Any,
) -> None:
    tenant = f"e2e-{uuid.uuid4().hex[:10]}"
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    for agent in ("li-si", "wang-wu"):
        await publish(producer, tenant, "agents.changed.v1", {"agent_id": agent, "name": agent, "team_id": "mba"},
                      agent, now)

    async with httpx.AsyncClient(base_url=metrics.base_url, headers=auth_headers("operator", "ops-e2e", tenant=tenant),
                                 timeout=30) as http:
        # The roster first: events of different topics may be read in any order (metrics counts a call by the
        # caller's team as it knows it when the call is counted).
        async def on_roster() -> bool:
            body = (await http.get("/v1/agents/wang-wu/indicators")).json()
            return body["team_id"] == "mba" and body["team_agents"] == 2

        await wait_until(on_roster, timeout=60)
        # li-si: two calls, one effective; wang-wu: two effective calls. The team: 3 of 4.
        for n, (agent, seconds) in enumerate((("li-si", 30), ("li-si", 75), ("wang-wu", 90), ("wang-wu", 200))):
            await publish(producer, tenant, "calls.logged.v1", call(agent, f"L{n}", now + timedelta(minutes=n),
                                                                    seconds), f"L{n}", now)
        await publish(producer, tenant, "leads.stage-changed.v1",
                      {"lead_id": "L1", "stage_percent": 30, "funnel_step": "intent", "agent_id": "li-si"}, "L1", now)

        async def counted() -> Any:
            body = (await http.get("/v1/agents/li-si/indicators")).json()
            team = (await http.get("/v1/funnels/calls", params={"by": "team", "period": "range"})).json()["rows"]
            every_call = sum(row["outbound"] for row in team) == 4
            return body if body["totals"]["outbound"] == 2 and body["totals"]["intent"] == 1 and every_call else None

        indicators = await wait_until(counted, timeout=60)
        assert indicators["rates"]["agent"]["connect_60s"] == 0.5
        assert indicators["rates"]["team"]["connect_60s"] == 0.75

        await metrics.app.state.exposition.refresh()
        text = (await http.get("/metrics")).text
    samples = {(s.name, tuple(sorted((k, v) for k, v in s.labels.items() if k != "tenant"))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples
               if s.labels.get("tenant") == tenant}
    assert samples[("telesales_calls_total", (("team", "mba"),))] == 4
    assert samples[("telesales_calls_effective_total", (("team", "mba"),))] == 3
    assert samples[("telesales_call_duration_seconds_count", (("team", "mba"),))] == 4
    assert samples[("telesales_funnel_leads_by_team_total", (("step", "intent"), ("team", "mba")))] == 1
    technical = {s.name for f in text_string_to_metric_families(text) for s in f.samples
                 if s.labels.get("service") == "metrics"}
    assert {"telesales_handler_duration_seconds_count", "telesales_messages_consumed_total",
            "telesales_consumer_lag_messages"} <= technical

    # the marketplace's struggle push, with no rates given, asks this metrics service for them
    from marketplace.main import create_app
    from marketplace.settings import MarketplaceSettings

    settings = MarketplaceSettings(kafka_bootstrap=infra.kafka_bootstrap, mongo_uri=infra.mongo_uri,
                                   mongo_db=f"e2e_market_{uuid.uuid4().hex[:8]}", log_json=False,
                                   metrics_url=metrics.base_url)
    market = create_app(settings)
    await market.state.store.ensure_indexes()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=market), base_url="http://marketplace",
                                     headers=auth_headers("operator", "ops-e2e", tenant=tenant)) as http:
            pushed = await http.post("/v1/agents/li-si/struggle")
    finally:
        await market.state.metrics_http.aclose()
        await market.state.store.client.drop_database(settings.mongo_db)
        await market.state.store.client.close()
    assert pushed.status_code == 200, pushed.text
    body = pushed.json()
    assert (body["step"], body["stage"], body["agent_rate"], body["team_rate"]) == ("connect_60s", "opening", 0.5, 0.75)
