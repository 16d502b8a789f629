"""Redis adapters of claiming: a per-agent lock, so that one agent's claims and the pushes to that agent
run one at a time (the holding cap is counted, then filled, with nobody else filling it meanwhile), and
the refresh-quota counters.

Redis must persist (AOF) in production: losing it only forgets this period's quota counts; the holding
cap and which agent holds which lead live in MongoDB."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

import redis.asyncio as redis

from .batching import Batcher
from .domain import DomainError

# Take the locks KEYS in their order until one is held elsewhere (SET NX PX ARGV[2]); how many were taken.
# A push locks a whole team (or several) at once: one round trip instead of one per agent.
_TAKE_IN_ORDER = """
for i, key in ipairs(KEYS) do
  if not redis.call('set', key, ARGV[1], 'NX', 'PX', ARGV[2]) then return i - 1 end
end
return #KEYS
"""
# Release every lock of KEYS still holding the token ARGV[1], in one round trip.
_RELEASE_ALL = """
local released = 0
for _, key in ipairs(KEYS) do
  if redis.call('get', key) == ARGV[1] then released = released + redis.call('del', key) end
end
return released
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


@dataclass(frozen=True)
class _LockTry:
    """One attempt at an agent's lock, with the value of `read` read in the same round trip."""

    lock: str
    token: str
    read: str


@dataclass(frozen=True)
class _CountAndRelease:
    lock: str
    quota: str
    token: str
    taken: int
    expire_at: int


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
        self._take_in_order = client.register_script(_TAKE_IN_ORDER)
        self._release_all = client.register_script(_RELEASE_ALL)
        self._count_and_release = client.register_script(_COUNT_AND_RELEASE)
        # Claims arriving together take their locks, and count and release them, in one pipeline each.
        self._lock_tries: Batcher[None, _LockTry, tuple[bool, bytes | None]] = Batcher(
            self._try_locks, orphaned=self._release_orphan)
        self._releases: Batcher[None, _CountAndRelease, int] = Batcher(self._counts_and_releases)

    @staticmethod
    def _lock_key(tenant: str, agent_id: str) -> str:
        return f"allocator:lock:{tenant}:{agent_id}"

    @staticmethod
    def _quota_key(tenant: str, agent_id: str, period: str) -> str:
        return f"allocator:quota:{tenant}:{agent_id}:{period}"

    @asynccontextmanager
    async def agents_locked(self, tenant: str, agent_ids: Sequence[str]) -> AsyncIterator[None]:
        """Hold the locks of these agents, taken in sorted order (so two pushes cannot deadlock): as many as
        are free in one round trip, waiting only at one held elsewhere; all released in one round trip."""
        token = uuid.uuid4().hex
        wanted = [(self._lock_key(tenant, a), a) for a in sorted(set(agent_ids))]
        taken: list[str] = []
        try:
            while len(taken) < len(wanted):
                rest = wanted[len(taken):]
                count = int(await self._take_in_order(keys=[key for key, _ in rest], args=[token, self.lock_ms]))
                taken += [key for key, _ in rest[:count]]
                if count < len(rest):  # held elsewhere: wait for it (as a lone lock does), then go on in order
                    key, agent_id = rest[count]
                    await self._acquire(key, token, agent_id)
                    taken.append(key)
            yield
        finally:
            if taken:
                await self._release_all(keys=taken, args=[token])

    @asynccontextmanager
    async def claiming(self, tenant: str, agent_id: str, period: str, period_end: datetime
                       ) -> AsyncIterator[ClaimTicket]:
        """An agent's claim: its lock held and its quota count read (one round trip), then the leads taken
        counted and the lock released (one more). Set `ticket.taken` before leaving. Concurrent claims
        share these round trips (one pipeline for all the claims that arrive together)."""
        token = uuid.uuid4().hex
        lock, quota = self._lock_key(tenant, agent_id), self._quota_key(tenant, agent_id, period)
        used = await self._acquire_batched(_LockTry(lock, token, quota), agent_id)
        ticket = ClaimTicket(used=int(used or 0))
        try:
            yield ticket
        finally:
            await self._releases(None, _CountAndRelease(lock, quota, token, ticket.taken,
                                                        int(period_end.timestamp()) + 86_400))

    async def _acquire_batched(self, attempt: _LockTry, agent_id: str) -> bytes | None:
        """Take the lock (waiting up to `wait_seconds`), each attempt sent with the others of the moment;
        the value of `attempt.read` as read by the winning attempt."""
        return await self._until_won(lambda: self._lock_tries(None, attempt), agent_id)

    async def _try_locks(self, _: None, attempts: list[_LockTry]) -> list[tuple[bool, bytes | None]]:
        async with self.client.pipeline(transaction=False) as pipe:
            for attempt in attempts:
                pipe.set(attempt.lock, attempt.token, nx=True, px=self.lock_ms)
                pipe.get(attempt.read)
            replies = await pipe.execute()
        return [(bool(replies[i]), replies[i + 1]) for i in range(0, len(replies), 2)]

    async def _release_orphan(self, _: None, attempt: _LockTry, result: tuple[bool, bytes | None]) -> None:
        if result[0]:  # the claim that wanted this lock has gone: let the agent's next claim have it
            await self._release_all(keys=[attempt.lock], args=[attempt.token])

    async def _counts_and_releases(self, _: None, releases: list[_CountAndRelease]) -> list[int]:
        async with self.client.pipeline(transaction=False) as pipe:
            for each in releases:
                await self._count_and_release(keys=[each.lock, each.quota], args=[each.token, each.taken, each.expire_at],
                                              client=pipe)
            return [int(reply) for reply in await pipe.execute()]

    async def _acquire(self, key: str, token: str, agent_id: str) -> None:
        """Take the lock (waiting up to `wait_seconds`)."""
        async def attempt() -> tuple[bool, None]:
            return bool(await self.client.set(key, token, nx=True, px=self.lock_ms)), None
        await self._until_won(attempt, agent_id)

    async def _until_won(self, attempt: Callable[[], Awaitable[tuple[bool, bytes | None]]],
                         agent_id: str) -> bytes | None:
        """Repeat `attempt` with a growing pause until it wins (its value) or `wait_seconds` have passed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait_seconds
        delay = 0.002
        while True:
            won, value = await attempt()
            if won:
                return value
            if loop.time() >= deadline:
                raise DomainError("agent_busy", f"another claim or push for agent {agent_id} is in progress; retry")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)

    async def ping(self) -> None:
        await self.client.ping()
