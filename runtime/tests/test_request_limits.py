"""The request guards on a small application: body size (declared, streamed, lied about), content type,
malformed and deep JSON, invalid UTF-8 and lone surrogates; every refusal is problem+json."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from pydantic import BaseModel

from telesales_runtime.http import install_problem_handlers
from telesales_runtime.request_limits import check_json, install_request_limits, json_depth_exceeds
from telesales_runtime.settings import ServiceSettings

LIMIT = 4096


class Limited(ServiceSettings):
    def upload_body_limits(self) -> dict[str, int]:
        return {"/upload/{name}": 3 * LIMIT}


class Item(BaseModel):
    name: str
    tags: Any = None


def build() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    install_request_limits(app, Limited(http_max_body_bytes=LIMIT, http_max_json_depth=8))

    @app.post("/items")
    async def create(item: Item) -> dict[str, Any]:
        return {"name": item.name}

    @app.post("/raw")
    async def raw(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    @app.put("/upload/{name}")
    async def upload(name: str, request: Request) -> dict[str, int]:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
        return {"bytes": size}

    return app


@pytest.fixture
async def client() -> Any:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=build()), base_url="http://t") as c:
        yield c


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


async def test_a_json_body_within_the_limits_passes(client: httpx.AsyncClient) -> None:
    response = await client.post("/items", json={"name": "张三", "tags": [[1, [2]]]})
    assert response.status_code == 200 and response.json() == {"name": "张三"}
    response = await client.post("/items", content=b'{"name": "x"}',
                                 headers={"content-type": "application/merge-patch+json; charset=utf-8"})
    assert response.status_code == 200


async def test_a_declared_length_over_the_limit_is_413(client: httpx.AsyncClient) -> None:
    body = problem(await client.post("/items", json={"name": "x" * LIMIT}), 413)
    assert body["code"] == "body_too_large"
    problem(await client.post("/raw", content=b"x" * (LIMIT + 1)), 413)
    assert (await client.post("/raw", content=b"x" * LIMIT)).json() == {"bytes": LIMIT}


async def test_a_streamed_body_without_length_is_cut_at_the_limit(client: httpx.AsyncClient) -> None:
    sent = 0

    async def chunks() -> Any:
        nonlocal sent
        for _ in range(1000):  # 1 MB offered; the guard stops reading after the limit
            sent += 1
            yield b"y" * 1024

    problem(await client.post("/raw", content=chunks()), 413)
    assert sent < 1000


async def test_upload_routes_have_their_own_limit(client: httpx.AsyncClient) -> None:
    assert (await client.put("/upload/a", content=b"z" * (2 * LIMIT))).json() == {"bytes": 2 * LIMIT}
    problem(await client.put("/upload/a", content=b"z" * (3 * LIMIT + 1)), 413)


async def test_a_lying_content_length_does_not_get_past_the_limit() -> None:
    """Content-Length says 10 bytes; the body goes on: the guard counts what arrives."""
    app = build()
    messages = [{"type": "http.request", "body": b"a" * 1024, "more_body": True}] * 20 + \
        [{"type": "http.request", "body": b"", "more_body": False}]
    given = iter(messages)
    taken = 0

    async def receive() -> dict[str, Any]:
        nonlocal taken
        taken += 1
        return next(given)

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "PUT", "scheme": "http",
             "path": "/upload/x", "raw_path": b"/upload/x", "root_path": "", "query_string": b"",
             "headers": [(b"host", b"t"), (b"content-length", b"10")], "server": ("t", 80), "client": ("c", 1)}
    await app(scope, receive, send)
    assert sent[0]["status"] == 413
    assert taken <= 3 * LIMIT // 1024 + 1


async def test_a_json_route_refuses_other_content_types(client: httpx.AsyncClient) -> None:
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                         "application/xml"):
        body = problem(await client.post("/items", content=b'{"name": "x"}', headers={"content-type": content_type}),
                       415)
        assert body["code"] == "unsupported_media_type"
    # a raw route decides for itself
    assert (await client.post("/raw", content=b"abc", headers={"content-type": "text/plain"})).status_code == 200


@pytest.mark.parametrize("raw", [b"{", b'{"name": }', b"\xff\xfe{}", b'{"name": "\xc3"}', b'{"name": "\\ud800"}',
                                 b'{"name": "a\\udc00b"}', b"[1, 2,]", b"NaN", b'{"name": "x"} trailing'])
async def test_malformed_json_is_400(client: httpx.AsyncClient, raw: bytes) -> None:
    body = problem(await client.post("/items", content=raw, headers={"content-type": "application/json"}), 400)
    assert body["code"] == "malformed_json"


async def test_deep_json_is_refused_before_the_model_sees_it(client: httpx.AsyncClient) -> None:
    assert (await client.post("/items", json={"name": "x", "tags": [[[[[[1]]]]]]})).status_code == 200
    for depth in (9, 100, 2000):
        tags = "[" * depth + "]" * depth
        body = problem(await client.post("/items", content=f'{{"name": "x", "tags": {tags}}}'.encode(),
                                         headers={"content-type": "application/json"}), 400)
        assert body["code"] == "json_too_deep"


@pytest.mark.parametrize("number", ["9223372036854775808", "-9223372036854775809", "-14573665713956630528",
                                    "123456789012345678901234567890", "1e30"])
async def test_numbers_beyond_64_bits_are_400(client: httpx.AsyncClient, number: str) -> None:
    body = problem(await client.post("/items", content=f'{{"name": "x", "tags": [{number}]}}'.encode(),
                                     headers={"content-type": "application/json"}), 400)
    assert body["code"] == "number_out_of_range"
    ok = await client.post("/items", content=b'{"name": "x", "tags": [9223372036854775807, -1.5e18]}',
                           headers={"content-type": "application/json"})
    assert ok.status_code == 200


def test_depth_counts_arrays_and_objects() -> None:
    assert not json_depth_exceeds(1, 0)
    assert json_depth_exceeds([], 0)
    assert not json_depth_exceeds({"a": [1, {"b": []}]}, 4)  # object, array, object, array
    assert json_depth_exceeds({"a": [1, {"b": []}]}, 3)
    deep: Any = []
    for _ in range(5000):
        deep = [deep]
    assert json_depth_exceeds(deep, 32)
    check_json(json.dumps({"a": [{"b": 1}]}).encode(), 3)


async def test_unicode_that_is_valid_passes_unchanged(client: httpx.AsyncClient) -> None:
    for name in ("\u202eevil", "a\u200bb", "１３８", "e\u0301", "\x00", "😀" * 100):
        response = await client.post("/items", json={"name": name})
        assert response.status_code == 200 and response.json() == {"name": name}
