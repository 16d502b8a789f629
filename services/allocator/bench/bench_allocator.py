#!/usr/bin/env python3
"""allocator benchmark on the real database, cache and broker (`make bench-allocator`).

Seeds 10,000 agents and 1,000,000 pooled leads into a database of its own on the local MongoDB, runs the
allocator in this process (its real wiring: `create_app` and its lifespan, so the embedded-outbox relay
publishes every claimed event to Kafka while claims run), and measures in one run:

  ceiling      single-document conditional find_one_and_update per second (by _id, `status: pooled`,
               the claim's own `$set` fields) on the same leads collection, with the same concurrency
               (measured before and after the claims; the higher counts)
  claims       LeadService.claim (what POST /v1/pools/{tier}/claim runs, without HTTP) by 100 concurrent
               claimers, each claim by a different agent, one lead per claim by default: claims/s and
               p50/p99 latency at saturation
  paced claims the same claimers at half the measured claim throughput: p50/p99 latency under load
  floor claims the same claimers at a busy floor's rate (every agent claims once every 2 minutes):
               p50/p99 latency
  sweep        one full reclaim sweep over the held leads (20 per agent, held since 0-12 days, half never
               called): seconds, examined/reclaimed/warned, checked against the rules computed here, and
               a second sweep that must change nothing
  hot leads    leads.signal.v1 for held leads published to Kafka at a steady rate; delay until each
               allocation.hot-lead.v1 is read back: p50/p99

Each phase also reports MongoDB's own operations and time per claim on the run's database, the explain plans
of the claim and sweep reads, and each process's RSS (alloc_probe.py). --scale seeds seed 001's floor
(40,000 agents, 4,000,000 leads) with worker processes (alloc_seed.py).

Targets (issue 20): claims >= 100 % of the ceiling, claim p99 <= 20 ms at half of saturation and at a floor's
rate, sweep <= 60 s, hot-lead p99 <= 1 s.
Exit 0 when everything was measured (also when a target is missed: "TARGET MISSED"), 1 when anything
failed or a check did not hold. See README.md beside this file.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import platform
import random
import re
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pymongo import AsyncMongoClient, ReturnDocument, UpdateMany

from allocator import domain
from allocator.events import CONSUMED_TOPICS
from allocator.main import create_app
from allocator.service import LeadService
from allocator.service.core import agent_facts
from allocator.settings import AllocatorSettings
from allocator.store import HELD, LEAN_LEAD, POOLED
from telesales_contracts.activity import LeadSignal, SignalKind
from telesales_contracts.topics import ALLOCATION_HOT_LEAD, LEADS_SIGNAL
from telesales_runtime.kafka import topic_partitions
from telesales_testkit.bench import (
    REPO_ROOT,
    BenchError,
    CpuWatch,
    bench_run,
    find_pids,
    git_state,
    latency_summary,
    note,
    publish_report,
    run_benchmark,
    say,
    wait_idle,
    wait_machine_quiet,
)
from telesales_testkit.kafka import position_group_at_end
from telesales_testkit.memory import Memory

sys.path.insert(0, str(Path(__file__).parent))  # the modules beside this file (also when loaded by path)
from alloc_probe import ServerWork, SweepProfile, explain_plans, memory_pids, render_probes  # noqa: E402
from alloc_seed import seed  # noqa: E402

DEFAULT_OUT = REPO_ROOT / "bench-results" / "allocator.json"
TARGET_RATIO = 1.00  # issue 20 (issue 3 asked for 0.50)
TARGET_CLAIM_P99_MS = 20.0
TARGET_SWEEP_S = 60.0
TARGET_HOT_LEAD_P99_MS = 1000.0
CEILING_AGENT = "bench-ceiling"
DISTURBED_PCT = 15.0
# --scale: seed 001's floor of 40,000 agents (every agent claims once every 120 s: 333 claims/s)
SCALE = {"agents": 40_000, "leads": 4_000_000, "seed_workers": 2, "floor_claims": 10_000}



@dataclass
class Context:
    args: argparse.Namespace
    run: str
    tenant: str
    stack_env: dict[str, str]
    mongo: AsyncMongoClient[dict[str, Any]]
    settings: AllocatorSettings
    warnings: list[str] = field(default_factory=list)
    agents: list[dict[str, Any]] = field(default_factory=list)

    @property
    def leads(self) -> Any:
        return self.mongo[self.settings.mongo_db]["leads"]

    def pids(self) -> dict[str, list[int]]:
        kafka_port = int(self.settings.kafka_bootstrap.rsplit(":", 1)[1])
        mongo_port = int(re.search(r":(\d+)/", self.settings.mongo_uri).group(1))  # type: ignore[union-attr]
        return {"bench (allocator + load)": [os.getpid()],
                **find_pids(kafka_port, mongo_port, exclude={os.getpid()})}


async def settle(ctx: Context) -> None:
    """Before a measurement: MongoDB done with the previous phase's background work (checkpoints write
    and compress what the phase changed: after the seed, most of a gigabyte), then a quiet machine."""
    mongod = ctx.pids().get("mongod", [])
    await wait_idle(mongod, "mongod (checkpoint of the previous phase)", timeout=ctx.args.idle_timeout, threshold=0.10)
    await wait_machine_quiet(ctx.args.idle_timeout)


# =============================================================================== ceiling
async def measure_ceiling(ctx: Context, lead_ids: list[str]) -> dict[str, Any]:
    """The raw single-document conditional write a claim is built on, on the same collection and with
    the same concurrency; the leads are put back in the pool afterwards (not measured)."""
    now = datetime.now(UTC)
    ids = iter(lead_ids)
    latencies: list[float] = []
    missed = 0

    async def worker() -> None:
        nonlocal missed
        for lead_id in ids:
            started = time.perf_counter()
            doc = await ctx.leads.find_one_and_update(
                {"_id": lead_id, "tenant_id": ctx.tenant, "status": POOLED},
                {"$set": {"status": HELD, "holder": CEILING_AGENT, "held_since": now, "updated_at": now}},
                projection=LEAN_LEAD, return_document=ReturnDocument.AFTER)
            latencies.append(time.perf_counter() - started)
            if doc is None:
                missed += 1

    work = await ServerWork(ctx.mongo, ctx.settings.mongo_db).start()
    watch = CpuWatch(ctx.pids()).start()
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(ctx.args.claimers)))
    elapsed = time.perf_counter() - started
    cpu = watch.stop()
    server_work = await work.stop(len(lead_ids))
    if missed:
        raise BenchError(f"ceiling: {missed} of {len(lead_ids)} leads were not pooled")
    restored = await ctx.leads.update_many({"tenant_id": ctx.tenant, "holder": CEILING_AGENT, "status": HELD},
                                           {"$set": {"status": POOLED, "holder": None, "held_since": None}})
    if restored.modified_count != len(lead_ids):
        raise BenchError(f"ceiling: put back {restored.modified_count} of {len(lead_ids)} leads")
    return {"ops": len(lead_ids), "elapsed_s": elapsed, "throughput_per_s": len(lead_ids) / elapsed,
            "latency": latency_summary(latencies), "cpu": cpu, "server_work": server_work}


# =============================================================================== claims
@dataclass
class ClaimRun:
    requests: int = 0
    leads: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    lead_ids: list[str] = field(default_factory=list)
    agents: list[str] = field(default_factory=list)


async def run_claims(ctx: Context, service: LeadService, agent_cycle: Any, total: int, rate: float | None
                     ) -> tuple[ClaimRun, float, dict[str, Any]]:
    """`total` claims by `ctx.args.claimers` concurrent claimers; each claim by the next agent of the
    cycle (so no two claimers use the same agent at once). With `rate`, claims start on a fixed schedule
    of `rate` per second overall (latency then includes any wait behind the schedule)."""
    result = ClaimRun()
    tickets = iter(range(total))
    loop = asyncio.get_running_loop()
    started = loop.time()

    async def claimer() -> None:
        for ticket in tickets:
            agent = next(agent_cycle)
            if rate is not None:
                due = started + ticket / rate
                if (wait := due - loop.time()) > 0:
                    await asyncio.sleep(wait)
                began = due
            else:
                began = loop.time()
            try:
                claimed = await service.claim(tenant=ctx.tenant, agent_id=agent["agent_id"], tier_id="fresh",
                                              count=ctx.args.claim_size)
            except domain.DomainError as error:
                result.refused[error.code] = result.refused.get(error.code, 0) + 1
                continue
            finally:
                result.latencies.append(loop.time() - began)
            result.requests += 1
            result.leads += len(claimed.leads)
            result.lead_ids.extend(lead["_id"] for lead in claimed.leads)
            result.agents.extend(agent["agent_id"] for _ in claimed.leads)

    watch = CpuWatch(ctx.pids()).start()
    t0 = time.perf_counter()
    await asyncio.gather(*(claimer() for _ in range(ctx.args.claimers)))
    elapsed = time.perf_counter() - t0
    return result, elapsed, watch.stop()


async def check_claims(ctx: Context, runs: list[ClaimRun]) -> dict[str, Any]:
    """Every claimed lead is held once, by the agent that claimed it, and no lead was given twice."""
    lead_ids = [lead_id for run in runs for lead_id in run.lead_ids]
    if len(set(lead_ids)) != len(lead_ids):
        raise BenchError(f"claims: {len(lead_ids) - len(set(lead_ids))} leads were given twice")
    expected = dict(zip(lead_ids, (a for run in runs for a in run.agents), strict=True))
    wrong = 0
    for start in range(0, len(lead_ids), 10_000):
        chunk = lead_ids[start:start + 10_000]
        async for doc in ctx.leads.find({"_id": {"$in": chunk}}, {"holder": 1, "status": 1}):
            if doc["status"] != HELD or doc["holder"] != expected[doc["_id"]]:
                wrong += 1
    if wrong:
        raise BenchError(f"claims: {wrong} claimed leads are not held by the agent that claimed them")
    return {"claimed_leads": len(lead_ids), "all_held_by_their_claimer": True}


async def wait_relayed(ctx: Context, timeout: float) -> float:
    """Seconds until the relays have published every event waiting in the leads' embedded outboxes and in
    the outbox collection."""
    rows = ctx.mongo[ctx.settings.mongo_db]["outbox"]
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if (await ctx.leads.count_documents({"outbox_at": {"$exists": True}}, limit=1) == 0
                and await rows.count_documents({}, limit=1) == 0):
            return time.perf_counter() - started
        await asyncio.sleep(0.05)
    pending = await ctx.leads.count_documents({"outbox_at": {"$exists": True}})
    raise BenchError(f"the relays left {pending:,} leads with unpublished events and "
                     f"{await rows.count_documents({}):,} outbox rows after {timeout:.0f}s")


# =============================================================================== sweep
async def prepare_sweep(ctx: Context, policy: domain.AllocationPolicy, now: datetime) -> dict[str, int]:
    """Give each agent `--held-per-agent` pooled leads, held since 0-12 days, half never called since,
    some with a deal in progress (exempt), and count what the rules say the sweep must do."""
    rng = random.Random(ctx.args.seed + 1)
    per_agent = ctx.args.held_per_agent
    ops: list[UpdateMany] = []
    expected = {"reclaimed": 0, "warned": 0}
    cursor = ctx.leads.find({"tenant_id": ctx.tenant, "status": POOLED}, {"_id": 1, "pool_id": 1},
                            sort=[("_id", -1)], limit=per_agent * len(ctx.agents))
    pooled = [doc async for doc in cursor]
    if len(pooled) < per_agent * len(ctx.agents):
        raise BenchError(f"sweep: only {len(pooled):,} pooled leads left to hold")
    for index, agent in enumerate(ctx.agents):
        held_since = now - timedelta(hours=rng.uniform(0, 12 * 24))
        called = rng.random() < 0.5
        deal = rng.random() < 0.05
        # a called lead's stage last advanced somewhere between getting it and now
        progress_at = held_since + (now - held_since) * (rng.random() if called else 0.0)
        chunk = pooled[index * per_agent:(index + 1) * per_agent]
        ops.append(UpdateMany({"_id": {"$in": [d["_id"] for d in chunk]}, "status": POOLED}, {"$set": {
            "status": HELD, "holder": agent["agent_id"], "holder_team": agent["team_id"],
            "holder_grade": agent["grade"], "held_since": held_since, "held_via": "assigned",
            "awaiting_first_call": not called, "progress_at": progress_at, "warned_for": None,
            # an approved deal-in-progress mark, in force past `now`
            "deal_mark": {"request_id": f"bench-{index}", "status": "approved", "agent_id": agent["agent_id"],
                          "requested_at": held_since, "expires_at": now + timedelta(days=30)} if deal else None,
            "deal_in_progress": deal}}))
        for lead in chunk:
            schedule = domain.reclaim_schedule(domain.HeldLeadFacts(
                pool_id=lead["pool_id"], stage_percent=0, held_since=held_since, called_since_held=called,
                stage_advanced_at=progress_at, protected_until=now + timedelta(days=30) if deal else None), policy)
            if schedule is not None and schedule.reclaim_at <= now:
                expected["reclaimed"] += 1
            elif schedule is not None and schedule.warn_at <= now:
                expected["warned"] += 1
    modified = 0
    for start in range(0, len(ops), 500):
        modified += (await ctx.leads.bulk_write(ops[start:start + 500], ordered=False)).modified_count
    if modified != len(pooled):
        raise BenchError(f"sweep: could hold only {modified:,} of {len(pooled):,} prepared leads")
    return expected


async def measure_sweep(ctx: Context, service: LeadService) -> dict[str, Any]:
    policy, _ = await service.store.policy(ctx.tenant)
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    expected = await prepare_sweep(ctx, policy, now)
    prepare_s = time.perf_counter() - t0
    held = await ctx.leads.count_documents({"tenant_id": ctx.tenant, "status": HELD})
    plans = await explain(ctx, service, ctx.agents[0], now)  # on the leads as the sweep finds them
    await settle(ctx)
    say(f"    sweeping {held:,} held leads ...")
    profiler = await SweepProfile(ctx.mongo[ctx.settings.mongo_db]).start() if ctx.args.profile_sweep else None
    work = await ServerWork(ctx.mongo, ctx.settings.mongo_db).start()
    watch = CpuWatch(ctx.pids()).start()
    t1 = time.perf_counter()
    first = await service.sweep_tenant(ctx.tenant, now)
    sweep_s = time.perf_counter() - t1
    # The sweep's events are not out until the relays have published and acknowledged them: their work
    # (the acknowledgement writes included) is part of the sweep's cost, and of the server work below.
    relayed_s = await wait_relayed(ctx, ctx.args.timeout * 3)
    cpu = watch.stop()
    server_work = await work.stop(max(1, first["examined"]))
    profile = await profiler.stop() if profiler is not None else None
    # The claims of this run are held since minutes ago: due for nothing; every due lead was prepared.
    if first["reclaimed"] != expected["reclaimed"] or first["warned"] != expected["warned"]:
        raise BenchError(f"sweep: reclaimed {first['reclaimed']:,} and warned {first['warned']:,}; the rules say "
                         f"{expected['reclaimed']:,} and {expected['warned']:,}")
    overdue_left = await ctx.leads.count_documents({
        "tenant_id": ctx.tenant, "status": HELD, "awaiting_first_call": True, "deal_in_progress": False,
        "held_since": {"$lte": now - timedelta(days=policy.reclaim_rule("", 0).not_processed_days or 0)}})
    t2 = time.perf_counter()
    second = await service.sweep_tenant(ctx.tenant, now)
    second_s = time.perf_counter() - t2
    if second["reclaimed"] or second["warned"]:
        raise BenchError(f"sweep: a second sweep at the same time changed leads again: {second}")
    return {"held_before": held, "prepare_s": prepare_s, "elapsed_s": sweep_s, "relayed_after_s": relayed_s,
            "with_relay_s": sweep_s + relayed_s, "profile": profile, "totals": first,
            "expected": expected, "overdue_left_after": overdue_left, "second_sweep": second,
            "second_sweep_s": second_s, "cpu": cpu, "server_work": server_work, "plans": plans}


# =============================================================================== hot leads
async def measure_hot_leads(ctx: Context, app: Any, held_lead_ids: list[str]) -> dict[str, Any]:
    bootstrap = ctx.settings.kafka_bootstrap
    leads = held_lead_ids[:ctx.args.signals]
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=20)
    await reader.start()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=0, enable_idempotence=False)
    await producer.start()
    sent: dict[str, tuple[float, float]] = {}
    seen: dict[str, tuple[float, float]] = {}
    try:
        partitions = await topic_partitions(reader, [ALLOCATION_HOT_LEAD.name])
        if not partitions:
            raise BenchError(f"topic {ALLOCATION_HOT_LEAD.name} does not exist")
        reader.assign(partitions)
        await reader.seek_to_end()
        for tp in partitions:
            await reader.position(tp)

        async def read() -> None:
            while len(seen) < len(leads):
                batches = await reader.getmany(timeout_ms=100)
                now_perf = time.perf_counter()
                for records in batches.values():
                    for record in records:
                        event = ALLOCATION_HOT_LEAD.parse(record.value)
                        if event.tenantid == ctx.tenant and event.data.signal_event_id in sent:
                            seen.setdefault(event.data.signal_event_id, (now_perf, record.timestamp / 1000))

        reading = asyncio.create_task(read())
        loop = asyncio.get_running_loop()
        started = loop.time()
        kinds = list(SignalKind)
        for i, lead_id in enumerate(leads):
            due = started + i / ctx.args.signal_rate
            if (wait := due - loop.time()) > 0:
                await asyncio.sleep(wait)
            event = LEADS_SIGNAL.event(LeadSignal(lead_id=lead_id, kind=kinds[i % len(kinds)], detail="bench",
                                                  occurred_at=datetime.now(UTC)),
                                       source="/bench/allocator", tenantid=ctx.tenant, subject=lead_id)
            sent[event.id] = (time.perf_counter(), time.time())
            await producer.send(LEADS_SIGNAL.name, event.to_json_bytes(), key=lead_id.encode())
        await producer.flush()
        try:
            await asyncio.wait_for(reading, timeout=ctx.args.timeout)
        except TimeoutError as error:
            raise BenchError(f"hot leads: {len(seen)} of {len(leads)} alerts arrived within {ctx.args.timeout:.0f}s"
                             ) from error
    finally:
        await producer.stop()
        await reader.stop()
    delays = [seen[i][0] - sent[i][0] for i in sent]
    by_timestamp = [seen[i][1] - sent[i][1] for i in sent]
    return {"signals": len(leads), "rate_per_s": ctx.args.signal_rate, "latency": latency_summary(delays),
            "latency_by_kafka_timestamp": latency_summary(by_timestamp)}


# =============================================================================== report
def render(report: dict[str, Any]) -> str:
    ceiling, claims, paced, floor, sweep, hot = (report[k] for k in ("ceiling", "claims", "paced_claims", "floor_claims",
                                                                      "sweep", "hot_leads"))
    w = 60
    verdict = report["verdict"]

    def mark(key: str) -> str:
        return "met" if verdict[key] else "TARGET MISSED"

    lines = [
        f"allocator benchmark  run {report['run']}  {report['date']}  {report['cpu_count']} CPUs  "
        f"commit {report['git']['commit']}",
        f"{report['seed']['agents']:,} agents, {report['seed']['leads']:,} pooled leads "
        f"(avg {report['seed']['avg_lead_bson_bytes']:,.0f} B BSON, data {report['seed']['leads_data_mb']:,.0f} MB, "
        f"indexes {report['seed']['leads_index_mb']:,.0f} MB), {report['claimers']} concurrent claimers, "
        f"{report['claim_size']} lead(s) per claim",
        "-" * 96,
        f"{'ceiling: conditional find_one_and_update by _id (before / after)':<{w}} "
        f"{ceiling['before']['throughput_per_s']:>8,.0f} / {ceiling['after']['throughput_per_s']:,.0f} /s",
        f"{'claims at saturation':<{w}} {claims['throughput_per_s']:>8,.0f} claims/s "
        f"({claims['leads_per_s']:,.0f} leads/s)",
        f"{'ratio claims / ceiling':<{w}} {100 * report['ratio']:>8.1f} %   target >= {100 * TARGET_RATIO:.0f} %: "
        f"{mark('ratio')}",
        f"{'claim latency at saturation (ms)':<{w}} p50 {claims['latency']['p50_ms']:,.1f}   "
        f"p99 {claims['latency']['p99_ms']:,.1f}   max {claims['latency']['max_ms']:,.1f}",
        f"{'   (ceiling latency, same concurrency, ms)':<{w}} p50 {ceiling['before']['latency']['p50_ms']:,.1f}   "
        f"p99 {ceiling['before']['latency']['p99_ms']:,.1f}",
        f"{'claim latency at ' + format(paced['offered_per_s'], ',.0f') + ' claims/s (half of saturation, ms)':<{w}} "
        f"p50 {paced['latency']['p50_ms']:,.1f}   p99 {paced['latency']['p99_ms']:,.1f}   "
        f"max {paced['latency']['max_ms']:,.1f}   target p99 <= {TARGET_CLAIM_P99_MS:.0f}: {mark('claim_p99')}",
        f"{'claim latency at ' + format(floor['offered_per_s'], ',.0f') + ' claims/s (every agent every ' + format(report['floor_interval_s'], '.0f') + ' s, ms)':<{w}} "
        f"p50 {floor['latency']['p50_ms']:,.1f}   p99 {floor['latency']['p99_ms']:,.1f}   "
        f"max {floor['latency']['max_ms']:,.1f}   target p99 <= {TARGET_CLAIM_P99_MS:.0f}: {mark('floor_claim_p99')}",
        f"{'relay: claimed events still unpublished after the claims':<{w}} drained in {claims['relay_drain_s']:.1f} s",
        f"{'full reclaim sweep over ' + format(sweep['held_before'], ',') + ' held leads':<{w}} "
        f"{sweep['elapsed_s']:>8.1f} s   target <= {TARGET_SWEEP_S:.0f} s: {mark('sweep')}",
        f"{'   and until its events were published and acknowledged':<{w}} {sweep['with_relay_s']:>8.1f} s "
        f"(relays done {sweep['relayed_after_s']:.1f} s after the sweep)",
        f"{'   examined / reclaimed / warned (as the rules say)':<{w}} {sweep['totals']['examined']:,} / "
        f"{sweep['totals']['reclaimed']:,} / {sweep['totals']['warned']:,}; second sweep "
        f"{sweep['second_sweep_s']:.1f} s, changed nothing",
        f"{'hot lead: leads.signal.v1 -> allocation.hot-lead.v1 (ms)':<{w}} p50 {hot['latency']['p50_ms']:,.0f}   "
        f"p99 {hot['latency']['p99_ms']:,.0f}   max {hot['latency']['max_ms']:,.0f}   "
        f"target p99 <= {TARGET_HOT_LEAD_P99_MS:.0f}: {mark('hot_lead_p99')}",
        f"{'   (' + format(hot['signals'], ',') + ' signals at ' + format(hot['rate_per_s'], ',.0f') + '/s; by Kafka timestamps)':<{w}} "
        f"p50 {hot['latency_by_kafka_timestamp']['p50_ms']:,.0f}   p99 {hot['latency_by_kafka_timestamp']['p99_ms']:,.0f}",
        "-" * 96,
        "CPU during the claims at saturation (% of one core):",
    ]
    for label, pct in claims["cpu"]["pct_of_one_core"].items():
        lines.append(f"   {label:<40} {pct:>6.0f} %   ceiling: {ceiling['before']['cpu']['pct_of_one_core'].get(label, 0):.0f} %")
    lines.append(f"   {'machine busy':<40} {claims['cpu']['machine_busy_pct']:>6.0f} % of all cores")
    if claims["refused"]:
        lines.append(f"claims refused: {claims['refused']}")
    for text in report["warnings"]:
        lines.append(f"note: {text}")
    return "\n".join(lines)


# =============================================================================== main
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--claimers", type=int, default=100, help="concurrent claimers (default 100)")
    parser.add_argument("--claims", type=int, default=30_000, help="claims at saturation (default 30000)")
    parser.add_argument("--paced-claims", type=int, default=10_000, help="claims at half the saturation rate")
    parser.add_argument("--floor-claims", type=int, default=3000, help="claims at a busy floor's rate")
    parser.add_argument("--floor-interval", type=float, default=120.0,
                        help="seconds between two claims of one agent on a busy floor (default 120)")
    parser.add_argument("--claim-size", type=int, default=1, help="leads asked for per claim (default 1)")
    parser.add_argument("--held-per-agent", type=int, default=20, help="held leads per agent for the sweep")
    parser.add_argument("--profile-sweep", action="store_true",
                        help="profile every operation of the sweep and its relays (MongoDB's profiler, level 2): "
                             "slows the sweep, so its time is not comparable with an unprofiled run's")
    parser.add_argument("--signals", type=int, default=2000, help="behaviour signals for the hot-lead delay")
    parser.add_argument("--signal-rate", type=float, default=200.0, help="signals per second (default 200)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    parser.add_argument("--seed", type=int, default=20261124)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for relays and alerts")
    parser.add_argument("--idle-timeout", type=float, default=180.0,
                        help="longest wait before a phase for mongod and the machine to go quiet (default 180 s)")
    parser.add_argument("--stack-broker", dest="private_broker", action="store_false",
                        help="use the local stack's broker instead of a fresh Apache Kafka node of its own")
    parser.add_argument("--seed-workers", type=int, default=0,
                        help="build the leads in N worker processes and insert them with the secondary indexes "
                             "dropped, built once at the end (default 0: in this process, indexes in place)")
    parser.add_argument("--scale", action="store_true",
                        help=f"a seed-001 floor: {SCALE['agents']:,} agents, {SCALE['leads']:,} leads, seeded by "
                             f"{SCALE['seed_workers']} workers, {SCALE['floor_claims']:,} floor claims (each of "
                             "these unless given)")
    args = parser.parse_args(argv)
    if args.scale:  # the scale defaults, unless an option says otherwise
        given = {a.split("=")[0].lstrip("-").replace("-", "_") for a in (argv if argv is not None else sys.argv[1:])}
        for name, value in SCALE.items():
            if name not in given:
                setattr(args, name, value)
    if args.agents < args.claimers:
        parser.error("--agents must be at least --claimers (each claimer works as a different agent)")
    needed = ((args.claims + args.paced_claims + args.floor_claims) * args.claim_size
              + args.agents * args.held_per_agent)
    if args.leads < needed + args.claims:
        parser.error(f"--leads must be at least {needed + args.claims:,} for these claims and held leads")
    return args


async def amain(args: argparse.Namespace) -> int:
    return await bench_run("allocator", args.out, args.private_broker, f"{args.agents:,} agents, {args.leads:,} leads",
                           lambda run, out_path, stack_env: _amain(args, run, out_path, stack_env))


async def _amain(args: argparse.Namespace, run: str, out_path: Path, stack_env: dict[str, str]) -> int:
    settings = AllocatorSettings(
        kafka_bootstrap=stack_env["TELESALES_KAFKA_BOOTSTRAP"], mongo_uri=stack_env["TELESALES_MONGO_URI"],
        redis_url=stack_env["TELESALES_REDIS_URL"], mongo_db=f"bench_allocator_{run}",
        consumer_group=f"bench-allocator-{run}", event_source=f"/services/allocator/bench-{run}",
        log_level="WARNING", sweep_enabled=False)
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongo_uri, tz_aware=True,
                                                               appname="bench-allocator")
    ctx = Context(args, run, f"bench-{run}", stack_env, mongo, settings)
    for topic in CONSUMED_TOPICS:  # a shared broker's history is not this run's business
        await position_group_at_end(settings.kafka_bootstrap, settings.consumer_group, topic.name)
    app = create_app(settings)
    memory = None
    try:
        async with app.router.lifespan_context(app):
            redis_port = int(settings.redis_url.rsplit(":", 1)[1].split("/")[0])
            memory = Memory(memory_pids(ctx.pids(), redis_port))
            memory.take("idle (ready, before the seed)")
            report = await measure(ctx, app, memory)
            memory.take("after the run")
    except BenchError as error:
        say(f"\nBENCHMARK FAILED: {error}")
        return 1
    finally:
        if memory is not None:
            await memory.close()
        if args.keep:
            note(f"--keep: database {settings.mongo_db} left in place")
        else:
            with contextlib.suppress(Exception):
                await mongo.drop_database(settings.mongo_db)
        await mongo.close()
    report["memory_rss_bytes"] = memory.points
    finish_report(ctx, report)
    publish_report(out_path, report, render(report) + "\n" + render_probes(report))
    return 0


async def measure(ctx: Context, app: Any, memory: Memory) -> dict[str, Any]:
    """Every phase, in order, each after the machine has settled; the figures of the report."""
    args, service = ctx.args, app.state.leads
    say("1/6 seed: agents and pooled leads ...")
    seeded = await seed(ctx, app)
    say(f"    {seeded['agents']:,} agents, {seeded['leads']:,} leads in {seeded['leads_s']:.0f}s "
        f"(+ indexes {seeded['indexes_s']:.0f}s)")
    memory.take("idle (seeded)")
    rng = random.Random(args.seed + 2)
    # The ceiling writes random pooled leads that no claim of this run reaches (claims take the
    # best-scored fresh leads first); they are put back in the pool after each measurement.
    ceiling_ids = [doc["_id"] async for doc in await ctx.leads.aggregate([
        {"$match": {"tenant_id": ctx.tenant, "status": POOLED, "score": {"$lt": 45}}},
        {"$sample": {"size": args.claims}}, {"$project": {"_id": 1}}])]
    rng.shuffle(ceiling_ids)
    agents = ctx.agents[:]
    rng.shuffle(agents)
    agent_cycle = itertools.cycle(agents)

    await settle(ctx)
    say("2/6 ceiling: conditional find_one_and_update by _id ...")
    memory.phase = "ceiling"
    before = await measure_ceiling(ctx, ceiling_ids[: args.claims // 2])
    say(f"    {before['throughput_per_s']:,.0f}/s")
    memory.phase = None

    claims, runs = await claim_phases(ctx, service, agent_cycle, memory, ceiling_ids)
    checked = await check_claims(ctx, runs)

    say("5/6 reclaim sweep ...")
    memory.phase = "sweep"
    sweep = await measure_sweep(ctx, service)
    memory.phase = None
    say(f"    {sweep['elapsed_s']:.1f}s: {sweep['totals']}")
    await wait_relayed(ctx, args.timeout * 3)

    say(f"6/6 hot leads: {args.signals:,} signals at {args.signal_rate:,.0f}/s ...")
    memory.phase = "hot leads"
    hot = await measure_hot_leads(ctx, app, runs[0].lead_ids)
    memory.phase = None
    say(f"    p99 {hot['latency']['p99_ms']:,.0f} ms")
    return {"seed": seeded, "ceiling": {"before": before, "after": claims.pop("ceiling_after")}, **claims,
            "claims_check": checked, "sweep": sweep, "hot_leads": hot, "plans": sweep.pop("plans")}


async def explain(ctx: Context, service: LeadService, agent: dict[str, Any], now: datetime) -> dict[str, Any]:
    policy, tier = await service.policy(ctx.tenant), await service.tier(ctx.tenant, "fresh")
    facts = agent_facts(await service.agent_doc(ctx.tenant, agent["agent_id"]), policy)
    pools = domain.tier_pool_ids(tier, facts, await service.pools_of_line(ctx.tenant, agent["business_line"]))
    days = [d for r in policy.reclaim_rules for d in (r.not_processed_days, r.not_converted_days) if d is not None]
    horizon = now - timedelta(days=min(days, default=0)) + timedelta(hours=policy.reclaim_warning_hours)
    return await explain_plans(service.store, ctx.tenant, agent, pools, tier, policy, horizon)


async def claims_phase(ctx: Context, service: LeadService, agent_cycle: Any, total: int, rate: float | None
                       ) -> tuple[ClaimRun, dict[str, Any]]:
    work = await ServerWork(ctx.mongo, ctx.settings.mongo_db).start()
    run, elapsed, cpu = await run_claims(ctx, service, agent_cycle, total, rate)
    drain_s = await wait_relayed(ctx, ctx.args.timeout)  # the relay's work is part of the claims'
    figures = {"requests": run.requests, "leads": run.leads, "refused": run.refused, "elapsed_s": elapsed,
               "throughput_per_s": run.requests / elapsed, "leads_per_s": run.leads / elapsed,
               "latency": latency_summary(run.latencies), "relay_drain_s": drain_s, "cpu": cpu,
               "server_work": await work.stop(run.requests)}
    if rate is not None:
        figures |= {"offered_per_s": rate, "achieved_per_s": figures.pop("throughput_per_s")}
    return run, figures


async def claim_phases(ctx: Context, service: LeadService, agent_cycle: Any, memory: Memory, ceiling_ids: list[str]
                       ) -> tuple[dict[str, Any], list[ClaimRun]]:
    """Claims at saturation, the ceiling again, then claims paced at half of saturation and at a floor's rate."""
    args = ctx.args
    await settle(ctx)
    say(f"3/6 claims: {args.claims:,} claims by {args.claimers} concurrent claimers ...")
    memory.phase = "claims at saturation"
    saturated, claims = await claims_phase(ctx, service, agent_cycle, args.claims, None)
    memory.phase = None
    say(f"    {claims['throughput_per_s']:,.0f} claims/s, p99 {claims['latency']['p99_ms']:,.1f} ms; "
        f"events relayed {claims['relay_drain_s']:.1f}s after the last claim")
    await settle(ctx)
    after = await measure_ceiling(ctx, ceiling_ids[args.claims // 2:])
    say(f"    ceiling after the claims: {after['throughput_per_s']:,.0f}/s")
    rate = claims["throughput_per_s"] / 2
    await settle(ctx)
    say(f"4/6 paced claims: {args.paced_claims:,} claims at {rate:,.0f}/s ...")
    memory.phase = "claims at half of saturation"
    paced_run, paced = await claims_phase(ctx, service, agent_cycle, args.paced_claims, rate)
    say(f"    p50 {paced['latency']['p50_ms']:,.1f} ms, p99 {paced['latency']['p99_ms']:,.1f} ms")
    floor_rate = args.agents / args.floor_interval
    await settle(ctx)
    say(f"    floor claims: {args.floor_claims:,} claims at {floor_rate:,.0f}/s ...")
    memory.phase = "claims at a floor's rate"
    floor_run, floor = await claims_phase(ctx, service, agent_cycle, args.floor_claims, floor_rate)
    memory.phase = None
    say(f"    p50 {floor['latency']['p50_ms']:,.1f} ms, p99 {floor['latency']['p99_ms']:,.1f} ms")
    runs = [saturated, paced_run, floor_run]
    if any(run.refused for run in runs):
        raise BenchError(f"claims were refused: {[run.refused for run in runs]}")
    return {"claims": claims, "paced_claims": paced, "floor_claims": floor, "ceiling_after": after}, runs


def finish_report(ctx: Context, report: dict[str, Any]) -> None:
    """The ratio, the verdicts and the warnings of a disturbed run, added to the figures."""
    args, before, after = ctx.args, report["ceiling"]["before"], report["ceiling"]["after"]
    ceiling_best = max(before["throughput_per_s"], after["throughput_per_s"])
    report["ceiling"]["best_per_s"] = ceiling_best
    ratio = report["claims"]["throughput_per_s"] / ceiling_best
    for phase, cpu_figures in (("ceiling", before["cpu"]), ("claims", report["claims"]["cpu"]),
                               ("sweep", report["sweep"]["cpu"])):
        other = cpu_figures["pct_of_one_core"].get("everything else on the machine", 0.0)
        if other > DISTURBED_PCT:
            ctx.warnings.append(f"DISTURBED: during {phase}, processes outside the benchmark used {other:.0f} % of "
                                f"a core: this run's figures are not clean")
    report.update({
        "run": ctx.run, "date": datetime.now(UTC).isoformat(timespec="seconds"), "cpu_count": os.cpu_count(),
        "machine": {"platform": platform.platform(), "python": platform.python_version()}, "git": git_state(),
        "tenant": ctx.tenant, "claimers": args.claimers, "claim_size": args.claim_size,
        "floor_interval_s": args.floor_interval, "ratio": ratio,
        "verdict": {"ratio": ratio >= TARGET_RATIO,
                    "claim_p99": report["paced_claims"]["latency"]["p99_ms"] <= TARGET_CLAIM_P99_MS,
                    "floor_claim_p99": report["floor_claims"]["latency"]["p99_ms"] <= TARGET_CLAIM_P99_MS,
                    "sweep": report["sweep"]["elapsed_s"] <= TARGET_SWEEP_S,
                    "hot_lead_p99": report["hot_leads"]["latency"]["p99_ms"] <= TARGET_HOT_LEAD_P99_MS},
        "warnings": ctx.warnings})


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_benchmark(lambda: amain(args))


if __name__ == "__main__":
    sys.exit(main())
