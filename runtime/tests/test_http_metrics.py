"""http_server_request_duration_seconds on an application built as every service's is (create_service_app: the
problem handlers, the request guards, bearer tokens), without infrastructure: requests are counted under
their route template and status, what the guards and the authentication refuse included, a failing route
as 500, and labels stay bounded whatever paths and methods clients send."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import APIRouter
from prometheus_client import REGISTRY
from pydantic import BaseModel

from telesales_runtime.app import create_service_app
from telesales_runtime.http import Problem
from telesales_runtime.http_metrics import OTHER_METHOD, UNMATCHED_ROUTE
from telesales_runtime.kafka import create_broker
from telesales_runtime.settings import ServiceSettings
from telesales_testkit.auth import auth_headers

NAME = "http_server_request_duration_seconds"


class Item(BaseModel):
    name: str


def build(service: str) -> Any:
    settings = ServiceSettings(service_name=service, http_max_body_bytes=1024, log_json=False)
    router = APIRouter()

    @router.get("/v1/items/{item_id}")
    async def read(item_id: str) -> dict[str, str]:
        if item_id == "gone":
            raise Problem(404, "Not Found", "no such item")
        return {"id": item_id}

    @router.post("/v1/items")
    async def create(item: Item) -> dict[str, str]:
        return {"name": item.name}

    @router.get("/v1/broken")
    async def broken() -> None:
        raise RuntimeError("a bug")

    access = {"GET /v1/items/{item_id}": {"agent"}, "POST /v1/items": {"operator"}, "GET /v1/broken": {"agent"}}
    return create_service_app(settings=settings, title=service, description="", broker=create_broker(settings),
                              topics=[], routers=[router], readiness={}, access=access)


@pytest.fixture
async def service() -> Any:
    name = f"http-{uuid.uuid4().hex[:8]}"  # series of this test's own
    transport = httpx.ASGITransport(app=build(name), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        yield name, http


def count(service: str, method: str, route: str, status: int) -> float:
    labels = {"service": service, "http_request_method": method, "http_route": route,
              "http_response_status_code": str(status)}
    return REGISTRY.get_sample_value(f"{NAME}_count", labels) or 0.0


def routes_of(service: str) -> set[tuple[str, str, str]]:
    return {(s.labels["http_request_method"], s.labels["http_route"], s.labels["http_response_status_code"])
            for family in REGISTRY.collect() if family.name == NAME for s in family.samples
            if s.name == f"{NAME}_count" and s.labels["service"] == service}


async def test_requests_count_under_their_route_template_and_status(service: tuple[str, Any]) -> None:
    name, http = service
    agent, operator = auth_headers("agent", "a1"), auth_headers("operator", "ops")
    for item in ("1", "2", "3"):
        assert (await http.get(f"/v1/items/{item}", headers=agent)).status_code == 200
    assert (await http.get("/v1/items/gone", headers=agent)).status_code == 404
    assert (await http.post("/v1/items", json={"name": "x"}, headers=operator)).status_code == 200
    assert (await http.get("/healthz")).status_code == 200
    assert count(name, "GET", "/v1/items/{item_id}", 200) == 3
    assert count(name, "GET", "/v1/items/{item_id}", 404) == 1  # a route's own 404 keeps its route
    assert count(name, "POST", "/v1/items", 200) == 1
    assert count(name, "GET", "/healthz", 200) == 1
    assert not any("/1" in route or "/2" in route for _, route, _ in routes_of(name))  # never the raw path
    labels = {"service": name, "http_request_method": "GET", "http_route": "/v1/items/{item_id}",
              "http_response_status_code": "200"}
    assert REGISTRY.get_sample_value(f"{NAME}_sum", labels) > 0
    assert REGISTRY.get_sample_value(f"{NAME}_bucket", {**labels, "le": "10.0"}) == 3


async def test_what_the_guards_and_the_authentication_refuse_counts(service: tuple[str, Any]) -> None:
    name, http = service
    operator = auth_headers("operator", "ops")
    assert (await http.get("/v1/items/1")).status_code == 401
    assert (await http.get("/v1/items/1", headers=operator)).status_code == 403
    assert (await http.post("/v1/items", content=b'{"name": "' + b"x" * 2000 + b'"}', headers={
        **operator, "Content-Type": "application/json"})).status_code == 413
    assert (await http.post("/v1/items", content=b"name=x", headers={
        **operator, "Content-Type": "application/x-www-form-urlencoded"})).status_code == 415
    assert (await http.post("/v1/items", content=b"{", headers={
        **operator, "Content-Type": "application/json"})).status_code == 400
    assert count(name, "GET", "/v1/items/{item_id}", 401) == 1
    assert count(name, "GET", "/v1/items/{item_id}", 403) == 1
    assert count(name, "POST", "/v1/items", 413) == 1
    assert count(name, "POST", "/v1/items", 415) == 1
    assert count(name, "POST", "/v1/items", 400) == 1


async def test_a_route_that_fails_counts_as_500(service: tuple[str, Any]) -> None:
    name, http = service
    response = await http.get("/v1/broken", headers=auth_headers("agent", "a1"))
    assert response.status_code == 500 and response.json()["title"] == "Internal Server Error"
    assert count(name, "GET", "/v1/broken", 500) == 1


async def test_unknown_paths_and_methods_collapse_to_one_label_value(service: tuple[str, Any]) -> None:
    name, http = service
    for n in range(20):
        assert (await http.get(f"/wp-admin/{n}.php")).status_code == 404
        assert (await http.request(f"BREW{n}", "/v1/items/1")).status_code == 405
    assert (await http.delete("/v1/items/1")).status_code == 405  # a known method the route does not take
    assert count(name, "GET", UNMATCHED_ROUTE, 404) == 20
    assert count(name, OTHER_METHOD, "/v1/items/{item_id}", 405) == 20
    assert count(name, "DELETE", "/v1/items/{item_id}", 405) == 1
    assert routes_of(name) == {("GET", UNMATCHED_ROUTE, "404"), (OTHER_METHOD, "/v1/items/{item_id}", "405"),
                               ("DELETE", "/v1/items/{item_id}", "405")}
