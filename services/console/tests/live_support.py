"""Helpers of the live channel's tests (importable: the tests folder is on pytest's pythonpath): the
console's own application (console.main.create_app) run by a real uvicorn server as one replica, events
published to the real broker as the other services publish them, and an SSE client."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI

from console.live import LiveHub
from console.main import create_app
from console.notifications_api import HUB_STATE
from console.settings import ConsoleSettings
from console.store import NotificationStore
from telesales_contracts import CLOUDEVENTS_CONTENT_TYPE
from telesales_testkit.auth import auth_headers
from telesales_testkit.harness import cloudevent
from telesales_testkit.infra import free_port


@dataclass
class Replica:
    """A console process's live channel on a real uvicorn server in this process."""

    app: FastAPI
    server: uvicorn.Server
    task: asyncio.Task[None]
    base_url: str

    @property
    def hub(self) -> LiveHub:
        return getattr(self.app.state, HUB_STATE)

    @property
    def store(self) -> NotificationStore:
        return self.app.state.notification_store

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, timeout=httpx.Timeout(10, read=30))


@asynccontextmanager
async def replica(settings: ConsoleSettings) -> AsyncIterator[Replica]:
    app = create_app(settings)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 60
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("the console server stopped while starting")
        assert time.monotonic() < deadline, "the console server did not start in 60 s"
        await asyncio.sleep(0.05)
    running = Replica(app, server, task, f"http://127.0.0.1:{port}")
    await asyncio.wait_for(running.hub.subscribed.wait(), 10)
    try:
        yield running
    finally:
        running.hub.close_streams()  # as the exit-signal hook does: uvicorn waits for open responses
        server.should_exit = True
        await asyncio.wait_for(task, 60)


class Publisher:
    """Publishes events on the real broker as the allocator, marketplace and ledger do."""

    def __init__(self, bootstrap: str) -> None:
        self.producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)

    async def __aenter__(self) -> Publisher:
        await self.producer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.producer.stop()

    async def send(self, topic: str, tenant: str, data: dict[str, Any], *, event_id: str | None = None,
                   key: str | None = None) -> str:
        event_id = event_id or str(uuid.uuid4())
        body = cloudevent(topic, tenant, data, event_id=event_id, time="2026-11-24T09:30:00+08:00",
                          source="/tests")
        await self.producer.send_and_wait(topic, body, key=(key or event_id).encode(),
                                          headers=[("content-type", CLOUDEVENTS_CONTENT_TYPE.encode())])
        return event_id

    async def send_binary(self, topic: str, tenant: str, data: dict[str, Any], *, event_id: str) -> str:
        """Binary content mode: the value is the data, the attributes are ce_ headers."""
        headers = [("ce_specversion", b"1.0"), ("ce_id", event_id.encode()), ("ce_source", b"/tests"),
                   ("ce_type", f"telesales.{topic}".encode()), ("ce_tenantid", tenant.encode()),
                   ("ce_time", b"2026-11-24T09:30:00+08:00"), ("content-type", b"application/json")]
        await self.producer.send_and_wait(topic, json.dumps(data).encode(), key=event_id.encode(), headers=headers)
        return event_id

    async def send_raw(self, topic: str, value: bytes) -> None:
        await self.producer.send_and_wait(topic, value)


@dataclass
class Received:
    seq: int
    data: dict[str, Any]
    at: float


@dataclass
class SseClient:
    """An EventSource-like reader of /v1/notifications/stream: the events it got, with their arrival time."""

    http: httpx.AsyncClient
    headers: dict[str, str]
    params: dict[str, str] = field(default_factory=dict)
    events: list[Received] = field(default_factory=list)
    comments: int = 0
    retry: int | None = None
    response_headers: httpx.Headers | None = None
    opened: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    async def _read(self) -> None:
        async with self.http.stream("GET", "/v1/notifications/stream", headers=self.headers,
                                    params=self.params) as response:
            assert response.status_code == 200, (response.status_code, await response.aread())
            self.response_headers = response.headers
            fields: dict[str, str] = {}
            async for line in response.aiter_lines():
                if line == "":
                    if "data" in fields:
                        self.events.append(Received(int(fields["id"]), json.loads(fields["data"]), time.monotonic()))
                    fields = {}
                elif line.startswith(":"):
                    self.comments += 1
                else:
                    name, _, value = line.partition(":")
                    fields[name] = value.removeprefix(" ")
                    if name == "retry":
                        self.retry = int(fields.pop("retry"))
                        self.opened.set()

    async def open(self) -> SseClient:
        self.task = asyncio.create_task(self._read())
        opened = asyncio.create_task(self.opened.wait())
        await asyncio.wait([opened, self.task], timeout=10, return_when=asyncio.FIRST_COMPLETED)
        if self.task.done():
            self.task.result()
        assert self.opened.is_set(), "the stream did not open in 10 s"
        await asyncio.sleep(0.2)  # the stream reads the user's last seq right after the retry hint
        return self

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.events) < count:
            if self.task is not None and self.task.done():
                self.task.result()
                raise AssertionError(f"the stream ended after {len(self.events)} of {count} events")
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.events)} of {count} events in {timeout} s: {self.events}")
            await asyncio.sleep(0.02)
        return self.events

    @property
    def seqs(self) -> list[int]:
        return [e.seq for e in self.events]


def agent(sub: str, tenant: str) -> dict[str, str]:
    return auth_headers("agent", sub, tenant=tenant)


def new_tenant() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


# ---- event data, as the producing services write it ------------------------------------------------------

AT = "2026-11-24T09:30:00+08:00"


def hot_lead(agent_id: str, lead_id: str = "L-1", **change: Any) -> dict[str, Any]:
    return {"lead_id": lead_id, "agent_id": agent_id, "routed": "holder", "kind": "unpaid_order",
            "detail": "车险订单未支付", "occurred_at": AT, "signal_event_id": str(uuid.uuid4())} | change


def coins_allocated(user_id: str, amount: int = 100, **change: Any) -> dict[str, Any]:
    return {"allocation_id": str(uuid.uuid4()), "transfer_id": str(uuid.uuid4()), "user_id": user_id,
            "amount": amount, "selection": "users", "allocated_by": "op-1", "allocated_at": AT} | change
