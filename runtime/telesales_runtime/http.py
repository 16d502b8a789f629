"""HTTP plumbing shared by every service: RFC 9457 problem+json errors, health, readiness, /metrics."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Annotated, Any

from aiokafka.errors import KafkaError
from fastapi import APIRouter, Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from pymongo.errors import PyMongoError
from starlette.exceptions import HTTPException as StarletteHTTPException

from .auth import tenant_of
from .errors import DomainError
from .problems import PROBLEM_JSON, Problem, coded_problem

log = logging.getLogger(__name__)

def domain_problem(error: DomainError, status_by_code: Mapping[str, int], default: int = 422) -> Problem:
    """The problem answering a DomainError: the status its code maps to (`default` otherwise), and its
    details that fit in JSON as extension members."""
    return coded_problem(status_by_code.get(error.code, default), error.code, error.message,
                         **{k: v for k, v in error.details.items() if isinstance(v, str | int | list | None)})


IfMatch = Annotated[str | None, Header(description="The version read; refuses lost updates.")]


def if_match_version(if_match: str | None) -> int | None:
    """The version an If-Match header names (`"3"` or `3`); None without the header."""
    if if_match is None:
        return None
    try:
        return int(if_match.strip().strip('"'))
    except ValueError as error:
        raise Problem(400, "Bad If-Match", "If-Match must be the version number read.") from error


def from_app_state(name: str) -> Callable[[Request], Any]:
    """FastAPI dependency: the object the service's wiring put on `app.state.<name>` (its service layer,
    its settings). A coroutine: FastAPI runs a plain function dependency in a worker thread, a thread hop
    per request for an attribute lookup."""

    async def dependency(request: Request) -> Any:
        return getattr(request.app.state, name)

    dependency.__name__ = f"get_{name}"
    return dependency


def decode_upload(body: bytes) -> str:
    """The text of an uploaded file. Spreadsheets exported on Chinese Windows write GB18030/GBK;
    everything else should be UTF-8 (a byte-order mark is dropped)."""
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return body.decode("gb18030")
        except UnicodeDecodeError as error:
            raise Problem(400, "Unreadable file", "The file is neither UTF-8 nor GB18030 text.") from error


def problem_response(status: int, title: str, detail: str, instance: str | None = None,
                     type_: str = "about:blank", headers: dict[str, str] | None = None,
                     **extensions: Any) -> JSONResponse:
    body: dict[str, Any] = {"type": type_, "title": title, "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    body.update(extensions)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc.status, exc.title, exc.detail, request.url.path, exc.type, exc.headers,
                                **exc.extensions)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {404: "Not Found", 405: "Method Not Allowed", 413: "Payload Too Large", 415: "Unsupported Media Type"}
        return problem_response(exc.status_code, titles.get(exc.status_code, "HTTP error"), str(exc.detail),
                                request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"location": ".".join(str(p) for p in e["loc"]), "message": e["msg"], "type": e["type"]}
            for e in exc.errors()
        ]
        detail = "; ".join(f"{e['location']}: {e['message']}" for e in errors[:10])
        return problem_response(422, "Invalid request", detail, request.url.path, errors=errors)

    @app.exception_handler(PyMongoError)
    async def _database_down(request: Request, exc: PyMongoError) -> JSONResponse:
        log.error("database error", extra={"path": request.url.path, "error": str(exc)[:500]})
        return problem_response(503, "Database unavailable", "The database did not answer; retry later.",
                                request.url.path, headers={"Retry-After": "5"})

    @app.exception_handler(KafkaError)
    async def _broker_down(request: Request, exc: KafkaError) -> JSONResponse:
        log.error("broker error", extra={"path": request.url.path, "error": repr(exc)[:500]})
        return problem_response(503, "Broker unavailable", "The message broker did not accept the event; "
                                "nothing was published, retry later.", request.url.path, headers={"Retry-After": "5"})

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", extra={"path": request.url.path})
        return problem_response(500, "Internal Server Error", "The service failed; the error is logged.",
                                request.url.path)


# The tenant a request works in: the token's (X-Tenant-Id may choose another for admin and service tokens).
Tenant = Annotated[str, Depends(tenant_of)]

ReadinessCheck = Callable[[], Awaitable[Any]]


Exposition = CollectorRegistry | Callable[[], bytes]


def exposition_text(source: Exposition) -> bytes:
    """Prometheus text of a registry, or what an application rendered itself (e.g. ahead of the scrape)."""
    return generate_latest(source) if isinstance(source, CollectorRegistry) else source()


def health_router(checks: Mapping[str, ReadinessCheck], timeout: float = 2.0,
                  registries: Sequence[Exposition] = ()) -> APIRouter:
    """/healthz answers while the process runs (liveness); /readyz only when every dependency answers;
    /metrics has the process's metrics and those of `registries` (an application's own collectors, or a
    function returning its own text)."""
    router = APIRouter(tags=["health"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", response_model=None)
    async def readyz() -> dict[str, Any] | JSONResponse:
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                await asyncio.wait_for(check(), timeout)
                results[name] = "ok"
            except Exception as exc:  # noqa: BLE001 - any failure means not ready
                results[name] = f"{type(exc).__name__}: {exc}"[:300]
        if all(v == "ok" for v in results.values()):
            return {"status": "ready", "checks": results}
        return problem_response(503, "Not ready", "A dependency does not answer.", "/readyz", checks=results)

    @router.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(b"".join(exposition_text(r) for r in (REGISTRY, *registries)), media_type=CONTENT_TYPE_LATEST)

    return router
