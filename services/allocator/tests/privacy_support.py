"""What the tests of calls without the number share: an allocator whose deployment offers the simulated
provider (a pool of middle numbers of the test's own) and the HTTP provider, here a small provider served
by uvicorn inside the test whose answers each test chooses."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import SecretStr

from allocator.events import PRODUCED_TOPICS
from allocator.main import create_app
from allocator.settings import AllocatorSettings
from allocator_support import Harness, put
from telesales_testkit.harness import in_memory_harness
from telesales_testkit.infra import free_port

TOKEN = "provider-secret-token"


def middle_numbers(count: int) -> list[str]:
    """Middle numbers no other test uses (the simulated pool is the deployment's, shared by its tenants)."""
    base = 17_000_000_000 + uuid.uuid4().int % 900_000_000 * 10
    return [f"+86{base + i}" for i in range(count)]


@dataclass
class FakeProvider:
    """An HTTP number-privacy provider: answers `mode` (ok, exhausted, broken, unauthorised, nonsense,
    expired, slow) and records every request it got."""

    mode: str = "ok"
    requests: list[dict[str, Any]] = field(default_factory=list)
    bound: dict[str, dict[str, Any]] = field(default_factory=dict)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/privacy/bindings")
        async def bind(request: Request) -> Response:
            body = await request.json()
            self.requests.append({"method": "POST", "headers": dict(request.headers), "body": body})
            return await self._answer(body)

        @app.delete("/privacy/bindings/{binding_id:path}")
        async def unbind(binding_id: str, request: Request) -> Response:
            self.requests.append({"method": "DELETE", "headers": dict(request.headers), "binding_id": binding_id})
            if self.mode == "broken":
                return JSONResponse({"message": "down"}, status_code=500)
            return Response(status_code=204 if self.bound.pop(binding_id, None) else 404)

        return app

    async def _answer(self, body: dict[str, Any]) -> Response:
        now = datetime.now(UTC)
        if self.mode == "slow":
            await asyncio.sleep(2)
        if self.mode == "exhausted":
            return JSONResponse({"code": "pool_exhausted", "message": "no number free"}, status_code=409,
                                headers={"Retry-After": "37"})
        if self.mode == "broken":
            return JSONResponse({"message": "database down"}, status_code=500)
        if self.mode == "unauthorised":
            return JSONResponse({"message": f"account may not call {body['customer_number']}"}, status_code=401)
        if self.mode == "nonsense":
            return JSONResponse({"id": "x"}, status_code=200)
        ends = now - timedelta(seconds=1) if self.mode == "expired" else now + timedelta(seconds=body["ttl_seconds"])
        binding = {"binding_id": f"b-{len(self.requests)}", "middle_number": "+8617199990000",
                   "expires_at": ends.isoformat()}
        self.bound[binding["binding_id"]] = body
        return JSONResponse(binding, status_code=201)


@asynccontextmanager
async def provider_server(provider: FakeProvider) -> AsyncIterator[str]:
    """The provider served on a free port; its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(provider.app(), host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off", timeout_graceful_shutdown=1))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/privacy"
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def privacy_harness(settings: AllocatorSettings, *, numbers: list[str], http_url: str | None = None,
                          timeout: float = 3.0) -> AsyncIterator[Harness]:
    """The allocator with the simulated provider's `numbers` and (with `http_url`) the HTTP provider."""
    app = create_app(settings.model_copy(update={
        "privacy_simulated_numbers": ",".join(numbers), "privacy_http_url": http_url,
        "privacy_http_token": None if http_url is None else SecretStr(TOKEN),
        "privacy_http_timeout_seconds": timeout}))
    await app.state.store.ensure_indexes()
    await app.state.simulated_numbers.ensure_indexes()
    await app.state.leads.dial_bindings.ensure_indexes()
    try:
        async with in_memory_harness(app, Harness, base_url="http://allocator", produced=PRODUCED_TOPICS,
                                     relays=[app.state.lead_relay, app.state.outbox_relay], leads=app.state.leads,
                                     roster=app.state.roster, store=app.state.store) as harness:
            harness.app = app  # type: ignore[attr-defined]
            yield harness
    finally:
        await app.state.leads.privacy.close()
        await app.state.leads.guard.client.aclose()
        await app.state.store.client.close()


async def use_provider(harness: Harness, provider: str, *, masked_only: bool = False, seconds: int = 300) -> None:
    await put(harness, "/v1/config/policy", {"number_privacy": provider, "masked_dialing_only": masked_only,
                                             "privacy_binding_seconds": seconds})


async def holding(harness: Harness, agent_id: str, count: int = 1) -> list[str]:
    """`count` fresh leads the agent claimed (the agent on the roster first, once)."""
    if agent_id not in harness.roster_roles:
        await harness.agent(agent_id)
    ids = await harness.pooled(count)
    claimed = await harness.claim(agent_id, "fresh", count)
    assert claimed.status_code == 200 and claimed.json()["claimed"] == count, claimed.text
    return ids


async def dial(harness: Harness, lead_id: str, actor: str, **body: Any) -> Any:
    return await harness.http.post(f"/v1/leads/{lead_id}/dial", json=body, headers=harness.as_actor(actor))
