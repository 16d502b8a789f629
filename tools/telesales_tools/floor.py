"""A small sales floor to open the console on: one team of agents with grades, leads in the public pool,
tips for sale with media, and coins in the agents' wallets. `tsctl floor` runs it against the running
platform; the browser tests seed their own platform with it.

Everything goes through the platform's public interfaces, as an HR system, a web form and an operator
would: the roster and grades over the allocator's API, leads as CloudEvents on leads.received.v1, tips
written, uploaded and reviewed over the marketplace's API, coins issued and allocated over the ledger's.
Ids are derived from `run`, so seeding twice with the same run changes nothing.
"""

from __future__ import annotations

import asyncio
import io
import math
import struct
import time
import wave
from dataclasses import dataclass, field

from .platform import Api, PlatformError, Publisher
from .scenario import BUSINESS_LINE, CHECKLIST

OPERATOR = "floor-operator"
SOURCE = "/tools/floor"


@dataclass(frozen=True)
class Person:
    agent_id: str
    name: str
    grade: str


@dataclass(frozen=True)
class Floor:
    """What was seeded: who to sign in as, and what they will find."""

    run: str
    team_id: str
    supervisor_id: str
    agents: tuple[Person, ...]
    lead_ids: tuple[str, ...] = ()
    tip_ids: tuple[str, ...] = ()
    coins_per_agent: int = 0
    phones: dict[str, str] = field(default_factory=dict)  # lead id -> E.164 number


NAMES = ("张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "赵敏", "黄强")
GRADES = ("C", "A", "B", "D", "C", "B", "E", "A")
TIPS = (
    ("开场白：三句话留住在职研究生意向客户", "opening", "先确认对方时间，再点出在职读研的三个顾虑，最后约定回访时间。", 200),
    ("异议处理：学费太贵怎么回应", "objection_handling", "把学费拆成每月投入，对比学历提升后的薪资变化，给出分期方案。", 300),
    ("促成话术：限时优惠的正确用法", "closing", "只在客户已认可价值后提优惠，给出明确截止时间，不夸大承诺。", 500),
)


def wav_tone(seconds: float = 3.0, hz: float = 440.0, rate: int = 8000) -> bytes:
    """A short WAV tone: media every browser plays, made here rather than shipped as a binary."""
    frames = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * hz * i / rate)))
                      for i in range(int(seconds * rate)))
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return out.getvalue()


def plan(run: str, agents: int = 6) -> Floor:
    people = tuple(Person(f"{run}-agent-{i + 1}", NAMES[i % len(NAMES)], GRADES[i % len(GRADES)])
                   for i in range(agents))
    return Floor(run=run, team_id=f"{run}-team", supervisor_id=f"{run}-sup", agents=people)


def phone_of(run: str, index: int) -> str:
    """A mobile number that passes the intake's tests of real numbers (no runs or repeats of one digit)."""
    seed = sum(ord(c) for c in run) % 900 + 100
    return f"+86139{seed:03d}{(index * 7919 + 1357) % 100000:05d}"


async def seed_roster(allocator: Api, floor: Floor) -> None:
    await allocator.call("PUT", f"/v1/agents/{floor.supervisor_id}", role="operator", actor=OPERATOR,
                         json={"name": "周主管", "role": "supervisor", "team_id": floor.team_id,
                               "business_line": BUSINESS_LINE})
    await allocator.call("PUT", f"/v1/teams/{floor.team_id}", role="operator", actor=OPERATOR,
                         json={"name": "在职研究生一组", "business_line": BUSINESS_LINE,
                               "supervisor_id": floor.supervisor_id})
    for person in floor.agents:
        await allocator.call("PUT", f"/v1/agents/{person.agent_id}", role="operator", actor=OPERATOR,
                             json={"name": person.name, "role": "agent", "team_id": floor.team_id,
                                   "business_line": BUSINESS_LINE, "supervisor_id": floor.supervisor_id})
        await allocator.call("PATCH", f"/v1/agents/{person.agent_id}", role="operator", actor=OPERATOR,
                             json={"grade": person.grade})


async def seed_leads(publisher: Publisher, allocator: Api, floor: Floor, *, tenant: str, count: int,
                     timeout: float = 60.0) -> Floor:
    """`count` leads published as a landing page would; returns the floor with their ids once the allocator
    has them in the business line's public pool."""
    phones = {}
    for i in range(count):
        phone = phone_of(floor.run, i)
        await publisher.publish("leads.received.v1", {
            "name": NAMES[(i + 3) % len(NAMES)], "phone": phone, "channel": "百度SEM", "business_line": BUSINESS_LINE,
            "product_interest": "MBA", "region": "吉林长春", "notes": "晚上七点后方便接电话",
            "behaviour": {"logins_7d": 2 + i % 4, "page_view_seconds": 120 + 30 * i}},
            # keyed by the landing page's own reference of the lead, never by the number
            tenant=tenant, source=f"{SOURCE}/landing", key=f"{floor.run}-lead-{i}", event_id=f"{floor.run}-lead-{i}")
        phones[phone] = i
    masked = {f"{phone[:6]}****{phone[-4:]}": phone for phone in phones}
    deadline = time.monotonic() + timeout
    while True:
        page = await allocator.get(f"/v1/pools/{BUSINESS_LINE}/leads", role="admin", actor=OPERATOR,
                                   params={"limit": 500})
        # a pool shows numbers masked (+86139****1357): the seeded ones are told apart by what is left
        found = {masked[item["phone"]]: item["lead_id"] for item in page["items"] if item.get("phone") in masked}
        if len(found) >= count:
            return Floor(**{**floor.__dict__, "lead_ids": tuple(found.values()),
                            "phones": {lead: phone for phone, lead in found.items()}})
        if time.monotonic() > deadline:
            raise PlatformError(f"{len(found)} of {count} seeded leads reached the public pool within {timeout:.0f}s: "
                                "are lead-intake and the allocator consuming?")
        await asyncio.sleep(0.3)


async def seed_tips(marketplace: Api, floor: Floor) -> Floor:
    """The floor's best agent writes the tips, each with a recording; an operator approves them."""
    author = min(floor.agents, key=lambda p: p.grade).agent_id
    media = wav_tone()
    ids = []
    for i, (title, stage, body, price) in enumerate(TIPS):
        tip_id = f"{floor.run}-tip-{i + 1}"
        existing = await marketplace.get(f"/v1/tips/{tip_id}", ok=(404,), actor=author)
        if existing is None:
            await marketplace.post("/v1/tips", actor=author, json={
                "id": tip_id, "title": title, "summary": body[:40], "body": body, "stage": stage,
                "product_line": BUSINESS_LINE, "tags": ["在职研究生"], "price": price})
            await marketplace.call("PUT", f"/v1/tips/{tip_id}/versions/1/media", actor=author, content=media,
                                   params={"filename": "recording.wav"}, headers={"Content-Type": "audio/wav"})
            await marketplace.post(f"/v1/tips/{tip_id}/versions/1/submit", actor=author)
            await marketplace.post(f"/v1/tips/{tip_id}/versions/1/review", actor=OPERATOR, role="operator",
                                   json={"checks": dict.fromkeys(CHECKLIST, True)})
        ids.append(tip_id)
    return Floor(**{**floor.__dict__, "tip_ids": tuple(ids)})


async def seed_coins(ledger: Api, floor: Floor, *, coins: int) -> Floor:
    agents = [p.agent_id for p in floor.agents]
    await ledger.post("/v1/issues", json={"id": f"{floor.run}-budget", "amount": coins * len(agents) * 2},
                      actor=OPERATOR, role="operator", ok=(409,))
    await ledger.post("/v1/allocations", json={"id": f"{floor.run}-coins", "amount": coins, "user_ids": agents},
                      actor=OPERATOR, role="operator", ok=(409,))
    return Floor(**{**floor.__dict__, "coins_per_agent": coins})


async def seed_floor(apis: dict[str, Api], publisher: Publisher, *, tenant: str, run: str, agents: int = 6,
                     leads: int = 12, coins: int = 2000) -> Floor:
    floor = plan(run, agents)
    await seed_roster(apis["allocator"], floor)
    floor = await seed_leads(publisher, apis["allocator"], floor, tenant=tenant, count=leads)
    floor = await seed_tips(apis["marketplace"], floor)
    return await seed_coins(apis["ledger"], floor, coins=coins)
