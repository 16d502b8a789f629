"""Redis adapters of claiming: a per-agent lock, so that one agent's claims and the pushes to that agent
run one at a time (the holding cap is counted, then filled, with nobody else filling it meanwhile), and
the refresh-quota counters.

Redis must persist (AOF) in production: losing it only forgets this period's quota counts; the holding
cap and which agent holds which lead live in MongoDB."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

import redis.asyncio as redis

from .domain import DomainError

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end
"""


class ClaimGuard:
    def __init__(self, client: redis.Redis, *, lock_seconds: float, wait_seconds: float = 2.0) -> None:
        self.client = client
        self.lock_ms = int(lock_seconds * 1000)
        self.wait_seconds = wait_seconds
        self._release = client.register_script(_RELEASE)

    @staticmethod
    def _lock_key(tenant: str, agent_id: str) -> str:
        return f"allocator:lock:{tenant}:{agent_id}"

    @staticmethod
    def _quota_key(tenant: str, agent_id: str, period: str) -> str:
        return f"allocator:quota:{tenant}:{agent_id}:{period}"

    @asynccontextmanager
    async def agents_locked(self, tenant: str, agent_ids: Sequence[str]) -> AsyncIterator[None]:
        """Hold the locks of these agents (taken in sorted order, so two pushes cannot deadlock)."""
        token = uuid.uuid4().hex
        taken: list[str] = []
        try:
            for agent_id in sorted(set(agent_ids)):
                key = self._lock_key(tenant, agent_id)
                await self._acquire(key, token, agent_id)
                taken.append(key)
            yield
        finally:
            for key in reversed(taken):
                await self._release(keys=[key], args=[token])

    async def _acquire(self, key: str, token: str, agent_id: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait_seconds
        delay = 0.002
        while not await self.client.set(key, token, nx=True, px=self.lock_ms):
            if loop.time() >= deadline:
                raise DomainError("agent_busy", f"another claim or push for agent {agent_id} is in progress; retry")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)

    async def claimed_in_period(self, tenant: str, agent_id: str, period: str) -> int:
        value = await self.client.get(self._quota_key(tenant, agent_id, period))
        return int(value or 0)

    async def add_claimed(self, tenant: str, agent_id: str, period: str, count: int, period_end: datetime) -> None:
        if count <= 0:
            return
        key = self._quota_key(tenant, agent_id, period)
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.incrby(key, count)
            pipe.expireat(key, int(period_end.timestamp()) + 86_400)
            await pipe.execute()

    async def ping(self) -> None:
        await self.client.ping()
