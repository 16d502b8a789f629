"""Helpers of the console's BFF tests (importable: the tests folder is on pytest's pythonpath).

`Upstream` stands in for the five services behind the console (an httpx.MockTransport handed to
create_app): it answers the allocator's roster and lead reads, serves a media file with Range, and records
every request so a test can check what the console sent."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from console.main import create_app
from console.settings import ConsoleSettings
from telesales_runtime.auth import LOCAL_AUDIENCE, LOCAL_ISSUER, Principal, TokenVerifier

CONSOLE = "http://console.test"
INDEX_HTML = ('<!doctype html><html lang="zh"><head><meta charset="UTF-8">'
              '<meta name="csp-nonce" content="__CSP_NONCE__"><title>console</title>'
              '<script type="module" crossorigin src="/assets/index-3f2a1b.js"></script></head>'
              '<body><div id="root"></div></body></html>')
MEDIA = bytes(range(256)) * 40  # 10 240 bytes


def web_dist(root: Path) -> Path:
    """A built web app as Vite leaves it: index.html and hashed assets."""
    (root / "assets").mkdir(parents=True, exist_ok=True)
    (root / "index.html").write_text(INDEX_HTML, encoding="utf-8")
    (root / "assets" / "index-3f2a1b.js").write_text("console.log('floor console');\n" * 100, encoding="utf-8")
    return root


def console_settings(infra: Any, tmp_path: Path, **change: Any) -> ConsoleSettings:
    values: dict[str, Any] = {
        "kafka_bootstrap": infra.kafka_bootstrap, "mongo_uri": infra.mongo_uri, "redis_url": infra.redis_url,
        "mongo_db": f"test_console_{uuid.uuid4().hex[:8]}", "log_json": False,
        "web_dist": web_dist(tmp_path / "dist"), "public_url": CONSOLE}
    return ConsoleSettings(**(values | change))


def principal_of(authorization: str | None) -> Principal:
    """Who a bearer token names, verified as the services verify local tokens."""
    assert authorization and authorization.startswith("Bearer "), authorization
    settings = ConsoleSettings()
    assert settings.auth_issuer == LOCAL_ISSUER and settings.auth_audience == LOCAL_AUDIENCE
    return TokenVerifier(settings).verify(authorization.split(" ", 1)[1])


@dataclass
class Upstream:
    """The services behind the console, as an httpx transport."""

    agents: dict[str, dict[str, Any]] = field(default_factory=dict)
    leads: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)
    down: set[str] = field(default_factory=set)  # hosts that refuse connections
    slow: set[str] = field(default_factory=set)  # hosts that time out

    def agent(self, agent_id: str, *, role: str = "agent", active: bool = True, team: str | None = "team-a",
              name: str = "李四") -> None:
        self.agents[agent_id] = {"agent_id": agent_id, "name": name, "role": role, "team_id": team,
                                 "business_line": "car-insurance", "active": active}

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def to(self, host_port: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.netloc.decode() == host_port]

    async def handle(self, request: httpx.Request) -> httpx.Response:
        """The answer as it comes off the network: its body still to be read (streamed)."""
        answer = await self.answer(request)
        body = answer.content
        return httpx.Response(answer.status_code, headers=answer.headers, stream=_Chunks(body))

    async def answer(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        host = request.url.netloc.decode()
        if host in self.down:
            raise httpx.ConnectError("connection refused", request=request)
        if host in self.slow:
            raise httpx.ReadTimeout("timed out", request=request)
        path = request.url.path
        if path.startswith("/v1/agents/"):
            agent = self.agents.get(path.rsplit("/", 1)[1])
            return _json(200, agent) if agent else _problem(404, "Unknown agent")
        if path.startswith("/v1/leads/") and path.endswith("/dial") and request.method == "POST":
            return self._dial(request, path.split("/")[3])
        if path.startswith("/v1/leads/"):
            lead = self.leads.get(path.rsplit("/", 1)[1])
            return _json(200, lead) if lead else _problem(404, "Unknown lead")
        if path == "/v1/tips/t-1/media":
            return _media(request)
        if path == "/v1/echo":
            body = await request.aread()
            return httpx.Response(201, json={"method": request.method, "query": request.url.query.decode(),
                                             "body": body.decode()},
                                  headers={"ETag": '"7"', "Set-Cookie": "upstream=1", "Connection": "close",
                                           "X-Upstream": "yes"})
        return _problem(404, "Not Found")


    def _dial(self, request: httpx.Request, lead_id: str) -> httpx.Response:
        """The allocator's answer to `POST /v1/leads/{id}/dial` for the caller (its token's sub): a lead's
        `dial` (reason, detail) when set, else allowed to its holder only."""
        lead = self.leads.get(lead_id)
        if lead is None:
            return _problem(404, "Unknown lead")
        agent_id = principal_of(request.headers.get("authorization")).sub
        reason = lead.get("dial") or (None if lead.get("holder") == agent_id else "not_the_holder")
        return _json(200, {"lead_id": lead_id, "agent_id": agent_id, "allowed": reason is None, "reason": reason,
                           "detail": reason and f"refused: {reason}", "rest_until": lead.get("rest_until")})


class _Chunks(httpx.AsyncByteStream):
    def __init__(self, body: bytes, size: int = 4096) -> None:
        self.body, self.size = body, size

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.body), self.size):
            yield self.body[start:start + self.size]


def _json(status: int, body: Any) -> httpx.Response:
    return httpx.Response(status, json=body)


def _problem(status: int, title: str) -> httpx.Response:
    return httpx.Response(status, json={"type": "about:blank", "title": title, "status": status, "detail": title},
                          headers={"Content-Type": "application/problem+json"})


def _media(request: httpx.Request) -> httpx.Response:
    header = request.headers.get("range")
    if header and header.startswith("bytes="):
        start_text, end_text = header[6:].split("-")
        start, end = int(start_text), int(end_text or len(MEDIA) - 1)
        return httpx.Response(206, content=MEDIA[start:end + 1],
                              headers={"Content-Type": "audio/mpeg", "Accept-Ranges": "bytes",
                                       "Content-Range": f"bytes {start}-{end}/{len(MEDIA)}"})
    return httpx.Response(200, content=MEDIA, headers={"Content-Type": "audio/mpeg", "Accept-Ranges": "bytes"})


@asynccontextmanager
async def running_console(settings: ConsoleSettings, upstream: Upstream) -> AsyncIterator[httpx.AsyncClient]:
    """The console started (its lifespan: broker, indexes) with a browser-like client (it keeps cookies)."""
    app = create_app(settings, upstream_transport=upstream.transport())
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=settings.public_url) as http:
            http.app = app  # type: ignore[attr-defined]
            yield http


@asynccontextmanager
async def console_on_the_stack(infra: Any, tmp_path: Path, *, allocator_url: str, group: str
                               ) -> AsyncIterator[httpx.AsyncClient]:
    """The console in-process on the real broker, MongoDB and Redis, calling the real allocator, its consumers in a
    group of their own (`<group>-<random>`); a client of it (`http.app` is the app, as with running_console)."""
    settings = console_settings(infra, tmp_path, allocator_url=allocator_url,
                                consumer_group=f"{group}-{uuid.uuid4().hex[:8]}")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=settings.public_url,
                                     timeout=30) as http:
            http.app = app  # type: ignore[attr-defined]
            yield http


async def dev_login(http: httpx.AsyncClient, agent_id: str, **body: Any) -> dict[str, Any]:
    answer = await http.post("/auth/dev-login", json={"agent_id": agent_id, **body})
    assert answer.status_code == 200, answer.text
    return answer.json()



async def with_cookie(http: httpx.AsyncClient, session_id: str, path: str) -> httpx.Response:
    """GET `path` as another browser holding the session cookie `session_id`."""
    async with httpx.AsyncClient(transport=http._transport, base_url=http.base_url,
                                 cookies={"ts_session": session_id}) as other:
        return await other.get(path)
