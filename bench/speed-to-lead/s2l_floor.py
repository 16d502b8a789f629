"""The floor of a speed-to-lead run, set up as its outside systems and operators would: teams, the push
on arrival (routing rules `on_arrival`) and the policy over the allocator's HTTP API (an operator's
token), the roster from the HR system (agents.changed.v1) and the agents at work from the dialer
(agents.status-changed.v1); and the leads an outside system publishes on leads.received.v1.

Team k (agents `team_size * k` ...) works business line `line-<k>`: its routing rule sends that line's
leads to pool `push-<k>`, which pushes each arriving lead to an agent of team k by the strategy."""

from __future__ import annotations

import asyncio
import random
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from telesales_contracts.topics import AGENTS_CHANGED, AGENTS_STATUS_CHANGED, LEADS_RECEIVED
from telesales_runtime.auth import mint_token
from telesales_testkit.bench import BenchError, note
from telesales_testkit.sse_load import agent_id

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/: what the end-to-end benches share
from bench_leads import HEADERS, Lead, envelope, mobile_numbers  # noqa: E402

SOURCE_SYSTEM = "bench-web-forms"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红建文辉力鹏宇浩"
PRODUCTS = ("MBA", "在职研究生", "雅思培训", "重疾险", "百万医疗险", "基金定投", "新房", "新车试驾", "CRM系统")
CHANNELS = ("百度SEM", "抖音", "微信", "官网表单", "58同城", "小红书", "400热线")
REGIONS = ("广东深圳", "北京朝阳", "上海浦东", "浙江杭州", "江苏南京", "四川成都", "湖北武汉")


def team_of(agent_index: int, team_size: int) -> int:
    return agent_index // team_size


def teams_for(agents: int, team_size: int) -> int:
    return -(-agents // team_size)


def team_id(k: int) -> str:
    return f"team-{k:03d}"


def line_of(k: int) -> str:
    return f"line-{k:03d}"


def routing_rules(teams: int, strategy: str) -> list[dict[str, Any]]:
    """One rule per team: its line's leads to its pool, pushed on arrival to its agents."""
    return [{"pool_id": f"push-{k:03d}", "business_line": line_of(k),
             "on_arrival": {"team_id": team_id(k), "strategy": strategy}} for k in range(teams)]


# ------------------------------------------------------------------------------- leads
class LeadMaker:
    """The leads of a run: each a new person (a distinct number, nothing to merge), on a random team's line."""

    def __init__(self, tenant: str, teams: int, seed: int) -> None:
        self.tenant, self.teams = tenant, teams
        self.rng = random.Random(seed)
        self.numbers = mobile_numbers(seed)
        self.made = 0

    def make(self, count: int) -> list[Lead]:
        return [self.one() for _ in range(count)]

    def one(self) -> Lead:
        rng = self.rng
        self.made += 1
        reference = f"s2l-{self.made:07d}"
        e164 = next(self.numbers)
        national = e164[3:]
        data: dict[str, Any] = {
            "name": rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN),
            "phone": rng.choice((national, f"{national[:3]} {national[3:7]} {national[7:]}", f"+86{national}")),
            "channel": rng.choice(CHANNELS), "business_line": line_of(rng.randrange(self.teams)),
            "product_interest": rng.choice(PRODUCTS), "region": rng.choice(REGIONS),
            "source_system": SOURCE_SYSTEM, "external_id": reference,
            "attributes": {"campaign": "speed-to-lead", "utm_source": rng.choice(("baidu", "douyin", "wechat"))},
        }
        if rng.random() < 0.5:
            data["email"] = f"user{self.made}.{rng.randrange(10_000)}@example.com"
        if rng.random() < 0.6:
            data["behaviour"] = {"logins_7d": rng.randrange(8), "page_view_seconds": rng.randrange(900),
                                 "unpaid_order": rng.random() < 0.1}
        event_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        return Lead(event_id, reference.encode(),
                    envelope(LEADS_RECEIVED.name, self.tenant, data, event_id=event_id, source="/web/form/contact"))


# ------------------------------------------------------------------------------- the floor
class Floor:
    """Sets the floor up through the allocator's API (operator) and the roster and dialer topics."""

    def __init__(self, http: httpx.AsyncClient, producer: AIOKafkaProducer, tenant: str, agents: int,
                 team_size: int) -> None:
        self.http, self.producer, self.tenant = http, producer, tenant
        self.agents, self.team_size = agents, team_size
        self.teams = teams_for(agents, team_size)
        token = mint_token("bench-operator", "operator", tenant=tenant, ttl_seconds=7200)
        self.headers = {"Authorization": f"Bearer {token}"}

    async def put(self, path: str, body: Any) -> Any:
        answer = await self.http.put(path, json=body, headers=self.headers)
        if answer.status_code != 200:
            raise BenchError(f"PUT {path}: {answer.status_code} {answer.text[:300]}")
        return answer.json()

    async def configure(self, strategy: str, holding_cap: int | None = None) -> None:
        for k in range(self.teams):
            await self.put(f"/v1/teams/{team_id(k)}", {"name": f"Team {k}", "business_line": line_of(k)})
        await self.put("/v1/config/routing", routing_rules(self.teams, strategy))
        if holding_cap is not None:
            await self.set_holding_cap(holding_cap)

    async def set_holding_cap(self, cap: int) -> None:
        current = await self.http.get("/v1/config/policy", headers=self.headers)
        policy = current.json()["value"]
        if policy.get("holding_cap", 0) < cap:
            await self.put("/v1/config/policy", {**policy, "holding_cap": cap})
            note(f"holding cap of the tenant set to {cap} (every agent stays under it)")

    async def roster(self) -> None:
        """The HR system's records, then (once the allocator has them all) every agent logs in."""
        for i in range(self.agents):
            k = team_of(i, self.team_size)
            agent = agent_id(i)
            await self.producer.send(AGENTS_CHANGED.name, envelope(AGENTS_CHANGED.name, self.tenant, {
                "agent_id": agent, "name": f"坐席{i}", "role": "agent", "team_id": team_id(k),
                "business_line": line_of(k), "active": True}, source="/hr"), key=agent.encode(), headers=HEADERS)
        await self.producer.flush()
        await self.wait_agents(lambda a: True, "on the roster")
        for i in range(self.agents):
            agent = agent_id(i)
            await self.producer.send(AGENTS_STATUS_CHANGED.name, envelope(AGENTS_STATUS_CHANGED.name, self.tenant, {
                "agent_id": agent, "status": "logged_in", "at": datetime.now(UTC).isoformat()}, source="/dialer"),
                key=agent.encode(), headers=HEADERS)
        await self.producer.flush()
        await self.wait_agents(lambda a: a.get("status") == "logged_in", "logged in")

    async def wait_agents(self, condition: Any, what: str, timeout: float = 300.0) -> None:
        deadline = time.monotonic() + timeout
        count = 0
        while time.monotonic() < deadline:
            count = sum(1 for a in await self.list_agents() if condition(a))
            if count >= self.agents:
                return
            await asyncio.sleep(1.0)
        raise BenchError(f"only {count} of {self.agents} agents {what} after {timeout:.0f} s")

    async def list_agents(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
            answer = await self.http.get("/v1/agents", params=params, headers=self.headers)
            if answer.status_code != 200:
                raise BenchError(f"GET /v1/agents: {answer.status_code} {answer.text[:300]}")
            page = answer.json()
            found += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return found
