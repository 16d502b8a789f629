#!/usr/bin/env python3
"""speed-to-lead benchmark: publish -> the agent's screen, end to end (`make bench-speed-to-lead`).

Starts lead-intake, the allocator and the console as `make up` runs them (uvicorn subprocesses, each in a
database of the run) on the local MongoDB and Redis and a private Kafka node of the run; sets a floor up as
its outside systems would (teams, routing rules with `on_arrival` push, the roster on agents.changed.v1, every
agent logged in on agents.status-changed.v1); opens each agent's console live channel (SSE, its own bearer
token) from load-generator processes; then publishes leads on leads.received.v1 as an outside system:

  saturation   a burst as fast as the producer goes: throughput of each stage and end to end (the slowest
               stage bounds it)
  floor        a fixed schedule at a floor's rate (default 200/s) for --seconds
  half         a fixed schedule at half of the measured saturation for --seconds

Each lead is followed through every stage: leads.qualified.v1 (its Kafka timestamp), stored in its pool
(the allocator's `created_at`), allocation.assigned.v1 by the system (its Kafka timestamp), and the
`lead_assigned` notification read on its agent's SSE stream. Latency is from the lead's scheduled send
(open loop: a late sender cannot hide a queue). Checked: every lead qualified, pooled and pushed once to one
agent, its notification read once, by that agent. Target: p99 publish -> screen <= 1 s at the floor's rate.
Exit 0 when measured (also "TARGET MISSED"), 1 when something was lost, doubled, misdelivered or failed.
`--agents 200 --rate 100 --seconds 10 --burst 2000` is a quick smoke run. See README.md beside this file.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import re
import resource
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient

from telesales_contracts.allocation import DistributionStrategy
from telesales_contracts.topics import LEADS_RECEIVED
from telesales_testkit.bench import (
    LOAD_PRODUCER_OPTIONS,
    REPO_ROOT,
    BenchError,
    BenchService,
    CpuWatch,
    bench_run,
    find_pids,
    free_port,
    git_state,
    note,
    publish_report,
    run_benchmark,
    say,
)
from telesales_testkit.memory import Memory, pids_running

sys.path.insert(0, str(Path(__file__).parent))  # the modules beside this file (also when loaded by path)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/: what the end-to-end benches share
from bench_leads import add_run_options  # noqa: E402
from s2l_floor import HEADERS, Floor, LeadMaker, teams_for  # noqa: E402
from s2l_handlers import LEAD_TOPIC, handler_counters, handler_use  # noqa: E402
from s2l_report import render  # noqa: E402
from s2l_screens import Screens, ScreensProcess, open_screens  # noqa: E402
from s2l_timeline import (  # noqa: E402
    Sending,
    Timeline,
    examples_of,
    half_of_saturation,
    holding_cap_needed,
    problems_of,
    schedule,
    slowest_stage,
    stage_figures,
)
from s2l_watch import Reader  # noqa: E402

# the strategies that place a new lead by themselves (supervisor needs a named agent; same_agent and
# dedicated_agent need a lead someone held before)
ARRIVAL_STRATEGIES = [s.value for s in (DistributionStrategy.ROUND_ROBIN, DistributionStrategy.EVEN_BY_OPEN,
                                        DistributionStrategy.BATCH_AVERAGE, DistributionStrategy.ABILITY_WEIGHTED,
                                        DistributionStrategy.NEVER_PREVIOUS)]
DEFAULT_OUT = REPO_ROOT / "bench-results" / "speed-to-lead.json"
DEFAULT_HOLDING_CAP = 200  # the allocator's default policy
CONFIG_CACHE_S = 6.0  # the allocator caches policy and routing 5 s
SETTLE_S = 3.0


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def publish(producer: AIOKafkaProducer, leads: list[Any], phase: str, timeline: Timeline,
                  rate: float | None) -> None:
    """Every lead on leads.received.v1: at its scheduled time (`rate`), or as fast as the producer goes."""
    due = schedule(time.time() + 0.1, rate, len(leads)) if rate else None
    pending = []
    for i, lead in enumerate(leads):
        if due is not None:
            delay = due[i] - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
        elif i % 500 == 499:
            await asyncio.sleep(0)  # let the reader run
        sent = time.time()
        timeline.sent(Sending(lead.event_id, phase, due[i] if due is not None else sent, sent))
        pending.append(await producer.send(LEADS_RECEIVED.name, lead.payload, key=lead.key, headers=HEADERS))
    await asyncio.gather(*pending)


class Run:
    """One run: the services, the floor, the screens, the phases."""

    def __init__(self, args: argparse.Namespace, run: str, out_path: Path, stack_env: dict[str, str]) -> None:
        self.args, self.run, self.stack_env = args, run, stack_env
        self.tenant = f"bench-{run}"
        self.timeline = Timeline()
        self.bootstrap = stack_env["TELESALES_KAFKA_BOOTSTRAP"]
        logs = out_path.parent
        self.services = [
            BenchService("lead-intake", "lead_intake", "LEAD_INTAKE_", run, free_port(), logs / f"s2l-intake-{run}.log"),
            BenchService("allocator", "allocator", "ALLOCATOR_", run, free_port(), logs / f"s2l-allocator-{run}.log"),
            BenchService("console", "console", "CONSOLE_", run, free_port(), logs / f"s2l-console-{run}.log",
                         env={"NOTIFICATION_CHANNEL": f"bench:s2l:{run}", "SSE_HEARTBEAT_SECONDS": "15"}),
        ]
        self.intake, self.allocator, self.console = self.services
        self.screens: list[ScreensProcess] = []
        self.memory: Memory | None = None
        self.allocator_http: httpx.AsyncClient | None = None
        self.phases: dict[str, dict[str, Any]] = {}
        self.warnings: list[str] = []
        self.maker = LeadMaker(self.tenant, teams_for(args.agents, args.team_size), args.seed)

    def alive(self) -> None:
        for service in self.services:
            service.check_alive()

    def shown_count(self) -> int:
        return sum(s.read_count for s in self.screens)

    def cpu_groups(self) -> dict[str, list[int]]:
        kafka_port = int(self.bootstrap.rsplit(":", 1)[1])
        mongo_port = int(re.search(r":(\d+)/", self.stack_env["TELESALES_MONGO_URI"]).group(1))  # type: ignore[union-attr]
        redis_port = int(re.search(r":(\d+)", self.stack_env.get("TELESALES_REDIS_URL", ":16379")).group(1))  # type: ignore[union-attr]
        found = find_pids(kafka_port, mongo_port, exclude={os.getpid()})
        return {**{s.name: [s.proc.pid] for s in self.services if s.proc},
                "agents' screens (load generators)": [s.proc.pid for s in self.screens],
                "bench (publisher, reader)": [os.getpid()], **found,
                "redis": pids_running(name="redis-server", port=redis_port)}

    async def handlers(self, http: httpx.AsyncClient) -> dict[str, dict[str, float]]:
        counters = {}
        for service in self.services:
            answer = await http.get(f"{service.base_url}/metrics", timeout=30)
            counters[service.name] = handler_counters(answer.text, LEAD_TOPIC[service.name])
        return counters

    async def phase(self, name: str, leads: list[Any], rate: float | None, producer: AIOKafkaProducer,
                    memory: Memory, http: httpx.AsyncClient) -> dict[str, Any]:
        expected = self.shown_count() + len(leads)
        before = await self.handlers(http)
        memory.phase = name
        cpu = CpuWatch(self.cpu_groups()).start()
        started = time.monotonic()
        await publish(producer, leads, name, self.timeline, rate)
        deadline = time.monotonic() + self.args.timeout
        while self.shown_count() < expected and time.monotonic() < deadline:
            self.alive()
            await asyncio.sleep(0.1)
        if self.shown_count() < expected:  # late leads still count where they were read, the next phase overlaps
            self.warnings.append(f"{name} did not drain within {self.args.timeout:.0f} s of its last send "
                                 f"({expected - self.shown_count():,} leads not shown yet): the next phase overlaps")
        usage = cpu.stop()
        memory.phase = None
        after = await self.handlers(http)
        handlers = {n: handler_use(before[n], after[n], len(leads), usage["wall_s"]) for n in before}
        await asyncio.sleep(SETTLE_S)  # a repeat would show by now
        for service, use in handlers.items():
            if use["dead_letters"]:
                self.warnings.append(f"{service} dead-lettered {use['dead_letters']:,.0f} messages during {name}")
        disturbed = usage["pct_of_one_core"]["everything else on the machine"]
        if disturbed > self.args.disturbed_pct:
            self.warnings.append(f"DISTURBED: during {name}, processes outside the run used {disturbed:.0f} % of a "
                                 f"core (over {self.args.disturbed_pct:.0f} %): its figures are not clean")
        note(f"{name}: {len(leads):,} leads sent, {self.shown_count() - expected + len(leads):,} shown "
             f"in {time.monotonic() - started:.1f} s")
        return {"leads": len(leads), "rate_per_s": rate, "cpu": usage, "handlers": handlers}

    async def pooled_times(self, mongo: AsyncMongoClient[dict[str, Any]]) -> None:
        leads = mongo[self.allocator.db]["leads"]  # type: ignore[attr-defined]
        async for doc in leads.find({"tenant_id": self.tenant}, {"created_at": 1}):
            self.timeline.pooled(lead_id=doc["_id"], at=doc["created_at"].timestamp())

    async def execute(self, producer: AIOKafkaProducer, http: httpx.AsyncClient, reader: Reader) -> dict[str, Any]:
        args = self.args
        for service in self.services:
            service.start(self.stack_env)
        for service in self.services:
            await service.wait_ready(http)
        await reader.start()  # the fresh broker's partitions have leaders by now; it reads from the beginning
        memory = self.memory = Memory({s.name: s.proc.pid for s in self.services if s.proc})
        memory.take("at readiness")
        allocator_http = self.allocator_http = httpx.AsyncClient(base_url=self.allocator.base_url, timeout=30)
        floor = Floor(allocator_http, producer, self.tenant, args.agents, args.team_size)
        warm = self.maker.make(max(20, floor.teams))
        burst = self.maker.make(args.burst)
        at_floor = self.maker.make(int(args.rate * args.seconds))
        await floor.configure(args.strategy, holding_cap_needed(len(warm) + len(burst) + len(at_floor), args.agents,
                                                                DEFAULT_HOLDING_CAP))
        started = time.monotonic()
        await floor.roster()
        note(f"{args.agents:,} agents in {floor.teams} teams on the roster and logged in "
             f"[{time.monotonic() - started:.1f} s]")
        started = time.monotonic()
        self.screens = await open_screens(__file__, self.console.port, self.tenant, args.agents, args.loaders,
                                          args.team_size, self.alive)
        ready = [s.ready for s in self.screens if s.ready]
        connected, failed = sum(r[0] for r in ready), sum(r[1] for r in ready)
        note(f"{connected:,} SSE streams open in {time.monotonic() - started:.1f} s ({failed} failed "
             f"{[e for r in ready for e in r[2]][:3]})")
        await asyncio.sleep(CONFIG_CACHE_S)
        self.phases["warm-up"] = await self.phase("warm-up", warm, None, producer, memory, http)
        await asyncio.sleep(SETTLE_S)
        memory.take("idle (floor set up, streams open)")
        say("1/3 saturation: a burst as fast as the producer goes ...")
        self.phases["saturation"] = await self.phase("saturation", burst, None, producer, memory, http)
        # the screens' records come at the end; the last one read so far ends the burst (phases never overlap)
        first_sent = min(t.sending.sent for t in self.timeline.phase("saturation"))
        try:
            half_rate = half_of_saturation(len(burst), first_sent, max(s.last_read for s in self.screens))
        except ValueError as error:
            raise BenchError(str(error)) from None
        say(f"    {2 * half_rate:,.0f} leads/s publish -> screen")
        say(f"2/3 floor: {args.rate:,.0f} leads/s for {args.seconds:.0f} s on a fixed schedule ...")
        self.phases["floor"] = await self.phase("floor", at_floor, args.rate, producer, memory, http)
        at_half = self.maker.make(int(half_rate * args.seconds))
        await floor.set_holding_cap(holding_cap_needed(self.maker.made, args.agents, DEFAULT_HOLDING_CAP))
        await asyncio.sleep(CONFIG_CACHE_S)
        say(f"3/3 half of saturation: {half_rate:,.0f} leads/s for {args.seconds:.0f} s on a fixed schedule ...")
        self.phases["half"] = await self.phase("half", at_half, half_rate, producer, memory, http)
        memory.take("after the run")
        return {"connected": connected, "connect_failed": failed, "teams": floor.teams, "memory": memory.points}

    async def stop(self) -> list[str]:
        if self.memory is not None:
            await self.memory.close()
        if self.allocator_http is not None:
            await self.allocator_http.aclose()
        for screen in self.screens:
            screen.kill()
        problems = []
        for service in self.services:
            code = service.stop()
            if code not in (0, None):
                problems.append(f"{service.name} exited with {code}")
        return problems


async def body(args: argparse.Namespace, run: str, out_path: Path, stack_env: dict[str, str]) -> int:
    bench = Run(args, run, out_path, stack_env)
    producer = AIOKafkaProducer(bootstrap_servers=bench.bootstrap, **LOAD_PRODUCER_OPTIONS)
    reader = Reader(bench.bootstrap, bench.tenant, bench.timeline)
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack_env["TELESALES_MONGO_URI"], tz_aware=True)
    results: list[dict[str, Any]] = []
    try:
        await producer.start()
        async with httpx.AsyncClient() as http:
            setup = await bench.execute(producer, http, reader)
        results = [await screen.finish() for screen in bench.screens]
        bench.screens = []
        await bench.pooled_times(mongo)
    finally:
        exits = await bench.stop()
        await reader.stop()
        await producer.stop()
        if not args.keep:
            for service in bench.services:
                await mongo.drop_database(service.db)  # type: ignore[attr-defined]
        await mongo.close()
    for result in results:
        for agent, lead_id, at in result["receipts"]:
            bench.timeline.shown(agent=agent, lead_id=lead_id, at=at)
    return conclude(args, bench, setup, results, exits, out_path)


def conclude(args: argparse.Namespace, bench: Run, setup: dict[str, Any], results: list[dict[str, Any]],
             exits: list[str], out_path: Path) -> int:
    timeline = bench.timeline
    phases = {name: {**info, "stages": stage_figures(timeline.phase(name)),
                     "problems": problems_of(timeline.phase(name))} for name, info in bench.phases.items()}
    saturation = phases["saturation"]["stages"]
    stream_errors = [e for r in results for e in r["errors"]]
    problems = {k: v for phase in phases.values() for k, v in phase["problems"].items()}
    stray = dict(timeline.strays)
    failed = bool(problems) or bool(stray) or sum(r["error_count"] for r in results) > 0 \
        or setup["connect_failed"] > 0 or bool(exits)
    floor_p99 = phases["floor"]["stages"]["shown"]["latency"]["p99_ms"]
    met = not math.isnan(floor_p99) and floor_p99 <= args.target_ms
    report = {
        "run": bench.run, "git": git_state(), "cpu_count": os.cpu_count(), "tenant": bench.tenant,
        "agents": args.agents, "team_size": args.team_size, "teams": setup["teams"], "strategy": args.strategy,
        "connected": setup["connected"], "connect_failed": setup["connect_failed"], "phases": phases,
        "saturation_per_s": saturation["shown"]["throughput_per_s"],
        "slowest_stage": slowest_stage(saturation), "target_p99_ms": args.target_ms, "target_met": met,
        "memory_rss_bytes": setup["memory"], "strays": stray, "redelivered": dict(timeline.redelivered),
        "stream_errors": stream_errors, "service_exits": exits, "warnings": bench.warnings,
        "problem_examples": examples_of(t for t in timeline.by_event.values()),
    }
    publish_report(out_path, report, render(report))
    if failed:
        say(f"BENCHMARK FAILED: problems {problems}, strays {stray}, stream errors {stream_errors[:5]}, "
            f"{setup['connect_failed']} streams not connected, exits {exits}; {report['problem_examples'][:5]}")
        return 1
    if not met:
        say("TARGET MISSED")
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=2000, help="Agents on the floor, each on its own stream.")
    parser.add_argument("--team-size", type=int, default=50, help="Agents per team (one push pool per team).")
    parser.add_argument("--strategy", default="round_robin", choices=ARRIVAL_STRATEGIES,
                        help="The push-on-arrival strategy of every pool.")
    parser.add_argument("--rate", type=float, default=200.0, help="Leads per second at the floor's rate.")
    parser.add_argument("--seconds", type=float, default=60.0, help="Length of each paced phase.")
    parser.add_argument("--burst", type=int, default=10_000, help="Leads of the saturation burst.")
    parser.add_argument("--loaders", type=int, default=2, help="Load-generator processes holding the streams.")
    parser.add_argument("--target-ms", type=float, default=1000.0, help="Target p99 publish -> screen at the floor.")
    add_run_options(parser, default_out=DEFAULT_OUT)
    parser.add_argument("--screens", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--tenant", help=argparse.SUPPRESS)
    parser.add_argument("--first", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.agents, args.team_size, args.burst, args.loaders) < 1 or args.rate <= 0 or args.seconds <= 0:
        parser.error("--agents, --team-size, --burst, --loaders, --rate and --seconds must be positive")
    return args


def main() -> int:
    args = parse_args()
    raise_fd_limit()  # the console and the load generators inherit it
    if args.screens:
        asyncio.run(Screens(args.port, args.tenant, args.first, args.count, args.team_size).run())
        return 0
    return run_benchmark(lambda: bench_run(
        "speed-to-lead", args.out, True, f"{args.agents:,} agents on SSE, burst {args.burst:,}, "
        f"{args.rate:.0f}/s then half of saturation for {args.seconds:.0f} s each",
        lambda run, out_path, stack_env: body(args, run, out_path, stack_env)))


if __name__ == "__main__":
    sys.exit(main())
