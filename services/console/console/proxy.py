"""/api/{service}/{path}: a call to one of the five services, made with the caller's token (the session's, or
the caller's own bearer token). The services authorize it themselves; the answer comes back as the service
gave it, streamed (media, with Range: 206 and Content-Range pass through). A service that does not answer:
502 problem (504 when it is too slow)."""

from __future__ import annotations

from typing import Annotated

import httpx
from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from telesales_runtime.http import Problem

from .session import UpstreamToken

proxy_router = APIRouter(tags=["services"])

PROXY_PATH = "/api/{service}/{path:path}"
PROXY_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# What a browser's request carries to the service (besides the token the console sets).
FORWARDED_REQUEST_HEADERS = ("content-type", "content-length", "accept", "accept-language", "range", "if-match", "if-none-match",
                             "if-range", "idempotency-key", "x-tenant-id")
# Connection-level headers (RFC 9110 7.6.1) are not forwarded; nor are a service's cookies (the browser
# holds the console's cookie only).
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
                        "transfer-encoding", "upgrade", "proxy-connection"})
DROPPED_RESPONSE_HEADERS = HOP_BY_HOP | {"set-cookie", "set-cookie2"}


def upstream_client(request: Request) -> httpx.AsyncClient:
    return request.app.state.upstream_http


def request_headers(request: Request, token: str) -> dict[str, str]:
    headers = {name: request.headers[name] for name in FORWARDED_REQUEST_HEADERS if name in request.headers}
    headers["authorization"] = f"Bearer {token}"
    # The body comes back as the service encoded it, so ask only for what the browser accepts.
    headers["accept-encoding"] = request.headers.get("accept-encoding", "identity")
    return headers


def response_headers(answer: httpx.Response) -> list[tuple[bytes, bytes]]:
    connection_named = {v.strip().lower() for v in answer.headers.get("connection", "").split(",") if v.strip()}
    dropped = DROPPED_RESPONSE_HEADERS | connection_named
    return [(k, v) for k, v in answer.headers.raw if k.decode("latin-1").lower() not in dropped]


async def call_service(service: str, path: str, request: Request, token: UpstreamToken,
                       http: Annotated[httpx.AsyncClient, Depends(upstream_client)]) -> StreamingResponse:
    base = request.app.state.settings.upstreams.get(service)
    if base is None:
        raise Problem(404, "Unknown service", f"There is no service {service!r}: one of "
                      f"{', '.join(sorted(request.app.state.settings.upstreams))}.", code="unknown_service")
    url = httpx.URL(f"{base.rstrip('/')}/{path}", query=request.url.query.encode("latin-1"))
    has_body = "transfer-encoding" in request.headers or request.headers.get("content-length", "0") != "0"
    outgoing = http.build_request(request.method, url, headers=request_headers(request, token),
                                  content=request.stream() if has_body else None)
    try:
        answer = await http.send(outgoing, stream=True)
    except httpx.TimeoutException as error:
        raise Problem(504, "Gateway timeout", f"{service} did not answer in time.", code="upstream_timeout") \
            from error
    except httpx.HTTPError as error:
        raise Problem(502, "Bad gateway", f"{service} does not answer: {type(error).__name__}.",
                      code="upstream_unavailable") from error
    response = StreamingResponse(answer.aiter_raw(), status_code=answer.status_code,
                                 background=BackgroundTask(answer.aclose))
    response.raw_headers = response_headers(answer)
    return response


# One route per method, each with an operation id of its own (one route of many methods gives them all the same).
for _method in PROXY_METHODS:
    proxy_router.add_api_route(PROXY_PATH, call_service, methods=[_method], operation_id=f"proxy_{_method.lower()}",
                               summary=f"{_method} a service's route with the caller's token")
