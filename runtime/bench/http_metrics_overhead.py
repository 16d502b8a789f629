"""What the HTTP metrics middleware costs per request: the same requests through an ASGI application with and
without it, called directly (no server, no client, no network), in alternating rounds; the difference of the
fastest rounds is its cost (the fastest round is the one least disturbed by whatever else the machine runs;
the medians are printed too). Two applications: a bare ASGI one (the middleware's cost alone, against almost
nothing) and one built as every service's is (create_service_app: guards, problem handlers, a route taking
a bearer token), for how much of a real request it is.

    uv run --frozen python runtime/bench/http_metrics_overhead.py [--requests 20000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

from fastapi import APIRouter
from starlette.types import Receive, Scope, Send

from telesales_runtime.app import create_service_app
from telesales_runtime.http_metrics import HttpServerMetrics
from telesales_runtime.kafka import create_broker
from telesales_runtime.settings import ServiceSettings
from telesales_testkit.auth import auth_headers


class Route:
    path = "/v1/items/{item_id}"


ROUTE = Route()


async def bare(scope: Scope, receive: Receive, send: Send) -> None:
    scope["route"] = ROUTE  # as the router does
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"{}"})


def service_app(with_metrics: bool) -> Any:
    settings = ServiceSettings(service_name="bench-http", log_json=False)
    router = APIRouter()

    @router.get("/v1/items/{item_id}")
    async def read(item_id: str) -> dict[str, str]:
        return {"id": item_id}

    app = create_service_app(settings=settings, title="bench", description="", broker=create_broker(settings),
                             topics=[], routers=[router], readiness={}, access={"GET /v1/items/{item_id}": {"agent"}})
    if not with_metrics:  # the same application less the middleware create_service_app adds
        app.user_middleware = [m for m in app.user_middleware if m.cls is not HttpServerMetrics]
    return app


async def run(app: Any, requests: int, headers: list[tuple[bytes, bytes]]) -> float:
    """Seconds per request, `requests` GETs of one route in a row."""
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        pass

    started = time.perf_counter()
    for n in range(requests):
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
                 "path": f"/v1/items/{n}", "raw_path": f"/v1/items/{n}".encode(), "root_path": "",
                 "query_string": b"", "headers": headers, "client": ("127.0.0.1", 1), "server": ("t", 80),
                 "app": app, "state": {}}
        await app(scope, receive, send)
    return (time.perf_counter() - started) / requests


async def compare(name: str, plain: Any, measured: Any, requests: int, rounds: int,
                  headers: list[tuple[bytes, bytes]]) -> None:
    await run(plain, requests // 10, headers)  # warm up both (FastAPI builds its stack on the first call)
    await run(measured, requests // 10, headers)
    without, with_ = [], []
    for _ in range(rounds):
        without.append(await run(plain, requests, headers))
        with_.append(await run(measured, requests, headers))
    a, b = min(without), min(with_)
    median = statistics.median(with_) - statistics.median(without)
    print(f"{name:<24} without {a * 1e6:7.2f} us   with {b * 1e6:7.2f} us   middleware {(b - a) * 1e6:5.2f} us "
          f"per request ({(b - a) / a:+.1%}; medians: {median * 1e6:+.2f} us)")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    await compare("bare ASGI application", bare, HttpServerMetrics(bare, service="bench-bare"),
                  args.requests * 5, args.rounds, [])
    token = [(k.lower().encode(), v.encode()) for k, v in auth_headers("agent", "a1").items()]
    await compare("a service's application", service_app(False), service_app(True), args.requests, args.rounds,
                  token)


if __name__ == "__main__":
    asyncio.run(main())
