"""A call-center day against the running platform (`make demo`), through its public interfaces only.

The HR system publishes the roster (agents.changed.v1), supervisors grade agents and set the allocator's
policy, outside systems publish leads (leads.received.v1: with junk, repeats and redeliveries), agents
claim (捞取) by grade, the dialer logs their calls (calls.logged.v1) and their status, agents move
leads through the funnel, win, close or return them, the supervisor runs the reclaim sweep, top agents
write tips that a reviewer approves, operators allocate coins, agents buy, learn, rate and forward tips,
and sellers redeem. A simulated clock maps the shift (08:30-18:00, Asia/Shanghai) onto a few minutes;
the events carry the simulated times. At the end the figures are read back from the metrics service.

Each run works in a fresh tenant, so runs never mix. The plan comes from scenario.py and the seed.
"""

from __future__ import annotations

import asyncio
import time as wallclock
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from . import scenario as sc
from .platform import (
    Api,
    Endpoints,
    PlatformError,
    Publisher,
    check_running,
    check_tenant,
    close_apis,
    event_bytes,
    open_apis,
)
from .report import lead_steps, print_summary, read_funnels

SOURCE = {"hr": "/demo/hr", "web": "/demo/web", "dialer": "/demo/dialer"}
OPERATOR, REVIEWER = "ops-1", "reviewer-1"
SWEEP_EVERY = 4  # ticks between reclaim sweeps (20 simulated minutes)
REFRESH_EVERY = 12  # ticks between an agent's look at the leads it holds (an hour)
PROGRESS_SECONDS = 3.0


@dataclass
class Held:
    lead_id: str
    customer: sc.Customer | None
    neglected: bool  # the agent never gets round to it: the reclaim sweep takes it back
    step: int = -1  # index in sc.STEPS reached
    dials: int = 0
    connects: int = 0
    done: bool = False


@dataclass
class Desk:
    agent: sc.Agent
    held: dict[str, Held] = field(default_factory=dict)
    refreshed: int = 0

    def open_leads(self) -> list[Held]:
        return [h for h in self.held.values() if not h.done]


@dataclass
class Options:
    seed: int = 7
    agents: int = 200
    leads: int | None = None
    minutes: float = 2.5
    tenant: str | None = None
    tips: int = 12
    metrics_wait_seconds: float = 90.0


class Day:
    def __init__(self, plan: sc.Scenario, apis: dict[str, Api], publisher: Publisher, tenant: str, minutes: float,
                 console: Console) -> None:
        self.plan, self.apis, self.publisher, self.tenant, self.console = plan, apis, publisher, tenant, console
        self.clock = plan.clock
        self.tick_seconds = minutes * 60 / self.clock.ticks
        self.desks = {a.agent_id: Desk(a) for a in plan.agents}
        self.count: Counter[str] = Counter()
        self.pending: list[asyncio.Future[Any]] = []
        self.purchases: dict[tuple[str, str], int] = {}  # (buyer, tip) -> tick to look at it again
        self.learned: Counter[str] = Counter()
        self.tick = 0
        self.started = wallclock.monotonic()
        self.last_progress = 0.0

    # ---- plumbing ------------------------------------------------------------------------------------------------

    def rng(self, *parts: object) -> Any:
        return sc.rng(self.plan.seed, *parts)

    async def emit(self, topic: str, data: dict[str, Any], *, source: str, key: str | None, at: datetime,
                   event_id: str | None = None) -> None:
        _, payload = event_bytes(topic, data, tenant=self.tenant, source=source, time=at, event_id=event_id)
        self.pending.append(await self.publisher.send(topic, payload, key))

    async def flush(self) -> None:
        pending, self.pending = self.pending, []
        await asyncio.gather(*pending)

    async def each(self, items: Any, action: Callable[[Any], Awaitable[None]]) -> None:
        await asyncio.gather(*(action(item) for item in items))

    def sim_now(self, offset_minutes: float = 0.0) -> datetime:
        return self.clock.at(self.tick) + timedelta(minutes=offset_minutes)

    # ---- before the floor opens ------------------------------------------------------------------------------------

    async def prepare(self) -> None:
        allocator, ledger = self.apis["allocator"], self.apis["ledger"]
        roster_at = self.clock.start - timedelta(hours=12)
        for team in self.plan.teams:
            await self.emit("agents.changed.v1", {"agent_id": team.supervisor_id, "name": f"{team.name}主管",
                                                  "role": "supervisor", "team_id": team.team_id,
                                                  "business_line": sc.BUSINESS_LINE},
                            source=SOURCE["hr"], key=team.supervisor_id, at=roster_at)
        for agent in self.plan.agents:
            await self.emit("agents.changed.v1", {"agent_id": agent.agent_id, "name": agent.name, "role": "agent",
                                                  "team_id": agent.team_id, "business_line": sc.BUSINESS_LINE,
                                                  "supervisor_id": agent.supervisor_id},
                            source=SOURCE["hr"], key=agent.agent_id, at=roster_at)
        await self.flush()
        expected = len(self.plan.agents) + len(self.plan.teams)
        deadline = wallclock.monotonic() + 60
        while True:
            page = await allocator.get("/v1/agents", params={"limit": 1000})
            if len(page["items"]) >= expected:
                break
            if wallclock.monotonic() > deadline:
                raise PlatformError(f"the allocator knows {len(page['items'])} of {expected} people of the roster "
                                    "a minute after it was published: is it consuming agents.changed.v1?")
            await asyncio.sleep(0.5)

        async def grade(agent: sc.Agent) -> None:
            await allocator.call("PATCH", f"/v1/agents/{agent.agent_id}", json={"grade": agent.grade},
                                 actor=agent.supervisor_id,
                                 role="supervisor", team=agent.team_id)
        await self.each(self.plan.agents, grade)

        # the allocator's policy for this tenant, on the compressed clock: a lead nobody called for three
        # simulated hours, or whose stage did not move for six, is reclaimed
        sim_hour = self.tick_seconds * 60 / sc.TICK_MINUTES  # real seconds
        current = await allocator.get("/v1/config/policy")
        policy = current["value"] | {
            "holding_cap_by_grade": sc.HOLDING_CAP, "refresh_quota_by_grade": sc.REFRESH_QUOTA,
            "reclaim_rules": [{"not_processed_days": 3 * sim_hour / 86_400, "not_converted_days": 6 * sim_hour / 86_400}],
            "reclaim_warning_hours": 0.5 * sim_hour / 3600}
        await allocator.call("PUT", "/v1/config/policy", json=policy, headers={"If-Match": f'"{current["version"]}"'})

        # operators fund the month and allocate coins (配置) to every agent
        agents = [a.agent_id for a in self.plan.agents]
        budget = self.plan.coins_per_agent * len(agents) * 2
        await ledger.post("/v1/issues", json={"id": f"budget-{self.clock.day}", "amount": budget}, actor=OPERATOR,
                          role="operator")
        await ledger.post("/v1/allocations", json={"id": f"agents-{self.clock.day}", "amount": self.plan.coins_per_agent,
                                                   "user_ids": agents}, actor=OPERATOR, role="operator")
        self.count["coins allocated"] = self.plan.coins_per_agent * len(agents)

    # ---- the day -----------------------------------------------------------------------------------------------------

    async def run(self) -> None:
        await self.prepare()
        self.started = wallclock.monotonic()
        by_tick: dict[int, list[sc.LeadPlan]] = {}
        for lead in self.plan.leads:
            by_tick.setdefault(lead.tick, []).append(lead)
        lunch = (self.clock.tick_of(sc.LUNCH[0]), self.clock.tick_of(sc.LUNCH[1]))
        review_tick = max(t.tick for t in self.plan.tips) + 2 if self.plan.tips else -1
        redeem_tick = self.clock.ticks - 6
        for tick in range(self.clock.ticks):
            self.tick = tick
            for lead in by_tick.get(tick, []):
                await self.emit("leads.received.v1", lead.data, source=SOURCE["web"], key=lead.key, at=lead.at,
                                event_id=lead.event_id)
                self.count["leads sent"] += 1
            if tick in (0, lunch[0], lunch[1]):
                status = "on_break" if tick == lunch[0] else "logged_in"
                await self.statuses(status)
            work: list[Awaitable[None]] = [self.desk_turn(d) for d in self.desks.values()
                                           if d.agent.slot == tick % sc.ACT_EVERY and not self.clock.on_lunch(tick)]
            work += [self.write_tip(t) for t in self.plan.tips if t.tick == tick]
            work += [self.shop(s) for s in self.plan.shoppers if s.tick == tick]
            work += [self.learn(buyer, tip) for (buyer, tip), due in list(self.purchases.items()) if due == tick]
            if tick == review_tick:
                work.append(self.review())
            if tick == redeem_tick:
                work.append(self.redeem())
            await asyncio.gather(*work)
            if tick % SWEEP_EVERY == SWEEP_EVERY - 1:
                await self.sweep()
            await self.flush()
            self.progress()
            ahead = self.started + (tick + 1) * self.tick_seconds - wallclock.monotonic()
            if ahead > 0:
                await asyncio.sleep(ahead)
        self.tick = self.clock.ticks
        await self.statuses("logged_out")
        await self.sweep()
        await self.flush()
        self.progress(force=True)

    async def statuses(self, status: str) -> None:
        for agent in self.plan.agents:
            at = self.sim_now(self.rng("status", agent.agent_id, status).uniform(0, 4))
            await self.emit("agents.status-changed.v1", {"agent_id": agent.agent_id, "status": status, "at":
                            at.isoformat()}, source=SOURCE["dialer"], key=agent.agent_id, at=at)

    async def sweep(self) -> None:
        result = await self.apis["allocator"].post("/v1/reclaim-sweeps", actor=OPERATOR, role="operator")
        self.count["reclaimed"] += result["reclaimed"]
        self.count["sweeps"] += 1

    # ---- an agent at its desk ----------------------------------------------------------------------------------------

    async def desk_turn(self, desk: Desk) -> None:
        agent, tick = desk.agent, self.tick
        r = self.rng("turn", agent.agent_id, tick)
        if tick - desk.refreshed >= REFRESH_EVERY:
            await self.refresh(desk)
        if len(desk.open_leads()) < sc.HOLD_TARGET[agent.grade] and tick < self.clock.ticks - 6:
            await self.claim(desk, r)
        cursor = r.uniform(0, 2)
        todo = sorted((h for h in desk.open_leads() if not h.neglected), key=lambda h: (h.dials > 0, h.dials))
        for held in todo[:sc.DIALS[agent.grade]]:
            cursor += await self.dial(desk, held, cursor)

    async def refresh(self, desk: Desk) -> None:
        """The agent's private pool as the allocator has it: reclaimed leads are gone."""
        page = await self.apis["allocator"].get(f"/v1/agents/{desk.agent.agent_id}/leads",
                                                params={"limit": 1000}, actor=desk.agent.agent_id)
        holding = {item["lead_id"] for item in page["items"]}
        for lead_id in [lead_id for lead_id in desk.held if lead_id not in holding]:
            if not desk.held.pop(lead_id).done:
                self.count["taken back"] += 1
        desk.refreshed = self.tick

    async def claim(self, desk: Desk, r: Any) -> None:
        agent = desk.agent
        want = min(sc.CLAIM_SIZE[agent.grade], sc.HOLD_TARGET[agent.grade] - len(desk.open_leads()))
        tiers = ["fresh"] if self.tick < self.clock.ticks // 2 else ["fresh", "abandoned-1"]
        for tier in tiers:
            result = await self.apis["allocator"].post(f"/v1/agents/{agent.agent_id}/claims",
                                                       json={"tier_id": tier, "count": want}, actor=agent.agent_id,
                                                       ok=(403, 409, 429))
            self.count["claims"] += 1
            if result is None:
                self.count["claims refused"] += 1
                return
            for lead in result["leads"]:
                customer = self.plan.customers.get(lead.get("phone") or "")
                neglected = r.random() > sc.DILIGENCE[agent.grade]
                desk.held[lead["lead_id"]] = Held(lead["lead_id"], customer, neglected)
            self.count["leads claimed"] += result["claimed"]
            if result["claimed"]:
                return

    async def dial(self, desk: Desk, held: Held, cursor: float) -> float:
        """One dial at `cursor` minutes into the agent's desk session; the minutes it took."""
        agent = desk.agent
        r = self.rng("dial", agent.agent_id, held.lead_id, held.dials)
        customer = held.customer or sc.Customer(0.3, None, 0)
        connected = r.random() < customer.answer_rate
        seconds = 0
        if connected:
            seconds = int(min(1800, max(8, r.lognormvariate(4.2, 0.9) * sc.SKILL[agent.grade])))
        started = self.sim_now(cursor)
        held.dials += 1
        await self.emit("calls.logged.v1", {"call_id": f"call-{uuid.UUID(int=r.getrandbits(128)).hex[:16]}",
                                            "agent_id": agent.agent_id, "lead_id": held.lead_id,
                                            "started_at": started.isoformat(), "duration_seconds": seconds,
                                            "connected": connected},
                        source=SOURCE["dialer"], key=held.lead_id, at=started + timedelta(seconds=seconds))
        self.count["calls"] += 1
        if connected:
            held.connects += 1
            self.count["connected"] += 1
            await self.after_call(desk, held, seconds, r)
        elif held.dials >= 4 and held.connects == 0:
            await self.release(desk, held, "return", "多次未接通")
        return (seconds + r.uniform(20, 45)) / 60 + r.uniform(0.5, 1.5)

    async def after_call(self, desk: Desk, held: Held, seconds: int, r: Any) -> None:
        customer = held.customer or sc.Customer(0.3, None, 0)
        reach = -1 if customer.reach is None else sc.STEPS.index(customer.reach)
        if reach < 0:
            if r.random() < 0.7:
                await self.release(desk, held, "close", "非目标客户")
            return
        if held.step < reach and seconds >= 60 and r.random() < 0.6 * sc.SKILL[desk.agent.grade]:
            await self.advance(desk, held, min(reach, held.step + 1 + (seconds >= 180)))  # a deep call goes further
        elif held.step >= reach and held.connects >= 3:
            await self.release(desk, held, "close" if r.random() < 0.8 else "return", "客户暂不考虑")

    async def advance(self, desk: Desk, held: Held, step: int) -> None:
        agent = desk.agent.agent_id
        name = sc.STEPS[step]
        if name == "paid":
            amount = held.customer.amount_fen if held.customer else 500_000
            done = await self.apis["allocator"].post(f"/v1/leads/{held.lead_id}/win", actor=agent,
                                                     json={"agent_id": agent, "amount_fen": amount}, ok=(409,))
            if done is None:
                return self.lost(desk, held)
            held.step, held.done = step, True
            self.count["won"] += 1
            self.count["won yuan"] += amount // 100
            return
        body = {"agent_id": agent, "stage_percent": sc.STAGE_PERCENT[name], "funnel_step": name}
        if name == "plan":
            body["deal_in_progress"] = True
        if await self.apis["allocator"].post(f"/v1/leads/{held.lead_id}/stage", json=body, actor=agent,
                                             ok=(409,)) is None:
            return self.lost(desk, held)
        held.step = step
        self.count["stage changes"] += 1

    async def release(self, desk: Desk, held: Held, how: str, reason: str) -> None:
        agent = desk.agent.agent_id
        if await self.apis["allocator"].post(f"/v1/leads/{held.lead_id}/{how}", ok=(409,), actor=agent,
                                             json={"agent_id": agent, "reason": reason}) is None:
            return self.lost(desk, held)
        held.done = True
        self.count["closed" if how == "close" else "returned"] += 1

    def lost(self, desk: Desk, held: Held) -> None:
        """The lead was reclaimed before the agent got back to it."""
        desk.held.pop(held.lead_id, None)
        self.count["taken back"] += 1

    # ---- the marketplace -------------------------------------------------------------------------------------------

    async def write_tip(self, tip: sc.TipPlan) -> None:
        market = self.apis["marketplace"]
        await market.post("/v1/tips", actor=tip.author_id, json={
            "id": tip.tip_id, "title": tip.title, "summary": tip.summary, "body": tip.body, "stage": tip.stage,
            "product_line": sc.BUSINESS_LINE, "tags": list(tip.tags), "price": tip.price})
        await market.post(f"/v1/tips/{tip.tip_id}/versions/1/submit", actor=tip.author_id)
        self.count["tips written"] += 1

    async def review(self) -> None:
        market = self.apis["marketplace"]
        for tip in self.plan.tips:
            checks = {item: True for item in sc.CHECKLIST} | ({} if tip.passes_review else {"compliant": False})
            comment = None if tip.passes_review else "含有不实承诺（包过），请修改后再提交"
            await market.post(f"/v1/tips/{tip.tip_id}/versions/1/review", actor=REVIEWER, role="operator",
                              json={"checks": checks, "comment": comment})
            self.count["tips listed" if tip.passes_review else "tips rejected"] += 1

    async def shop(self, shopper: sc.Shopper) -> None:
        market = self.apis["marketplace"]
        r = self.rng("shop", shopper.agent_id)
        authors = {t.tip_id: t.author_id for t in self.plan.tips}
        for tip_id in shopper.tips:
            await market.post(f"/v1/tips/{tip_id}/visits", actor=shopper.agent_id)
            self.count["tip visits"] += 1
            if authors[tip_id] == shopper.agent_id or r.random() >= shopper.buy_rate:
                continue
            if await market.post(f"/v1/tips/{tip_id}/purchases", actor=shopper.agent_id, ok=(409,)) is not None:
                self.count["purchases"] += 1
                self.purchases[(shopper.agent_id, tip_id)] = self.tick + 2

    async def learn(self, buyer: str, tip_id: str) -> None:
        """Once the ledger has paid: watch the tip, maybe again, rate it and pass it on to a teammate."""
        market = self.apis["marketplace"]
        mine = await market.get(f"/v1/tips/{tip_id}/purchases/mine", actor=buyer)
        if mine["status"] == "pending":
            self.purchases[(buyer, tip_id)] = self.tick + 2
            return
        del self.purchases[(buyer, tip_id)]
        if mine["status"] != "granted":
            self.count["purchases refused"] += 1
            return
        self.count["purchases granted"] += 1
        shopper = next(s for s in self.plan.shoppers if s.agent_id == buyer)
        r = self.rng("learn", buyer, tip_id)
        if r.random() >= shopper.learn_rate:
            return
        sessions = 2 if r.random() < 0.25 else 1
        for n in range(sessions):
            total = r.randint(150, 420)
            for progress in (35, 70, 100):
                await market.post(f"/v1/tips/{tip_id}/learning", actor=buyer, json={
                    "session_id": f"s{n}-{buyer}", "progress_percent": progress,
                    "session_seconds": total * progress // 100})
        self.learned[buyer] += 1
        self.count["tips learned"] += 1
        if r.random() < 0.7:
            await market.post(f"/v1/tips/{tip_id}/ratings", actor=buyer, ok=(409,),
                              json={"stars": r.choices((5, 4, 3, 2), weights=(5, 4, 2, 1))[0]})
            self.count["ratings"] += 1
        if r.random() < 0.3:
            team = [a.agent_id for a in self.plan.agents
                    if a.team_id == self.desks[buyer].agent.team_id and a.agent_id != buyer]
            if team:
                await market.post(f"/v1/tips/{tip_id}/forwards", actor=buyer,
                                  json={"to_user_id": r.choice(team), "note": "这个话术很实用"})
                self.count["forwards"] += 1

    async def redeem(self) -> None:
        """Sellers turn their earnings into 话费 in the points mall (100 coins = 1 yuan)."""
        market = self.apis["marketplace"]
        for author in sorted({t.author_id for t in self.plan.tips}):
            seller = await market.get(f"/v1/sellers/{author}")
            yuan = seller["earnings"] // 100
            if yuan >= 1:
                await market.post(f"/v1/sellers/{author}/redemptions", actor=author,
                                  json={"id": f"redeem-{author}-{self.clock.day}", "yuan": yuan, "item": "话费"})
                self.count["redemptions"] += 1
                self.count["yuan redeemed"] += yuan

    # ---- output ----------------------------------------------------------------------------------------------------

    def progress(self, force: bool = False) -> None:
        now = wallclock.monotonic()
        if not force and now - self.last_progress < PROGRESS_SECONDS:
            return
        self.last_progress = now
        c = self.count
        clock = self.sim_now().strftime("%H:%M")
        self.console.print(
            f"[{clock} +{now - self.started:5.0f}s] leads {c['leads sent']} · claimed {c['leads claimed']} · "
            f"calls {c['calls']} ({c['connected']} connected) · stage changes {c['stage changes']} · won {c['won']} · "
            f"closed {c['closed']} · returned {c['returned']} · reclaimed {c['reclaimed']} · tips {c['tips listed']} "
            f"listed · bought {c['purchases granted']}/{c['purchases']} · learned {c['tips learned']}",
            highlight=False, soft_wrap=True)


# ---- the summary from metrics ------------------------------------------------------------------------------------


def summary_range(plan: sc.Scenario, started: datetime) -> tuple[str, str]:
    """From the platform's own day when the run started (claims, purchases are stamped by the services)
    to the simulated day."""
    first = min(started.astimezone(sc.FLOOR_TZ).date(), plan.clock.day - timedelta(days=1))
    return first.isoformat(), plan.clock.day.isoformat()


def caught_up(funnels: dict[str, Any], plan: sc.Scenario, calls: int) -> bool:
    expected = plan.expected()
    steps = lead_steps(funnels.get("leads") or {})
    pool = funnels.get("pool") or {}
    return (steps.get("total", 0) >= expected["new"] + expected["rejected"]
            and pool.get("merged", 0) >= expected["merged"]
            and (funnels.get("calls") or {}).get("outbound", 0) >= calls)


async def wait_for_metrics(metrics: Api, plan: sc.Scenario, calls: int, first: str, last: str, timeout: float,
                           console: Console) -> dict[str, Any]:
    """Poll metrics until it has counted what was sent, or its figures stop changing (bounded)."""
    deadline = wallclock.monotonic() + timeout
    previous, still = None, 0
    while True:
        funnels = await read_funnels(metrics, first, last)
        if caught_up(funnels, plan, calls):
            await asyncio.sleep(2)  # the last answers (purchases, redemptions) a moment behind
            return await read_funnels(metrics, first, last)
        still = still + 1 if funnels == previous else 0
        if still >= 5 or wallclock.monotonic() > deadline:
            console.print("[yellow]metrics has not counted everything that was sent; showing what it has[/]")
            return funnels
        previous = funnels
        await asyncio.sleep(2)


def new_tenant(seed: int) -> str:
    return f"demo-{datetime.now(UTC):%m%d-%H%M%S}-s{seed}-{uuid.uuid4().hex[:4]}"


async def play(options: Options, endpoints: Endpoints, console: Console) -> dict[str, Any]:
    """Play the day; the plan, what was sent and the summary from metrics."""
    await check_running(endpoints)
    started = datetime.now(UTC)
    tenant = check_tenant(options.tenant or new_tenant(options.seed))
    plan = sc.build(options.seed, agents=options.agents, leads=options.leads, day=sc.shift_day_after(started),
                    tips=options.tips)
    expected = plan.expected()
    console.print(f"A call-center day: tenant [bold]{tenant}[/], seed {options.seed}, {len(plan.agents)} agents in "
                  f"{len(plan.teams)} teams, {expected['published']} lead messages ({expected['rejected']} junk, "
                  f"{expected['merged']} repeats, {expected['redelivered']} redeliveries), {len(plan.tips)} tips; "
                  f"{plan.clock.day} 08:30-18:00 played in {options.minutes:g} min", highlight=False, soft_wrap=True)
    apis = open_apis(endpoints, tenant)
    try:
        async with Publisher(endpoints.kafka_bootstrap) as publisher:
            day = Day(plan, apis, publisher, tenant, options.minutes, console)
            await day.run()
        elapsed = wallclock.monotonic() - day.started
        first, last = summary_range(plan, started)
        console.print(f"the day took {elapsed:.0f} s; waiting for metrics to count it ({first} .. {last})")
        funnels = await wait_for_metrics(apis["metrics"], plan, day.count["calls"], first, last,
                                         options.metrics_wait_seconds, console)
    finally:
        await close_apis(apis)
    print_summary(console, funnels)
    return {"tenant": tenant, "plan": plan, "sent": dict(day.count), "funnels": funnels, "from": first, "to": last,
            "seconds": elapsed}


app = typer.Typer(add_completion=False, help=__doc__)


@app.command()
def demo(
    seed: Annotated[int, typer.Option(help="Seed of the day's plan: the same seed sends the same day.")] = 7,
    agents: Annotated[int, typer.Option(min=1, help="Agents on the floor.")] = 200,
    leads: Annotated[int | None, typer.Option(min=1, help="Lead messages outside systems send (default 12 per "
                                              "agent).")] = None,
    minutes: Annotated[float, typer.Option(min=0.1, help="Real minutes the 08:30-18:00 shift is played in.")] = 2.5,
    speed: Annotated[float | None, typer.Option(help="Simulated seconds per real second (instead of --minutes).")
                     ] = None,
    tenant: Annotated[str | None, typer.Option(help="Tenant to play in (default: a fresh one per run).")] = None,
    tips: Annotated[int, typer.Option(min=1, max=60, help="Tips top agents write.")] = 12,
    kafka_bootstrap: Annotated[str | None, typer.Option(envvar="TELESALES_KAFKA_BOOTSTRAP")] = None,
) -> None:
    """Play a call-center day against the running platform (`make up` first) and print its funnels."""
    console = Console()
    if speed is not None:
        minutes = sc.ticks_in_shift() * sc.TICK_MINUTES / speed
    endpoints = Endpoints.from_env(kafka_bootstrap=kafka_bootstrap)
    options = Options(seed=seed, agents=agents, leads=leads, minutes=minutes, tenant=tenant, tips=tips)
    try:
        asyncio.run(play(options, endpoints, console))
    except PlatformError as error:
        console.print(Text.assemble(("error: ", "red"), str(error)), soft_wrap=True, highlight=False)
        raise typer.Exit(1) from error


def main() -> None:
    app()

