#!/usr/bin/env python3
"""console live-channel benchmark on the real broker, MongoDB and Redis (`make bench-console`).

Starts one console process (uvicorn, `console.main:create_app_from_env`, as `make up` runs it) against the local
stack with a private Kafka node, then:

  connect      N agents (default 10,000), each with its own bearer token, open GET /v1/notifications/stream
               from load-generator processes (raw asyncio streams); memory per connection = the console's
               RSS after connecting minus before, over N
  paced        hot-lead events for random agents published to Kafka at a floor's rate (default 300/s for 30 s):
               delivery latency publish -> receipt at the SSE client (p50/p99/max; target p99 <= 1 s)
  saturation   a burst of events published as fast as the producer goes: notifications delivered per second
               (first publish -> last receipt)
  checks       every event received exactly once, by its agent, in seq order

CPU of the console process is measured in each phase. Exit 0 when everything was measured (also when the
target is missed: "TARGET MISSED"), 1 when an event was lost, repeated or misdelivered, or anything broke.
`--agents 200 --seconds 5` makes a quick smoke run. See README.md beside this file.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from telesales_contracts import CLOUDEVENTS_CONTENT_TYPE
from telesales_runtime.auth import mint_token
from telesales_testkit.bench import (
    LOAD_PRODUCER_OPTIONS,
    REPO_ROOT,
    BenchError,
    CpuWatch,
    ServiceProcess,
    bench_run,
    free_port,
    git_state,
    latency_summary,
    note,
    publish_report,
    run_benchmark,
    say,
)
from telesales_testkit.memory import rss_bytes
from telesales_testkit.sse_load import LoadProcess, StreamLoad, agent_id

DEFAULT_OUT = REPO_ROOT / "bench-results" / "console.json"
TOPIC = "allocation.hot-lead.v1"
TARGET_P99_S = 1.0


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


# ------------------------------------------------------------------------------- load generator process
class Loader(StreamLoad):
    """N SSE connections; records each event's latency (the publish time is in the event's `detail`) and checks
    that each reached its own agent (seqs are checked by StreamLoad)."""

    def __init__(self, port: int, tenant: str, first: int, count: int) -> None:
        super().__init__(port, first, count)
        self.tenant = tenant
        self.latencies: dict[str, list[float]] = {"p": [], "s": []}
        self.last_receipt_ns = 0

    def token_for(self, i: int) -> str:
        return mint_token(agent_id(i), "agent", tenant=self.tenant, ttl_seconds=7200)

    def notified(self, user: str, seq: int, notification: dict[str, Any], read_at_ns: int) -> None:
        lead_id = notification["subject"]["lead_id"]
        if lead_id.split(":")[0] != user:
            self.error(f"{user}: seq {seq} is {lead_id}, another agent's")
        phase, _, sent = notification["subject"]["detail"].partition(":")
        self.latencies[phase].append(round((read_at_ns - int(sent)) / 1e9, 5))
        self.last_receipt_ns = max(self.last_receipt_ns, read_at_ns)

    def progress_fields(self) -> list[Any]:
        return [len(self.latencies["p"]), len(self.latencies["s"]), self.last_receipt_ns]

    def result(self) -> dict[str, Any]:
        return {"latencies": self.latencies, "last_receipt_ns": self.last_receipt_ns}


class LoaderProcess(LoadProcess):
    """The benchmark's side of one load-generator process: paced and saturation notifications read so far, and
    when the last was read."""

    @property
    def paced(self) -> int:
        return int(self.progress_field(0))

    @property
    def saturation(self) -> int:
        return int(self.progress_field(1))

    @property
    def last_receipt_ns(self) -> int:
        return int(self.progress_field(2))


# ------------------------------------------------------------------------------- the run
def event(tenant: str, agent: str, detail: str, n: int) -> bytes:
    data = {"lead_id": f"{agent}:{n}", "agent_id": agent, "routed": "holder", "kind": "unpaid_order",
            "detail": detail, "occurred_at": "2026-11-24T09:30:00+08:00", "signal_event_id": f"sig-{n}"}
    return json.dumps({"specversion": "1.0", "id": f"bench-{tenant}-{n}", "source": "/bench", "time":
                       "2026-11-24T09:30:00+08:00", "type": f"telesales.{TOPIC}", "tenantid": tenant,
                       "data": data}).encode()


async def wait_delivered(loaders: list[LoaderProcess], phase: str, expected: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while True:
        got = sum(lp.paced if phase == "p" else lp.saturation for lp in loaders)
        if got >= expected or time.monotonic() > deadline:
            return got
        await asyncio.sleep(0.25)


async def body(args: argparse.Namespace, run: str, out_path: Path, stack_env: dict[str, str]) -> int:
    tenant = f"bench-{run}"
    console = ServiceProcess("console", "console.main:create_app_from_env", free_port(),
                             out_path.parent / f"console-{run}.log", env={
                                 "CONSOLE_MONGO_DB": f"bench_console_{run}", "CONSOLE_CONSUMER_GROUP": f"bench-{run}",
                                 "CONSOLE_NOTIFICATION_CHANNEL": f"bench:console:{run}", "CONSOLE_LOG_LEVEL": "WARNING",
                                 "CONSOLE_SSE_HEARTBEAT_SECONDS": "15"})
    console.start(stack_env)
    producer = AIOKafkaProducer(bootstrap_servers=stack_env["TELESALES_KAFKA_BOOTSTRAP"], **LOAD_PRODUCER_OPTIONS)
    loaders: list[LoaderProcess] = []
    try:
        async with httpx.AsyncClient() as http:
            await console.wait_ready(http)
        assert console.proc is not None
        pid = console.proc.pid
        await producer.start()
        # Warm up: the consumer joined its group and stores (one agent, not one of the measured ones).
        await producer.send_and_wait(TOPIC, event(tenant, "warm-up", "w:0", 0))
        await asyncio.sleep(3)
        rss_before = rss_bytes(pid)
        started = time.monotonic()
        per = -(-args.agents // args.loaders)
        for first in range(0, args.agents, per):
            proc = await asyncio.create_subprocess_exec(
                sys.executable, __file__, "--loader", "--port", str(console.port), "--tenant", tenant,
                "--first", str(first), "--count", str(min(per, args.agents - first)),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=256 * 1024 * 1024)
            loaders.append(LoaderProcess(proc))
        while not all(lp.ready for lp in loaders):
            console.check_alive()
            if any(lp.proc.returncode is not None for lp in loaders):
                raise BenchError("a load generator exited while connecting")
            await asyncio.sleep(0.2)
        connect_s = time.monotonic() - started
        connected = sum(lp.ready[0] for lp in loaders if lp.ready)
        failed = sum(lp.ready[1] for lp in loaders if lp.ready)
        note(f"{connected} streams open in {connect_s:.1f} s ({failed} failed: "
             f"{[e for lp in loaders if lp.ready for e in lp.ready[2]][:3]})")
        await asyncio.sleep(3)
        rss_after = rss_bytes(pid)

        # Paced: one event every 1/rate s, for random agents.
        rng = random.Random(7)
        paced_total = int(args.rate * args.seconds)
        cpu = CpuWatch({"console": [pid]}).start()
        t0 = time.perf_counter()
        pending = []
        for n in range(paced_total):
            due = t0 + n / args.rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            agent = agent_id(rng.randrange(args.agents))
            pending.append(await producer.send(TOPIC, event(tenant, agent, f"p:{time.time_ns()}", n + 1),
                                               key=agent.encode(),
                                               headers=[("content-type", CLOUDEVENTS_CONTENT_TYPE.encode())]))
        await asyncio.gather(*pending)
        paced_got = await wait_delivered(loaders, "p", paced_total, 30)
        paced_cpu = cpu.stop()
        say(f"paced: {paced_got}/{paced_total} delivered")

        # Saturation: a burst, as fast as the producer goes.
        burst = args.burst or max(args.agents * 2, 2000)
        cpu = CpuWatch({"console": [pid]}).start()
        first_send_ns = time.time_ns()
        pending = []
        for n in range(burst):
            agent = agent_id(rng.randrange(args.agents))
            pending.append(await producer.send(TOPIC, event(tenant, agent, f"s:{time.time_ns()}", paced_total + n + 1),
                                               key=agent.encode(),
                                               headers=[("content-type", CLOUDEVENTS_CONTENT_TYPE.encode())]))
            if n % 500 == 499:
                await asyncio.sleep(0)
        await asyncio.gather(*pending)
        sat_got = await wait_delivered(loaders, "s", burst, 300)
        sat_cpu = cpu.stop()
        say(f"saturation: {sat_got}/{burst} delivered")
        last_ns = max(lp.last_receipt_ns for lp in loaders)
        sat_seconds = (last_ns - first_send_ns) / 1e9
        results = [await lp.finish() for lp in loaders]
        loaders = []
    finally:
        for lp in loaders:
            if lp.proc.returncode is None:
                lp.proc.kill()
        await producer.stop()
        code = console.stop()
        if code not in (0, None):
            note(f"console exited with {code}")

    paced_lat = sorted(x for r in results for x in r["latencies"]["p"])
    sat_lat = sorted(x for r in results for x in r["latencies"]["s"])
    errors = [e for r in results for e in r["errors"]]
    error_count = sum(r["error_count"] for r in results)
    paced = latency_summary(paced_lat)
    saturation = latency_summary(sat_lat)
    report = {
        "run": run, "git": git_state(), "agents": args.agents, "connected": connected, "connect_failed": failed,
        "connect_seconds": connect_s, "rss_before_bytes": rss_before, "rss_after_bytes": rss_after,
        "memory_per_connection_bytes": (rss_after - rss_before) / max(connected, 1),
        "paced": {"rate_per_s": args.rate, "seconds": args.seconds, "sent": paced_total, "delivered": len(paced_lat),
                  "latency": paced, "cpu": paced_cpu},
        "saturation": {"sent": burst, "delivered": len(sat_lat), "seconds": sat_seconds,
                       "per_second": len(sat_lat) / sat_seconds if sat_seconds > 0 else 0.0, "latency": saturation,
                       "cpu": sat_cpu},
        "errors": errors, "error_count": error_count,
    }
    met = paced["p99_ms"] <= TARGET_P99_S * 1000
    table = "\n".join([
        "| console live channel | measured |", "|---|---|",
        f"| SSE streams open | {connected:,} of {args.agents:,} ({failed} failed) in {connect_s:.1f} s |",
        f"| memory per stream (console RSS) | {report['memory_per_connection_bytes'] / 1024:.1f} KiB "
        f"({rss_before / 2**20:.0f} -> {rss_after / 2**20:.0f} MiB) |",
        f"| paced {args.rate}/s for {args.seconds} s: delivered | {len(paced_lat):,} of {paced_total:,} |",
        f"| paced latency publish -> SSE receipt p50 / p99 / max | {paced['p50_ms']:.0f} / {paced['p99_ms']:.0f} / "
        f"{paced['max_ms']:.0f} ms (target p99 <= {TARGET_P99_S * 1000:.0f} ms: {'met' if met else 'TARGET MISSED'}) |",
        f"| console CPU, paced | {paced_cpu['pct_of_one_core']['console']:.0f}% of one core |",
        f"| saturation: delivered | {len(sat_lat):,} of {burst:,} in {sat_seconds:.1f} s = "
        f"{report['saturation']['per_second']:,.0f} notifications/s |",
        f"| saturation latency p50 / p99 / max | {saturation['p50_ms']:.0f} / {saturation['p99_ms']:.0f} / "
        f"{saturation['max_ms']:.0f} ms |",
        f"| console CPU, saturation | {sat_cpu['pct_of_one_core']['console']:.0f}% of one core |",
        f"| machine busy (paced / saturation) | {paced_cpu['machine_busy_pct']:.0f}% / "
        f"{sat_cpu['machine_busy_pct']:.0f}% of {os.cpu_count()} cores |",
        f"| lost, repeated or misdelivered | {error_count + (paced_total - len(paced_lat)) + (burst - len(sat_lat))} |",
    ])
    publish_report(out_path, report, table)
    ok = error_count == 0 and len(paced_lat) == paced_total and len(sat_lat) == burst and failed == 0
    if not ok:
        say(f"BENCHMARK FAILED: {error_count} errors {errors[:5]}, "
            f"{paced_total - len(paced_lat)} + {burst - len(sat_lat)} not delivered, {failed} not connected")
        return 1
    if not met:
        say("TARGET MISSED")
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=30.0, help="Length of the paced phase.")
    parser.add_argument("--rate", type=float, default=300.0, help="Events per second in the paced phase.")
    parser.add_argument("--burst", type=int, default=0, help="Events of the saturation phase (2 per agent).")
    parser.add_argument("--loaders", type=int, default=2, help="Load-generator processes.")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--loader", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--tenant", help=argparse.SUPPRESS)
    parser.add_argument("--first", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main() -> int:
    args = parse_args()
    raise_fd_limit()  # the console inherits it
    if args.loader:
        asyncio.run(Loader(args.port, args.tenant, args.first, args.count).run())
        return 0
    return run_benchmark(lambda: bench_run(
        "console", args.out, True, f"{args.agents:,} SSE streams, {args.rate:.0f}/s for {args.seconds:.0f} s",
        lambda run, out_path, stack_env: body(args, run, out_path, stack_env)))


if __name__ == "__main__":
    sys.exit(main())
