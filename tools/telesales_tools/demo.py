"""A call-center day against the running platform (`make demo`), through its public interfaces only.

The HR system publishes the roster (agents.changed.v1), supervisors grade agents and set the allocator's
policy, outside systems publish leads (leads.received.v1: with junk, repeats and redeliveries), agents
claim (捞取) by grade, the dialer logs their calls (calls.logged.v1) and their status, agents move
leads through the funnel, win, close or return them, the supervisor runs the reclaim sweep, top agents
write tips that a reviewer approves, operators allocate coins, agents buy, learn, rate and forward tips,
and sellers redeem. A simulated clock maps the shift (08:30-18:00, Asia/Shanghai) onto a few minutes;
the events carry the simulated times. At the end the figures are read back from the metrics service.

Each run works in a fresh tenant, so runs never mix. The plan comes from scenario.py and the seed; the
agents at their desks act in desks.py, the marketplace in tips_market.py, on the day's state (day_state.py).
"""

from __future__ import annotations

import asyncio
import time as wallclock
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from . import scenario as sc
from .day_state import OPERATOR, SOURCE
from .do_not_call import SETTLE_SECONDS, DoNotCall
from .platform import Api, Endpoints, PlatformError, Publisher, check_running, check_tenant, close_apis, open_apis
from .report import lead_steps, print_floor_rules, print_summary, read_funnels
from .tips_market import TipsMarket

SWEEP_EVERY = 4  # ticks between reclaim sweeps (20 simulated minutes)
PROGRESS_SECONDS = 3.0


@dataclass
class Options:
    seed: int = 7
    agents: int = 200
    leads: int | None = None
    minutes: float = 2.5
    tenant: str | None = None
    tips: int = 12
    metrics_wait_seconds: float = 90.0
    push_on_arrival: bool = True


class Day(DoNotCall, TipsMarket):
    """The day played tick by tick: the roster and budget before the floor opens, then leads arriving, the
    agents' turns (each dial asked for first; struggle pushes read), the marketplace, breaks, sweeps and the
    do-not-call moments."""

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
        for team in self.plan.teams:  # the teams leads are pushed to, each with its supervisor
            await allocator.call("PUT", f"/v1/teams/{team.team_id}", actor=OPERATOR, role="operator",
                                 json={"name": team.name, "business_line": sc.BUSINESS_LINE,
                                       "supervisor_id": team.supervisor_id})
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
            "reclaim_warning_hours": 0.5 * sim_hour / 3600, "deal_mark_days": 12 * sim_hour / 86_400}
        await allocator.call("PUT", "/v1/config/policy", json=policy, headers={"If-Match": f'"{current["version"]}"'})
        if self.plan.push_on_arrival:
            await self.configure_push_on_arrival()

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
            await self.do_not_call_moments()
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
        for listing in self.listings:  # a number listed late in the day is still tried once
            if not listing.tried:
                await asyncio.sleep(max(0.0, SETTLE_SECONDS - (wallclock.monotonic() - listing.listed_at)))
                await self.try_listed(listing)
        self.note_unlisted()
        await self.read_listings()
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
            f"listed · bought {c['purchases granted']}/{c['purchases']} · learned {c['tips learned']} · pushes read "
            f"{c['pushes read']} · dials refused {c['dials refused']} · do-not-call {c['do-not-call listed']}",
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
                    tips=options.tips, push_on_arrival=options.push_on_arrival)
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
    print_floor_rules(console, day.count, funnels, day.listings)
    return {"tenant": tenant, "plan": plan, "sent": dict(day.count), "funnels": funnels, "from": first, "to": last,
            "seconds": elapsed, "listings": day.listings}


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
    push_on_arrival: Annotated[bool, typer.Option(help="Route MBA leads to the first team, pushed on arrival.")] = True,
    kafka_bootstrap: Annotated[str | None, typer.Option(envvar="TELESALES_KAFKA_BOOTSTRAP")] = None,
) -> None:
    """Play a call-center day against the running platform (`make up` first) and print its funnels."""
    console = Console()
    if speed is not None:
        minutes = sc.ticks_in_shift() * sc.TICK_MINUTES / speed
    endpoints = Endpoints.from_env(kafka_bootstrap=kafka_bootstrap)
    options = Options(seed=seed, agents=agents, leads=leads, minutes=minutes, tenant=tenant, tips=tips,
                      push_on_arrival=push_on_arrival)
    try:
        asyncio.run(play(options, endpoints, console))
    except PlatformError as error:
        console.print(Text.assemble(("error: ", "red"), str(error)), soft_wrap=True, highlight=False)
        raise typer.Exit(1) from error


def main() -> None:
    app()

