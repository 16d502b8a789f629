"""What one consumer batch of leads.qualified.v1 costs in round trips, on the real MongoDB and Redis: a batch
storing and pushing its leads to several teams makes a fixed number of MongoDB commands and Redis round
trips, however many leads and teams it carries (speed to lead, issue 20: the allocator's batch waited on
several round trips per lead and per agent). Pinned here so it cannot silently grow back."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo import monitoring
from redis.asyncio.connection import AbstractConnection

from allocator.domain import DomainError
from allocator_support import Harness, put, qualified
from telesales_contracts.topics import LEADS_QUALIFIED
from telesales_runtime.cache import TtlCache
from telesales_runtime.consumer import Delivery
from telesales_testkit.harness import cloudevent

# A batch of any size reaching any number of teams stays within these. Before issue 20's work a batch of 40
# leads to 4 teams of 5 agents took 36 MongoDB commands and 40 Redis round trips: 10, then 6 per team, and a
# lock and its release per agent at work (at the bench's 40 teams of 50: about 250 and 4,000).
MONGO_COMMANDS_PER_BATCH = 15
REDIS_ROUND_TRIPS_PER_BATCH = 2


ENDS = frozenset({"commitTransaction", "abortTransaction"})  # sent to the admin database


@dataclass
class MongoCommands(monitoring.CommandListener):
    """The commands sent to one database while counting (registered once for the process: pymongo has no
    way to unregister a listener)."""

    database: str | None = None
    names: list[str] = field(default_factory=list)

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.database is not None and (event.database_name == self.database or event.command_name in ENDS):
            self.names.append(event.command_name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


MONGO = MongoCommands()
monitoring.register(MONGO)  # before any test's client exists: clients take the listeners registered then


@dataclass
class Counted:
    mongo: list[str] = field(default_factory=list)
    redis: int = 0


@contextmanager
def counting(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> Iterator[Counted]:
    counted = Counted()
    send = AbstractConnection.send_packed_command

    async def counted_send(self: AbstractConnection, command: Any, check_health: bool = True) -> None:
        counted.redis += 1  # one packed send is one round trip (a pipeline sends all its commands at once)
        await send(self, command, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counted_send)
    MONGO.database, MONGO.names = harness.store.db.name, counted.mongo
    try:
        yield counted
    finally:
        MONGO.database = None
        monkeypatch.setattr(AbstractConnection, "send_packed_command", send)


async def push_floor(harness: Harness, teams: int, agents_per_team: int) -> None:
    """Teams t0.. each with its push-on-arrival pool (leads of line-k land in push-k), agents at work."""
    rules = []
    for k in range(teams):
        await put(harness, f"/v1/teams/t{k}", {"name": f"team {k}", "business_line": f"line-{k}"})
        rules.append({"pool_id": f"push-{k}", "business_line": f"line-{k}",
                      "on_arrival": {"team_id": f"t{k}", "strategy": "round_robin"}})
        agents = [f"a{k}-{i}" for i in range(agents_per_team)]
        for agent_id in agents:
            await harness.agent(agent_id, team_id=f"t{k}", business_line=f"line-{k}")
        await harness.at_work(*agents)
    await put(harness, "/v1/config/routing", rules)


def batch(harness: Harness, leads: int, teams: int) -> list[Delivery]:
    return [Delivery(LEADS_QUALIFIED.parse(cloudevent(
        LEADS_QUALIFIED.name, harness.tenant, qualified(uuid.uuid4().hex[:24], business_line=f"line-{n % teams}"),
        event_id=str(uuid.uuid4()), time=datetime.now(UTC).isoformat())), None) for n in range(leads)]


async def pushed_batch(harness: Harness, monkeypatch: pytest.MonkeyPatch, leads: int, teams: int) -> Counted:
    deliveries = batch(harness, leads, teams)
    for read in (harness.leads.policy, harness.leads.routing, harness.leads.tiers):
        await read(harness.tenant)  # the configuration is cached in production: warm, as it is there
    with counting(harness, monkeypatch) as counted:
        await harness.leads.handle_qualified(deliveries)
    docs = await harness.store.get_leads(harness.tenant, [d.event.data.lead_id for d in deliveries])
    assert len(docs) == leads and {d["status"] for d in docs.values()} == {"held"}, "every lead was pushed"
    return counted


async def test_a_batch_costs_the_same_round_trips_however_many_leads_and_teams(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    harness.leads._config = TtlCache(600)  # the tests' settings cache nothing; production caches a minute
    await push_floor(harness, teams=4, agents_per_team=5)
    await pushed_batch(harness, monkeypatch, leads=1, teams=1)  # connections open, scripts loaded: as in service
    small = await pushed_batch(harness, monkeypatch, leads=4, teams=2)
    large = await pushed_batch(harness, monkeypatch, leads=40, teams=4)
    print(f"\nsmall: {len(small.mongo)} mongo {small.mongo} {small.redis} redis"
          f"\nlarge: {len(large.mongo)} mongo {large.mongo} {large.redis} redis")
    assert len(large.mongo) == len(small.mongo), (small.mongo, large.mongo)
    assert large.redis == small.redis
    assert len(large.mongo) <= MONGO_COMMANDS_PER_BATCH, large.mongo
    assert large.redis <= REDIS_ROUND_TRIPS_PER_BATCH


async def test_under_the_agents_locks_only_the_held_counts_and_the_writes(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """A claim by an agent of a team being pushed to waits for the push's locks: the rosters, leads, grades and
    bars are read and worked out before them, so the only read under them is the held counts."""
    harness.leads._config = TtlCache(600)
    await push_floor(harness, teams=2, agents_per_team=3)
    await pushed_batch(harness, monkeypatch, leads=1, teams=1)
    guard, under = harness.leads.guard, []
    locked = guard.agents_locked

    @asynccontextmanager
    async def watched(tenant: str, agent_ids: list[str]) -> AsyncIterator[None]:
        async with locked(tenant, agent_ids):
            outside, MONGO.names = MONGO.names, under
            try:
                yield
            finally:
                MONGO.names = outside

    monkeypatch.setattr(guard, "agents_locked", watched)
    counted = await pushed_batch(harness, monkeypatch, leads=6, teams=2)
    print(f"\nunder the locks: {under}; before and after them: {counted.mongo}")
    reads = [name for name in under if name in {"find", "aggregate", "count", "distinct", "getMore"}]
    assert reads == ["aggregate"], under  # the held counts, nothing else
    assert "find" not in under and len(under) < len(counted.mongo)


# ---- what the batched push keeps --------------------------------------------------------------------------------


async def test_one_agent_busy_elsewhere_leaves_only_its_teams_leads_pooled(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    await push_floor(harness, teams=2, agents_per_team=1)
    guard = harness.leads.guard
    monkeypatch.setattr(guard, "wait_seconds", 0.2)
    busy = guard._lock_key(harness.tenant, "a0-0")
    await guard.client.set(busy, "a claim elsewhere", px=30_000)  # a0-0's claim in progress, the whole batch long
    deliveries = batch(harness, leads=4, teams=2)
    await harness.leads.handle_qualified(deliveries)
    docs = await harness.store.get_leads(harness.tenant, [d.event.data.lead_id for d in deliveries])
    by_line = {(d["business_line"], d["status"], d.get("holder"), (d.get("push_missed") or {}).get("reason"))
               for d in docs.values()}
    assert by_line == {("line-0", "pooled", None, "agent_busy"), ("line-1", "held", "a1-0", None)}
    assert await guard.client.get(busy) == b"a claim elsewhere"  # not ours: left as it was
    assert await guard.client.exists(guard._lock_key(harness.tenant, "a1-0")) == 0  # ours: released
    await guard.client.delete(busy)


async def test_two_pools_pushing_to_one_team_in_one_batch_keep_its_caps(harness: Harness) -> None:
    await put(harness, "/v1/teams/t0", {"name": "team 0", "business_line": "line-0"})
    await harness.agent("solo", team_id="t0", business_line="line-0")
    await harness.at_work("solo")
    await put(harness, "/v1/config/policy", {"holding_cap": 2})
    await put(harness, "/v1/config/routing", [
        {"pool_id": "push-rr", "business_line": "line-0", "min_score": 50, "priority": 1,
         "on_arrival": {"team_id": "t0", "strategy": "round_robin"}},
        {"pool_id": "push-even", "business_line": "line-0",
         "on_arrival": {"team_id": "t0", "strategy": "even_by_open"}}])
    deliveries = [Delivery(LEADS_QUALIFIED.parse(cloudevent(
        LEADS_QUALIFIED.name, harness.tenant, qualified(uuid.uuid4().hex[:24], business_line="line-0", score=score),
        event_id=str(uuid.uuid4()), time=datetime.now(UTC).isoformat())), None) for score in (80, 70, 20, 10)]
    await harness.leads.handle_qualified(deliveries)
    docs = list((await harness.store.get_leads(harness.tenant, [d.event.data.lead_id for d in deliveries])).values())
    assert {d["pool_id"] for d in docs} == {"push-rr", "push-even"}
    assert [d.get("holder") for d in docs].count("solo") == 2  # the cap, counted across both pools' pushes
    assert all(d.get("push_missed") for d in docs if d["status"] == "pooled")


async def test_a_team_locked_at_once_waits_for_a_lock_held_elsewhere_and_gives_back_what_it_took(
        harness: Harness) -> None:
    guard, tenant = harness.leads.guard, harness.tenant
    keys = {a: guard._lock_key(tenant, a) for a in ("x1", "x2", "x3")}
    await guard.client.set(keys["x2"], "elsewhere", px=150)  # freed by expiry while the push waits
    async with guard.agents_locked(tenant, ["x3", "x1", "x2", "x1"]):
        held = [await guard.client.get(k) for k in keys.values()]
        assert len(set(held)) == 1 and held[0] != b"elsewhere"  # all three, one token
    assert await guard.client.exists(*keys.values()) == 0
    await guard.client.set(keys["x3"], "elsewhere", px=10_000)
    guard.wait_seconds = 0.1
    with pytest.raises(DomainError) as busy:
        async with guard.agents_locked(tenant, ["x1", "x2", "x3"]):
            raise AssertionError("x3 is held elsewhere")
    assert busy.value.code == "agent_busy"
    assert await guard.client.exists(keys["x1"], keys["x2"]) == 0  # the prefix it took, given back
    assert await guard.client.get(keys["x3"]) == b"elsewhere"
    await guard.client.delete(keys["x3"])
