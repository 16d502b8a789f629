"""Test helpers of the services: events as another system publishes them, a service under test on
FastStream's in-memory broker with an HTTP client (its handlers and API against the real database), and
waiting for a condition."""

from __future__ import annotations

import asyncio
import json
import time as clock
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import httpx
from fastapi import FastAPI
from faststream.kafka import KafkaBroker, TestKafkaBroker

from telesales_contracts import BY_NAME, CLOUDEVENTS_CONTENT_TYPE, Topic
from telesales_runtime.kafka import raw_decoder
from telesales_runtime.outbox import OutboxRelay
from telesales_testkit.auth import auth_headers

Events = dict[str, list[dict[str, Any]]]
H = TypeVar("H", bound="ServiceHarness")


def cloudevent(topic: str, tenant: str, data: dict[str, Any], *, event_id: str, time: str, source: str = "/tests",
               event_type: str | None = None) -> bytes:
    """A CloudEvent on `topic` (structured JSON), as another system publishes it."""
    return json.dumps({"specversion": "1.0", "id": event_id, "source": source,
                       "type": event_type or f"telesales.{topic}", "time": time,
                       "datacontenttype": "application/json", "tenantid": tenant, "data": data}).encode()


@dataclass(kw_only=True)
class ServiceHarness:
    """A service under test: its in-memory broker, an HTTP client working in a tenant of its own, the
    events it published (by topic) and its outbox relays (they do not run in the background here)."""

    broker: KafkaBroker
    http: httpx.AsyncClient
    tenant: str
    relays: list[OutboxRelay]
    events: Events = field(default_factory=lambda: defaultdict(list))
    event_time: ClassVar[str] = "2026-11-24T09:30:00+08:00"

    async def send(self, topic: str, data: dict[str, Any], *, event_id: str | None = None, time: str | None = None,
                   key: bytes | None = None, tenant: str | None = None, event_type: str | None = None) -> str:
        """Publish an event as an outside system (or another service) would; its id."""
        event_id = event_id or str(uuid.uuid4())
        body = cloudevent(topic, tenant or self.tenant, data, event_id=event_id, time=time or self.event_time,
                          event_type=event_type)
        await self.broker.publish(body, topic=topic, key=key, headers={"content-type": CLOUDEVENTS_CONTENT_TYPE})
        return event_id

    async def relay(self) -> None:
        """Publish what the outboxes hold (the background relays do not run in handler tests)."""
        for relay in self.relays:
            while await relay.relay_once():
                pass

    def as_(self, role: str | Iterable[str], sub: str, *, team: str | None = None) -> dict[str, str]:
        """Headers of a request made as `sub` with `role` in this harness's tenant (the client's default:
        an admin token of the tenant)."""
        return auth_headers(role, sub, tenant=self.tenant, team=team)

    def of(self, topic: str) -> list[dict[str, Any]]:
        """The events published on `topic` in this harness's tenant."""
        return [e for e in self.events[topic] if e.get("tenantid") == self.tenant]


def collect_events(broker: KafkaBroker, topics: Iterable[Topic]) -> Events:
    """Everything published on `topics` through `broker` (before it starts), by topic; each event must
    satisfy its contract."""
    events: Events = defaultdict(list)
    for topic in topics:
        def collector(name: str = topic.name) -> Callable[[bytes], Awaitable[None]]:
            async def collect(body: bytes) -> None:
                BY_NAME[name].parse(body)  # every emitted event must satisfy its contract
                events[name].append(json.loads(body))
            return collect
        broker.subscriber(topic.name, group_id="test-collector", decoder=raw_decoder)(collector())
    return events


@asynccontextmanager
async def in_memory_harness(app: FastAPI, make: Callable[..., H], *, base_url: str, produced: Iterable[Topic],
                            relays: list[OutboxRelay], **parts: Any) -> AsyncIterator[H]:
    """`make(...)` (a ServiceHarness with the service's `parts`) around `app` on the in-memory broker, in a
    new tenant. At the end the outboxes are relayed and the relays stopped (handing their leases over to
    the next test's relays)."""
    broker: KafkaBroker = app.state.broker
    events = collect_events(broker, produced)
    async with TestKafkaBroker(broker):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url) as http:
            harness = make(broker=broker, http=http, tenant=f"t-{uuid.uuid4().hex[:12]}", relays=relays,
                           events=events, **parts)
            http.headers.update(auth_headers("admin", "test-admin", tenant=harness.tenant))
            yield harness
            await harness.relay()
            for relay in relays:
                await relay.stop()


async def wait_until(check: Callable[[], Awaitable[Any]], timeout: float = 30.0, *, what: str = "condition") -> Any:
    """The first true result of `check`, polled until `timeout` seconds have passed; `what` names the
    condition in the failure."""
    deadline = clock.monotonic() + timeout
    while clock.monotonic() < deadline:
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.2)
    raise AssertionError(f"{what} not met in time")
