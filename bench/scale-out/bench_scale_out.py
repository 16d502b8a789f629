#!/usr/bin/env python3
"""scale-out benchmark: the consuming services as replicas (`make bench-scale-out`).

Starts a private Apache Kafka node of the run whose topics have 12 partitions, then every service that
consumes Kafka (lead-intake, the allocator, metrics, the ledger, the marketplace, the console) as `make up`
runs them (uvicorn subprocesses; every replica of a service shares the run's database, consumer group and
event source), publishes leads on leads.received.v1 as an outside system and buys tips over the
marketplace's HTTP API as agents (the marketplace asks the ledger, the ledger answers, the marketplace
grants; tips listed and wallets funded through the services' APIs first). One run, one phase after the other:

  1, 2, 3 replicas   a burst of --leads leads and --purchases purchases with that many replicas of each
                     service: throughput of each stage (items / (last one done - first send)), CPU per
                     item per service, the work each replica did (its own /metrics)
  kill/add           --kill-seconds of leads and purchases on fixed schedules at half the rate of each
                     path's slowest stage in the 3-replica burst: at a quarter, one replica of each service
                     is SIGKILLed (of metrics, the one holding the consuming lease); at half, one of each is
                     started; the longest stall of each stage
  checks             every lead sent qualified once (one leads.qualified.v1 event, one lead), stored once by
                     lead-intake, pooled once by the allocator, counted once by metrics (its checkpointed
                     counter and event ids against what its topics carry); every purchase answered once,
                     posted and stored once by the ledger, granted once by the marketplace; every
                     notification the events make stored once by the console; nothing dead-lettered

metrics consumes as a sole consumer (one replica holds a lease and reads every partition, the others
stand by), so its replicas give failover, not throughput: the report says which replica consumed.
Exit 0 when measured, 1 when a lead was lost, doubled or anything failed. `--leads 300 --purchases 100
--kill-seconds 20` is a quick run. See README.md beside this file.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient

from telesales_runtime.pii_crypto import new_keyring_json
from telesales_testkit.bench import (
    LOAD_PRODUCER_OPTIONS,
    REPO_ROOT,
    BenchError,
    CpuWatch,
    PrivateBroker,
    find_pids,
    git_state,
    note,
    publish_report,
    run_benchmark,
    say,
    stack_up,
)
from telesales_testkit.infra import InfraError
from telesales_testkit.memory import Memory

sys.path.insert(0, str(Path(__file__).parent))  # the modules beside this file (also when loaded by path)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/: what the end-to-end benches share
from bench_leads import add_run_options  # noqa: E402
from scale_checks import Stored, coins_exactness, console_exactness, exactness, owner_pid, rate  # noqa: E402
from scale_coins import Coins  # noqa: E402
from scale_fleet import PARTITIONS, SERVICES, Fleet  # noqa: E402
from scale_phases import Phase, Progress, phase_figures  # noqa: E402
from scale_report import render  # noqa: E402
from scale_watch import LeadMaker, Reader, send_leads  # noqa: E402

from metrics.dedup import unpack  # noqa: E402

DEFAULT_OUT = REPO_ROOT / "bench-results" / "scale-out.json"


class Run:
    def __init__(self, args: argparse.Namespace, run: str, out_path: Path, stack_env: dict[str, str],
                 broker: PrivateBroker) -> None:
        self.args, self.run, self.stack_env, self.broker = args, run, stack_env, broker
        self.tenant = f"bench-scale-{run}"
        self.fleet = Fleet(run, out_path.parent, stack_env)
        self.maker = LeadMaker(self.tenant, args.seed)
        self.coins = Coins(self.tenant, run)
        self.reader = Reader(stack_env["TELESALES_KAFKA_BOOTSTRAP"], self.tenant)
        self.mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack_env["TELESALES_MONGO_URI"], tz_aware=True)
        self.progress = Progress()
        self.phases: list[Phase] = []
        self.events: list[dict[str, Any]] = []
        self.warnings: list[str] = []
        self.http: Any = None  # the run's HTTP client (body sets it)
        self.memory: Any = None
        self.kill_at: float | None = None
        self.metrics_holder_before: str | None = None
        self.metrics_holder_after: str | None = None
        self.pooled_at: dict[str, float] = {}

    def db(self, service: str) -> Any:
        return self.mongo[f"bench_{SERVICES[service][0]}_{self.run}"]

    def cpu_groups(self) -> dict[str, list[int]]:
        mongo_port = int(re.search(r":(\d+)/", self.stack_env["TELESALES_MONGO_URI"]).group(1))  # type: ignore[union-attr]
        found = find_pids(self.broker.port, mongo_port, exclude={os.getpid()})
        if self.broker.proc is not None:
            found["kafka (broker)"] = [self.broker.proc.pid]
        return {**{label: [pid] for label, pid in self.fleet.pids().items()}, "bench (publisher, reader)": [os.getpid()],
                **found}

    async def poll(self) -> None:
        """The pooled and counted totals of the tenant (the qualified ones come from the reader)."""
        pooled = await self.db("allocator")["leads"].count_documents({"tenant_id": self.tenant})
        counted = 0
        async for doc in self.db("metrics")["counters"].find({"tenant_id": self.tenant, "family": "pool",
                                                              "period": "all"}, {"c": 1}):
            counted += (doc.get("c") or {}).get("created", 0)
        qualified = len({q.received_event_id for q in self.reader.qualified})
        answered = len({a.transfer_id for a in self.reader.answers})
        granted = await self.db("marketplace")["purchases"].count_documents({"status": "granted"})
        notified = await self.db("console")["notifications"].count_documents({"tenant": self.tenant})
        self.progress.sample(time.time(), qualified, pooled, counted, answered, granted, notified)

    def event(self, what: str) -> None:
        self.events.append({"at": time.time(), "what": what})

    async def keep_polling(self) -> None:
        """Sample the totals while a phase sends (a stall shows as a flat stretch)."""
        while True:
            await self.poll()
            await asyncio.sleep(0.25)

    async def metrics_holder(self) -> str | None:
        doc = await self.db("metrics")["leases"].find_one({"_id": {"$regex": "^sole-consumer:"}})
        pid = owner_pid(doc.get("owner") if doc else None)
        return next((label for label, p in self.fleet.pids().items() if p == pid), None)

    async def publish(self, producer: AIOKafkaProducer, phase: Phase, leads: list[Any], rate: float | None,
                      purchases: list[Any]) -> None:
        """The leads on Kafka and the purchases over HTTP side by side, each on its own schedule (`rate` leads/s
        and as many purchases in the same time), or as fast as they go."""
        pace = rate * len(purchases) / len(leads) if rate and leads else None
        await asyncio.gather(
            send_leads(producer, leads, rate, lambda lead, at: phase.sent(lead.event_id, at)),
            self.coins.buy_all(self.http, lambda: [r.base_url for r in self.fleet.live("marketplace").values()],
                               purchases, pace, phase.requested))

    async def drain(self, phase: Phase) -> None:
        """Wait until every lead sent so far is qualified, pooled and counted (or the timeout)."""
        target = self.maker.made
        deadline = time.monotonic() + self.args.timeout
        while time.monotonic() < deadline:
            self.fleet.check_alive()
            await self.poll()
            if self.progress.last.all_at(target, self.coins.made, len(self.reader.notifications)):
                phase.done = time.time()
                phase.notifications = len(self.reader.notifications)
                return
            await asyncio.sleep(0.25)
        raise BenchError(f"{phase.name}: not done within {self.args.timeout:.0f} s: {self.progress.last} of "
                         f"{target:,} leads, {self.coins.made:,} purchases")

    async def measure(self, phase: Phase, producer: AIOKafkaProducer, memory: Memory, leads: list[Any],
                      rate: float | None, purchases: int, during: Any = None) -> None:
        ledger = next(iter(self.fleet.live("ledger").values()))
        if not self.coins.made:
            await self.coins.list_tips(self.http, next(iter(self.fleet.live("marketplace").values())).base_url)
        await self.coins.fund(self.http, ledger.base_url, purchases)  # before the phase: not measured
        requests = self.coins.make(purchases)
        self.phases.append(phase)
        memory.phase = phase.name
        await self.fleet.scrape(self.http)
        phase.work_before = dict(self.fleet.work)
        cpu = CpuWatch(self.cpu_groups()).start()
        sending = asyncio.create_task(self.publish(producer, phase, leads, rate, requests))
        polling = asyncio.create_task(self.keep_polling())
        try:
            if during is not None:
                await during(cpu)
            await sending
        finally:
            polling.cancel()
            await asyncio.gather(polling, return_exceptions=True)
        await self.drain(phase)
        phase.cpu = cpu.stop()
        memory.phase = None
        await self.fleet.scrape(self.http)
        phase.work_after = dict(self.fleet.work)
        disturbed = phase.cpu["pct_of_one_core"]["everything else on the machine"]
        if disturbed > self.args.disturbed_pct:
            self.warnings.append(f"DISTURBED: during {phase.name}, processes outside the run used {disturbed:.0f} % "
                                 f"of a core (over {self.args.disturbed_pct:.0f} %): its figures are not clean")
        note(f"{phase.name}: {len(leads):,} leads, {purchases:,} purchases in {phase.done - phase.first_send:.1f} s")

    async def kill_and_add(self, cpu: CpuWatch) -> None:
        """At a quarter of the schedule SIGKILL one replica of each service, at half of it add one (started
        at once; they join when ready, under load that takes a while)."""
        seconds = self.args.kill_seconds
        await asyncio.sleep(seconds / 4)
        holder = await self.metrics_holder() or "metrics#1"
        for label in ("lead-intake#1", "allocator#1", holder, "ledger#1", "marketplace#1", "console#1"):
            pid = self.fleet.kill(label)
            self.event(f"SIGKILL {label} (pid {pid})")
        self.kill_at = time.time()
        await asyncio.sleep(seconds / 4)
        self.event("starting one replica of each")
        for label in await self.fleet.scale_to(self.args.replicas, self.http):
            cpu.groups[label] = [self.fleet.pids()[label]]  # counted from its start
            self.memory.pids[label] = self.fleet.pids()[label]
            self.event(f"{label} ready")

    def half_paces(self, last: Phase) -> tuple[float, float]:
        """Half the rate of the slowest stage of each path in the last burst (leads/s, purchases/s), or
        --kill-rate leads/s and purchases in the bursts' ratio."""
        if self.args.kill_rate:
            return self.args.kill_rate, self.args.kill_rate * self.args.purchases / self.args.leads

        def done(fields: tuple[str, ...], target: int) -> float:
            return max(self.progress.reached(f, target) or last.done for f in fields)

        leads_done = done(("qualified", "pooled", "counted"), self.maker.made)
        buys_done = done(("answered", "granted"), self.coins.made)
        return (max(1.0, rate(len(last.sent_ids), last.first_send, leads_done) / 2),
                max(0.5, rate(len(last.transfer_ids), last.first_send, buys_done) / 2))

    async def execute(self, producer: AIOKafkaProducer) -> None:
        args = self.args
        memory = self.memory = Memory({})
        for k in range(1, args.replicas + 1):
            for label in await self.fleet.scale_to(k, self.http):
                memory.pids[label] = self.fleet.pids()[label]
                memory.take(f"{label} at readiness")
            if k == 1:
                self.fleet.track(self.http)
                await self.reader.start()  # the fresh broker's partitions have leaders by now
            await asyncio.sleep(args.settle)  # the consumer groups rebalance onto the new replicas
            memory.take(f"idle, {k} replica{'s' if k > 1 else ''}")
            say(f"{k}/{args.replicas} replicas: a burst of {args.leads:,} leads and {args.purchases:,} purchases ...")
            await self.measure(Phase(f"{k} replica{'s' if k > 1 else ''}", k), producer, memory,
                               self.maker.make(args.leads), None, args.purchases)
        lead_pace, buy_pace = self.half_paces(self.phases[-1])
        say(f"kill/add: {lead_pace:,.0f} leads/s and {buy_pace:,.1f} purchases/s for {args.kill_seconds:.0f} s; "
            "a replica of each SIGKILLed, one added ...")
        await asyncio.sleep(args.settle)
        self.metrics_holder_before = await self.metrics_holder()
        leads = self.maker.make(int(lead_pace * args.kill_seconds))
        await self.measure(Phase("kill/add", args.replicas), producer, memory, leads, lead_pace,
                           max(1, int(buy_pace * args.kill_seconds)), self.kill_and_add)
        self.metrics_holder_after = await self.metrics_holder()
        memory.take("after the run")

    async def stored(self) -> Stored:
        await asyncio.sleep(3.0)  # a repeat or a late event would show by now
        deadline = time.monotonic() + 30  # the last purchases' notifications follow their grants
        while self.progress.last.notified < len(self.reader.notifications) and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            await self.poll()
        ids = [d["_id"] async for d in self.db("allocator")["leads"].find({"tenant_id": self.tenant}, {"_id": 1})]
        self.pooled_at = {d["_id"]: d["created_at"].timestamp() async for d in self.db("allocator")["leads"].find(
            {"tenant_id": self.tenant}, {"created_at": 1})}
        digests = [unpack(d["digests"]) async for d in self.db("metrics")["seen"].find({}, {"digests": 1})]
        flat = [int(x) for chunk in digests for x in chunk]
        await self.poll()
        transfers = self.db("ledger")["transfers"]
        purchases = {"tenant_id": self.tenant, "kind": "purchase"}
        return Stored(intake_leads=await self.db("lead-intake")["leads"].count_documents({"tenant_id": self.tenant}),
                      allocator_lead_ids=ids, metrics_created=self.progress.last.counted,
                      metrics_event_ids=len(flat), metrics_distinct_ids=len(set(flat)),
                      metrics_expected=len(self.reader.event_ids), dead_letters=self.reader.dead_letters,
                      ledger_posted=await transfers.count_documents({**purchases, "state": "posted"}),
                      ledger_rejected=await transfers.count_documents({**purchases, "state": "rejected"}),
                      market_purchases=await self.db("marketplace")["purchases"].count_documents({}),
                      market_granted=self.progress.last.granted,
                      notifications={d["_id"]: (d["user"], d["seq"]) async for d in self.db("console")[
                          "notifications"].find({"tenant": self.tenant}, {"user": 1, "seq": 1})})


async def body(args: argparse.Namespace, run: str, out_path: Path, stack_env: dict[str, str],
               broker: PrivateBroker) -> int:
    bench = Run(args, run, out_path, stack_env, broker)
    producer = AIOKafkaProducer(bootstrap_servers=stack_env["TELESALES_KAFKA_BOOTSTRAP"], **LOAD_PRODUCER_OPTIONS)
    exits: list[str] = []
    try:
        await producer.start()
        async with httpx.AsyncClient() as http:
            bench.http = http
            try:
                await bench.execute(producer)
                stored = await bench.stored()
            finally:
                if bench.memory is not None:
                    await bench.memory.close()
                exits = await bench.fleet.stop()
    finally:
        await bench.reader.stop()
        await producer.stop()
        if not args.keep:
            for service in SERVICES:
                await bench.mongo.drop_database(bench.db(service).name)
        await bench.mongo.close()
    return conclude(args, bench, stored, exits, out_path)


def conclude(args: argparse.Namespace, bench: Run, stored: Stored, exits: list[str], out_path: Path) -> int:
    sent = [e for phase in bench.phases for e in phase.sent_ids]
    check = exactness(sent, bench.reader.qualified, stored)
    coins = coins_exactness([t for phase in bench.phases for t in phase.transfer_ids], bench.reader.answers, stored)
    console = console_exactness(bench.reader.notifications, stored)
    phases = phase_figures(bench.phases, bench.reader.qualified, bench.pooled_at, bench.progress,
                           bench.kill_at, bench.reader.answers)
    report = {
        "run": bench.run, "git": git_state(), "cpu_count": os.cpu_count(), "tenant": bench.tenant,
        "partitions": PARTITIONS, "replicas": args.replicas, "leads_per_burst": args.leads, "phases": phases,
        "events": bench.events, "metrics_holder": {"before kill": bench.metrics_holder_before,
                                                   "after": bench.metrics_holder_after},
        "exactness": {"ok": check.ok, **check.figures, "problems": check.problems},
        "coins_exactness": {"ok": coins.ok, **coins.figures, "problems": coins.problems},
        "console_exactness": {"ok": console.ok, **console.figures, "problems": console.problems},
        "memory_rss_bytes": bench.memory.points, "service_exits": exits, "warnings": bench.warnings,
        "settings": {"metrics": SERVICES["metrics"][3], "settle_s": args.settle},
    }
    publish_report(out_path, report, render(report))
    if not check.ok or not coins.ok or not console.ok or exits:
        say(f"BENCHMARK FAILED: {check.problems} {coins.problems} {console.problems} {exits}")
        return 1
    return 0


async def frame(args: argparse.Namespace) -> int:
    """The run: an id, the local stack's MongoDB, a private broker with 12 partitions per topic."""
    run = uuid.uuid4().hex[:10]
    out_path = args.out.resolve()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    say(f"scale-out benchmark: run {run}, 1..{args.replicas} replicas on {PARTITIONS} partitions, "
        f"bursts of {args.leads:,} leads, {os.cpu_count()} CPUs")
    stack_env = stack_up()
    if not (os.environ.get("TELESALES_PII_KEYRING") or os.environ.get("TELESALES_PII_KEYRING_FILE")):
        os.environ["TELESALES_PII_KEYRING"] = stack_env["TELESALES_PII_KEYRING"] = new_keyring_json("bench")
    broker = PrivateBroker(out_path.parent / f"scale-out-broker-{run}", partitions=PARTITIONS)
    try:
        stack_env["TELESALES_KAFKA_BOOTSTRAP"] = broker.start()
        note(f"private broker on {stack_env['TELESALES_KAFKA_BOOTSTRAP']} ({PARTITIONS} partitions), log {broker.log_path}")
        return await body(args, run, out_path, stack_env, broker)
    except InfraError as error:
        raise BenchError(str(error)) from error
    finally:
        broker.remove()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=3000, help="Leads of each measured burst (1, 2, 3 replicas).")
    parser.add_argument("--purchases", type=int, default=1500,
                        help="Purchase requests to the ledger in each burst (and in that ratio in kill/add).")
    parser.add_argument("--replicas", type=int, default=3, help="Replicas of each service at the most.")
    parser.add_argument("--kill-seconds", type=float, default=40.0, help="Length of the kill/add phase.")
    parser.add_argument("--kill-rate", type=float, default=0.0,
                        help="Leads/s in the kill/add phase, purchases in the bursts' ratio (default: half the rate of "
                             "each path's slowest stage in the last burst).")
    parser.add_argument("--settle", type=float, default=8.0, help="Seconds for the groups to rebalance.")
    add_run_options(parser, default_out=DEFAULT_OUT)
    args = parser.parse_args(argv)
    if min(args.leads, args.purchases) < 1 or args.replicas < 2 or args.kill_seconds <= 0 or args.settle < 0 \
            or args.kill_rate < 0:
        parser.error("--leads and --purchases must be positive, --replicas at least 2, --kill-seconds positive")
    return args


def main() -> int:
    args = parse_args()
    return run_benchmark(lambda: frame(args))


if __name__ == "__main__":
    sys.exit(main())
