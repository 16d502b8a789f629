"""The struggle push without a body: the rates come from the metrics service's
GET /v1/agents/{agent_id}/indicators (here a stand-in answering over httpx), and a metrics service that
fails or does not answer is a clear problem answer (502 / 503)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import jwt
import pytest

from marketplace.events import PRODUCED_TOPICS
from marketplace.main import create_app
from marketplace.settings import MarketplaceSettings
from marketplace_support import Harness
from telesales_runtime.auth import LOCAL_AUDIENCE, LOCAL_HS256_SECRET
from telesales_testkit.harness import in_memory_harness

Answer = Callable[[httpx.Request], httpx.Response]


class FakeMetrics:
    """Answers as metrics does; records what it was asked."""

    def __init__(self) -> None:
        self.answer: Answer = lambda request: httpx.Response(404)
        self.requests: list[httpx.Request] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(request)


@pytest.fixture
async def metrics_and_market(marketplace_settings: MarketplaceSettings) -> AsyncIterator[tuple[FakeMetrics, Harness]]:
    fake = FakeMetrics()
    app = create_app(marketplace_settings, metrics_transport=httpx.MockTransport(fake.handle))
    await app.state.store.ensure_indexes()
    async with in_memory_harness(app, Harness, base_url="http://marketplace", produced=PRODUCED_TOPICS,
                                 relays=[app.state.relay], market=app.state.marketplace, store=app.state.store) as h:
        yield fake, h
    await app.state.metrics_http.aclose()
    await app.state.store.client.close()


def indicators(agent: dict[str, float], team: dict[str, float], team_id: str = "mba") -> dict[str, Any]:
    return {"agent_id": "li-si", "team_id": team_id, "rates": {"agent": agent, "team": team}, "totals": {}, "days": []}


async def test_without_a_body_the_rates_come_from_metrics(metrics_and_market: tuple[FakeMetrics, Harness]) -> None:
    fake, harness = metrics_and_market
    tip = await harness.listed("zhang-san", stage="quoting")
    fake.answer = lambda request: httpx.Response(200, json=indicators(
        {"connect_60s": 0.5, "intent": 0.1, "visit": 0.5}, {"connect_60s": 0.5, "intent": 0.4, "visit": 0.5}))

    response = await harness.http.post("/v1/agents/li-si/struggle", headers=harness.as_user("li-si"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["step"], body["stage"], body["agent_rate"], body["team_rate"]) == ("intent", "quoting", 0.1, 0.4)
    assert [t["tip_id"] for t in body["tips"]] == [tip]
    [asked] = fake.requests
    assert asked.url.path == "/v1/agents/li-si/indicators"
    assert asked.headers["X-Tenant-Id"] == harness.tenant
    token = asked.headers["Authorization"].removeprefix("Bearer ")  # the marketplace's own service token
    claims = jwt.decode(token, LOCAL_HS256_SECRET, algorithms=["HS256"], audience=LOCAL_AUDIENCE)
    assert (claims["sub"], claims["roles"]) == ("marketplace", ["service"])
    await harness.relay()
    [event] = harness.of("marketplace.struggle-recommended.v1")
    assert event["data"]["team_id"] == "mba"

    # the rates given in the body are used as before, without asking metrics
    given = await harness.http.post("/v1/agents/li-si/struggle", json={"agent": {"plan": 0.1}, "team": {"plan": 0.3}})
    assert given.status_code == 200 and given.json()["step"] == "plan"
    assert len(fake.requests) == 1


@pytest.mark.parametrize(("answer", "status", "code"), [
    (lambda request: (_ for _ in ()).throw(httpx.ConnectError("refused", request=request)), 503,
     "metrics_unavailable"),
    (lambda request: (_ for _ in ()).throw(httpx.ReadTimeout("slow", request=request)), 503, "metrics_unavailable"),
    (lambda request: httpx.Response(500, json={"title": "Internal Server Error"}), 502, "metrics_failed"),
    (lambda request: httpx.Response(200, json={"rates": {"agent": {"intent": 7}, "team": {}}}), 502, "metrics_failed"),
])
async def test_a_metrics_service_that_fails_is_a_problem_answer(metrics_and_market: tuple[FakeMetrics, Harness],
                                                                answer: Answer, status: int, code: str) -> None:
    fake, harness = metrics_and_market
    fake.answer = answer
    response = await harness.http.post(f"/v1/agents/agent-{uuid.uuid4().hex[:6]}/struggle")
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code
    await harness.relay()
    assert not harness.of("marketplace.struggle-recommended.v1")


async def test_agreed_visits_and_payments_come_from_the_funnel_rows(metrics_and_market: tuple[FakeMetrics, Harness]
                                                                   ) -> None:
    fake, harness = metrics_and_market
    closing = await harness.listed("zhang-san", stage="closing")

    def rows(agreed: float, paid: float) -> list[dict[str, Any]]:
        return [{"step": "valid", "count": 10, "rate_from_previous": None, "rate_over_total": 1.0},
                {"step": "agreed_visit", "count": 5, "rate_from_previous": agreed, "rate_over_total": 0.5},
                {"step": "paid", "count": 1, "rate_from_previous": paid, "rate_over_total": 0.1}]

    body = indicators({"intent": 0.5}, {"intent": 0.5}) | {"funnel": rows(0.5, 0.2),
                                                          "team": {"funnel": rows(0.5, 0.6)}}
    fake.answer = lambda request: httpx.Response(200, json=body)
    response = await harness.http.post("/v1/agents/li-si/struggle", headers=harness.as_user("li-si"))
    assert response.status_code == 200, response.text
    found = response.json()
    assert (found["step"], found["stage"], found["agent_rate"], found["team_rate"]) == ("paid", "closing", 0.2, 0.6)
    assert [t["tip_id"] for t in found["tips"]] == [closing]
