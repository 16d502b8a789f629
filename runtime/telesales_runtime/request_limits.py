"""Guards every request body before a route sees it: its size (checked against Content-Length and again
while it streams in, so a lying or missing Content-Length does not help), and, on routes that take a JSON
body, its content type, its encoding and syntax, and how deeply it nests. A refused request is answered
with problem+json: 413 (too large), 415 (not JSON), 400 (malformed JSON, invalid UTF-8, a lone surrogate
escape such as "\\ud800", nesting deeper than the limit, or a number beyond 64 bits).

The limits are settings: `http_max_body_bytes` for every route, `http_max_json_depth` for JSON bodies, and a
service's `upload_body_limits()` (route path -> bytes) for the routes that take files larger than that.

It wraps the ASGI `receive` and acts when a route first reads its body, so it knows the route the request
matched (FastAPI puts it in the scope) and costs nothing on requests without a body."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import FastAPI, Request, params
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .http import PROBLEM_JSON

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_MAX_JSON_DEPTH = 32


class RequestRefused(StarletteHTTPException):
    """A request body the guards refuse. An HTTPException, so FastAPI's body parsing passes it on instead of
    turning it into its generic 400."""

    def __init__(self, status: int, title: str, detail: str, code: str) -> None:
        super().__init__(status_code=status, detail=detail)
        self.title = title
        self.code = code


def too_large(limit: int) -> RequestRefused:
    return RequestRefused(413, "Payload Too Large", f"The request body may be at most {limit} bytes.",
                          "body_too_large")


INT64_MAX = 2**63 - 1


def json_depth_exceeds(value: Any, limit: int) -> bool:
    """Whether `value` (decoded JSON) nests arrays and objects more than `limit` deep; a scalar is depth 0.
    Iterative, and stops at the first branch past the limit."""
    return _first_violation(value, limit) == "depth"


def _first_violation(value: Any, limit: int) -> str | None:
    """"depth" (nested deeper than `limit`), "number" (a number beyond 64 bits, which no store keeps as an
    integer) or None."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            if isinstance(node, int | float) and not isinstance(node, bool) and abs(node) > INT64_MAX:
                return "number"
            continue
        if depth + 1 > limit:
            return "depth"
        stack.extend((child, depth + 1) for child in children)
    return None


def check_json(body: bytes, max_depth: int) -> None:
    """Refuses a JSON body that is not valid UTF-8, not valid JSON (a lone surrogate escape included), nests
    deeper than `max_depth`, or has a number beyond 64 bits."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        message = str(error)
        if "recursion" in message.lower() or "depth limit" in message.lower():
            raise RequestRefused(400, "JSON too deep", f"JSON may nest at most {max_depth} levels.",
                                 "json_too_deep") from error
        raise RequestRefused(400, "Malformed JSON", f"The body is not valid UTF-8 JSON: {message[:200]}",
                             "malformed_json") from error
    violation = _first_violation(value, max_depth)
    if violation == "depth":
        raise RequestRefused(400, "JSON too deep", f"JSON may nest at most {max_depth} levels.", "json_too_deep")
    if violation == "number":
        raise RequestRefused(400, "Number out of range", "Numbers must lie within ±9223372036854775807 "
                             "(64-bit integers).", "number_out_of_range")


def is_json_media_type(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def takes_json_body(route: Any) -> bool:
    """A FastAPI route whose body FastAPI itself decodes as JSON (not a form, not a raw body it reads)."""
    return isinstance(route, APIRoute) and route.body_field is not None and not _is_form(route)


def _is_form(route: APIRoute) -> bool:
    return isinstance(getattr(route.body_field, "field_info", None), params.Form)


class _Guard:
    """One request's receive, wrapped."""

    def __init__(self, scope: Scope, receive: Receive, limits: RequestLimits) -> None:
        self.scope = scope
        self.receive = receive
        self.limits = limits
        self.limit: int | None = None
        self.received = 0
        self.replay: list[Message] | None = None

    def _headers(self) -> dict[bytes, bytes]:
        return {k.lower(): v for k, v in self.scope.get("headers", [])}

    def _start(self) -> None:
        route = self.scope.get("route")
        path = getattr(route, "path", None)
        self.limit = self.limits.upload_limits.get(path, self.limits.max_body_bytes) if path else \
            self.limits.max_body_bytes
        headers = self._headers()
        length = headers.get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError as error:
                raise RequestRefused(400, "Bad Content-Length", "Content-Length must be a number.",
                                     "bad_content_length") from error
            if declared > self.limit:
                raise too_large(self.limit)
        if takes_json_body(route):
            content_type = headers.get(b"content-type", b"").decode("latin-1")
            if content_type and not is_json_media_type(content_type):
                raise RequestRefused(415, "Unsupported Media Type",
                                     f"This route takes application/json, not {content_type[:100]}.",
                                     "unsupported_media_type")
            self.replay = []

    async def _next(self) -> Message:
        message = await self.receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            assert self.limit is not None
            if self.received > self.limit:
                raise too_large(self.limit)
        return message

    async def __call__(self) -> Message:
        if self.limit is None:
            self._start()
            if self.replay is not None:
                await self._read_json()
        if self.replay:
            return self.replay.pop(0)
        return await self._next()

    async def _read_json(self) -> None:
        """Reads the whole JSON body (FastAPI would anyway), checks it, and keeps it to hand on."""
        chunks: list[bytes] = []
        while True:
            message = await self._next()
            if message["type"] != "http.request":
                assert self.replay is not None
                self.replay.append(message)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body:
            check_json(body, self.limits.max_json_depth)
        self.replay = [{"type": "http.request", "body": body, "more_body": False}]


class RequestLimits:
    """ASGI middleware: the guards of every HTTP request."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
                 max_json_depth: int = DEFAULT_MAX_JSON_DEPTH, upload_limits: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_json_depth = max_json_depth
        self.upload_limits = dict(upload_limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.app(scope, _Guard(scope, receive, self), send)


async def _refused(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestRefused)
    body = {"type": "about:blank", "title": exc.title, "status": exc.status_code, "detail": exc.detail,
            "instance": request.url.path, "code": exc.code}
    # The rest of the body is not read: the client is told the connection closes.
    return JSONResponse(body, status_code=exc.status_code, media_type=PROBLEM_JSON, headers={"Connection": "close"})


def install_request_limits(app: FastAPI, settings: Any) -> None:
    """The guards, with the limits of the service's `settings` (ServiceSettings)."""
    uploads = settings.upload_body_limits() if hasattr(settings, "upload_body_limits") else {}
    app.add_middleware(RequestLimits,  # type: ignore[arg-type]
                       max_body_bytes=getattr(settings, "http_max_body_bytes", DEFAULT_MAX_BODY_BYTES),
                       max_json_depth=getattr(settings, "http_max_json_depth", DEFAULT_MAX_JSON_DEPTH),
                       upload_limits=uploads)
    app.add_exception_handler(RequestRefused, _refused)
