"""HTTP server metrics of every service, after OpenTelemetry's semantic conventions for HTTP servers in their
Prometheus form: the histogram `http_server_request_duration_seconds` (OTel `http.server.request.duration`)
labelled `http_request_method`, `http_route`, `http_response_status_code` and `service`. Its `_count` by
status is the request rate and the errors: the 5xx share is `..._count{http_response_status_code=~"5.."}`
over all of `..._count` (no separate error counter).

Labels stay bounded whatever clients send: `http_route` is the route template that matched
(`/v1/leads/{lead_id}`, never the path asked for), `_unmatched` for every path no route matches (404s,
redirects of a trailing slash), and a method outside the standard ones is `_OTHER`, as OTel specifies.

Measured as the outermost ASGI middleware of the application, so the requests its guards and its
authentication refuse (400, 401, 403, 413, 415) count, and an exception no handler answered counts as the
500 the server error handler then sends. The time runs from the request reaching the application to the
end of its response (a streamed body included). Per request it costs a dict lookup for the labels and one
observation (runtime/bench/http_metrics_overhead.py measures it)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI
from prometheus_client import Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HTTP_SERVER_REQUEST_DURATION = Histogram(
    "http_server_request_duration_seconds",
    "Duration of HTTP server requests (OpenTelemetry http.server.request.duration), by method, route template "
    "and status code; its _count is the request count.",
    ["service", "http_request_method", "http_route", "http_response_status_code"],
    # millisecond APIs: most answers fall in 1-100 ms; imports and media streams take seconds
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

# OTel's known methods (RFC 9110 and PATCH); anything else is `_OTHER`.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"})
OTHER_METHOD = "_OTHER"
UNMATCHED_ROUTE = "_unmatched"


class HttpServerMetrics:
    """ASGI middleware observing every HTTP request's duration under its route template and status."""

    def __init__(self, app: ASGIApp, *, service: str) -> None:
        self.app = app
        self.service = service
        # (method, route template, status) -> its histogram child: labels() validates and locks on every
        # call; the keys are bounded (methods and routes by the rules above, statuses by the application).
        self._children: dict[tuple[str, str, int], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server error handler sends when the application raised before answering

        async def send_seeing_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_seeing_status)
        except Exception:
            self._observe(scope, status, time.perf_counter() - started)
            raise
        self._observe(scope, status, time.perf_counter() - started)

    def _observe(self, scope: Scope, status: int, seconds: float) -> None:
        method = scope["method"]
        if method not in KNOWN_METHODS:
            method = OTHER_METHOD
        # The router puts the route it matched (fully, or by path only: a 405) in the scope.
        route = getattr(scope.get("route"), "path", None) or UNMATCHED_ROUTE
        key = (method, route, status)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = HTTP_SERVER_REQUEST_DURATION.labels(self.service, method, route, str(status))
        child.observe(seconds)


def install_http_metrics(app: FastAPI, service: str) -> None:
    """Observe every request of `app`; call it after every other middleware is added (the last added runs
    first), so that what they refuse is observed too."""
    app.add_middleware(HttpServerMetrics, service=service)  # type: ignore[arg-type]
