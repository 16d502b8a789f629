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
from dataclasses import dataclass
from datetime import datetime

import redis.asyncio as redis

from .domain import DomainError

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end
"""
# Count a claim's leads against the quota and release the agent's lock, in one round trip. The count is
# added even when the lock has expired meanwhile: the leads were taken.
_COUNT_AND_RELEASE = """
if tonumber(ARGV[2]) > 0 then
  redis.call('incrby', KEYS[2], ARGV[2])
  redis.call('expireat', KEYS[2], ARGV[3])
end
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end
"""


@dataclass
class ClaimTicket:
    """An agent's claim in progress: leads already claimed this period, and how many this claim took."""

    used: int
    taken: int = 0


class ClaimGuard:
    def __init__(self, client: redis.Redis, *, lock_seconds: float, wait_seconds: float = 2.0) -> None:
        self.client = client
        self.lock_ms = int(lock_seconds * 1000)
        self.wait_seconds = wait_seconds
        self._release = client.register_script(_RELEASE)
        self._count_and_release = client.register_script(_COUNT_AND_RELEASE)

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

    @asynccontextmanager
    async def claiming(self, tenant: str, agent_id: str, period: str, period_end: datetime
                       ) -> AsyncIterator[ClaimTicket]:
        """An agent's claim: its lock held and its quota count read (one round trip), then the leads taken
        counted and the lock released (one more). Set `ticket.taken` before leaving."""
        token = uuid.uuid4().hex
        lock, quota = self._lock_key(tenant, agent_id), self._quota_key(tenant, agent_id, period)
        used = await self._acquire(lock, token, agent_id, read=quota)
        ticket = ClaimTicket(used=int(used or 0))
        try:
            yield ticket
        finally:
            await self._count_and_release(keys=[lock, quota],
                                          args=[token, ticket.taken, int(period_end.timestamp()) + 86_400])

    async def _acquire(self, key: str, token: str, agent_id: str, read: str | None = None) -> bytes | None:
        """Take the lock (waiting up to `wait_seconds`); with `read`, also the value of that key, read in
        the same round trip as the winning attempt."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait_seconds
        delay = 0.002
        while True:
            if read is None:
                replies = [await self.client.set(key, token, nx=True, px=self.lock_ms), None]
            else:
                async with self.client.pipeline(transaction=False) as pipe:
                    pipe.set(key, token, nx=True, px=self.lock_ms)
                    pipe.get(read)
                    replies = await pipe.execute()
            if replies[0]:
                return replies[1]
            if loop.time() >= deadline:
                raise DomainError("agent_busy", f"another claim or push for agent {agent_id} is in progress; retry")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)

    async def ping(self) -> None:
        await self.client.ping()
