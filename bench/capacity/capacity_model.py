"""What docs/capacity.md is computed from (pure: report dicts in, figures out; no I/O).

Each benchmark report (bench-results/<name>.json) is recognised by its content, and only measured figures
are taken from it, each tagged with the run it came from: the CPU a process spent in a measured phase
divided by the events of that phase (µs of CPU per event), RSS peaks, document sizes. The workload of the
floor (events per second at peak) is an assumption, stated with the figures; a figure whose report is
missing stays missing, and so does everything computed from it."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

# ------------------------------------------------------------------------------- the floor (assumptions)
AGENTS = 40_000
LEADS_PER_DAY = 2_000_000
WORKING_HOURS = 10  # leads arrive, and agents claim, over the working day
PEAK_FACTOR = 3.0  # the busiest minutes against the working day's average (campaign bursts)
CLAIM_EVERY_S = 120  # every agent claims once every 120 s (issue 20's floor rate: 333 claims/s)
METRICS_EVENTS_PER_LEAD = 2  # leads.qualified + allocation.assigned (pushed on arrival)
METRICS_EVENTS_PER_CLAIM = 3  # allocation.claimed, calls.logged, allocation.returned or leads.stage-changed
PURCHASES_PER_AGENT_DAY = 5
MARKETPLACE_REQUEST_EVERY_S = 120  # each agent searches or opens a tip once every two minutes at work
TARGET_CORE_SHARE = 0.5  # plan each replica at half a core: room for twice the peak or half the replicas lost
MIN_REPLICAS = 2  # one may die (the scale-out benchmark shows the survivors take over)
SHARD_VCPU = 8  # vCPUs of one MongoDB shard's primary
BROKER_VCPU = 4  # vCPUs of one Kafka broker node; at least 3 nodes (replication factor 3)


def peak_rates() -> dict[str, float]:
    """Events per second of each path at the floor's peak."""
    leads = LEADS_PER_DAY / (WORKING_HOURS * 3600) * PEAK_FACTOR
    claims = AGENTS / CLAIM_EVERY_S
    return {"lead path": leads, "claims": claims,
            "metrics ingest": leads * METRICS_EVENTS_PER_LEAD + claims * METRICS_EVENTS_PER_CLAIM,
            "purchases (ledger)": AGENTS * PURCHASES_PER_AGENT_DAY / (WORKING_HOURS * 3600) * PEAK_FACTOR,
            "marketplace HTTP": AGENTS / MARKETPLACE_REQUEST_EVERY_S,
            "console notifications": leads}


# ------------------------------------------------------------------------------- the reports
KINDS: dict[str, Callable[[Mapping[str, Any]], bool]] = {
    "intake": lambda d: "intake" in d and "ceiling_kafka" in d,
    "allocator": lambda d: "claims" in d and "sweep" in d,
    "ledger": lambda d: "purchases" in d and "paced" in d and "domain_predicted" in d,
    "marketplace": lambda d: d.get("benchmark") == "marketplace",
    "metrics": lambda d: "rounds" in d and "scrape" in d,
    "console": lambda d: "memory_per_connection_bytes" in d,
    "speed-to-lead": lambda d: "slowest_stage" in d and "phases" in d,
    "scale-out": lambda d: "exactness" in d and "partitions" in d,
}
MAKE = {"intake": "make bench-intake", "allocator": "make bench-allocator", "ledger": "make bench-ledger",
        "marketplace": "make bench-marketplace", "metrics": "make bench-metrics", "console": "make bench-console",
        "speed-to-lead": "make bench-speed-to-lead", "scale-out": "make bench-scale-out"}


def kind_of(report: Mapping[str, Any]) -> str | None:
    return next((kind for kind, test in KINDS.items() if test(report)), None)


@dataclass(frozen=True, slots=True)
class Figure:
    value: float
    run: str  # the run id of the report it came from
    what: str  # how it was measured

    def __format__(self, spec: str) -> str:
        return f"{format(self.value, spec or ',.0f')} [{self.run}]"


def per_event_us(report: Mapping[str, Any], phase: Mapping[str, Any], label: str, events: float,
                 what: str) -> Figure | None:
    cpu_s = (phase.get("cpu") or {}).get("cpu_s") or {}
    if label not in cpu_s or not events:
        return None
    return Figure(1e6 * cpu_s[label] / events, str(report.get("run")), what)


def costs(reports: Mapping[str, Mapping[str, Any]]) -> dict[tuple[str, str], Figure | None]:
    """µs of CPU per event, by (path, process): what each path costs its service and mongod/the broker."""
    out: dict[tuple[str, str], Figure | None] = {}
    intake, s2l = reports.get("intake"), reports.get("speed-to-lead")
    if intake:
        i, n = intake["intake"], intake["leads"]
        out["lead path", "lead-intake"] = per_event_us(intake, i, "lead-intake under test", n,
                                                       f"bench-intake: {n:,} leads, lead-intake CPU / leads")
    if s2l:
        sat = s2l["phases"]["saturation"]
        n = sat["leads"]
        for label, key, scope in (("allocator", "allocator", "pool and push on arrival"),
                                  ("mongod", "mongod", "intake, pool and push together"),
                                  ("kafka (broker)", "broker", "intake, pool and push together")):
            out["lead path", key] = per_event_us(s2l, sat, label, n, f"speed-to-lead saturation: {n:,} leads, "
                                                 f"{label} CPU / leads ({scope})")
        out["console notifications", "console"] = per_event_us(
            s2l, sat, "console", n, f"speed-to-lead saturation: {n:,} leads pushed, console CPU / notifications")
    allocator = reports.get("allocator")
    if allocator:
        c = allocator["claims"]
        n = c["requests"]
        out["claims", "allocator"] = per_event_us(allocator, c, "bench (allocator + load)", n,
                                                  f"bench-allocator claims: {n:,} claims; the allocator runs in the "
                                                  "bench process with its load generator (an upper bound)")
        out["claims", "mongod"] = per_event_us(allocator, c, "mongod", n, "bench-allocator claims: mongod CPU / claims")
    metrics = reports.get("metrics")
    if metrics and metrics.get("rounds"):
        rounds = sorted(metrics["rounds"], key=lambda r: r["ingest"]["cpu"]["cpu_s"].get("metrics under test", 0))
        median = rounds[len(rounds) // 2]["ingest"]
        for label, key in (("metrics under test", "metrics"), ("mongod", "mongod")):
            out["metrics ingest", key] = per_event_us(metrics, median, label, median["events"],
                                                      f"bench-metrics ingest (median round): {median['events']:,} "
                                                      f"events, {label} CPU / events")
    # report, its phase, the path, the service's CPU label, the source's words
    for kind, phase_key, path, label, words in (
            ("ledger", "purchases", "purchases (ledger)", "ledger under test", "bench-ledger purchases"),
            ("marketplace", "saturation", "marketplace HTTP", "marketplace", "bench-marketplace saturation")):
        report = reports.get(kind)
        if report:
            phase = report[phase_key]
            for cpu_label, key in ((label, kind), ("mongod", "mongod")):
                out[path, key] = per_event_us(report, phase, cpu_label, phase["requests"],
                                              f"{words}: {phase['requests']:,} requests")
    console = reports.get("console")
    if console and ("console notifications", "console") not in out:
        s = console["saturation"]
        out["console notifications", "console"] = per_event_us(
            console, s, "console", s["delivered"], f"bench-console saturation: {s['delivered']:,} notifications")
    scale = reports.get("scale-out")
    one = ((scale or {}).get("phases", {}).get("by_phase", {}).get("1 replica")) or {}
    per_item = one.get("cpu_us_per_item") or {}  # per lead; metrics per event it counted
    for path, service, unit in (("lead path", "lead-intake", "leads"), ("lead path", "allocator", "leads"),
                                ("metrics ingest", "metrics", "events counted")):
        if out.get((path, service)) is None and per_item.get(service) is not None:  # the path's own bench missing
            out[path, service] = Figure(per_item[service], str(scale["run"]),  # type: ignore[index]
                                        f"bench-scale-out, 1 replica: {service} CPU / {unit}")
    return out


# The service that does each path's work (the console's work per lead is its notification).
PATH_SERVICES: dict[str, list[str]] = {
    "lead path": ["lead-intake", "allocator"],
    "claims": ["allocator"],
    "metrics ingest": ["metrics"],
    "purchases (ledger)": ["ledger"],
    "marketplace HTTP": ["marketplace"],
    "console notifications": ["console"],
}
# How a service takes more load: a consumer group (one core per partition at most), a sole consumer (one
# replica reads every partition: one core at most), or HTTP only (as many replicas as MongoDB takes).
SCALING = {"lead-intake": "group", "allocator": "group", "console": "group", "ledger": "group", "metrics": "sole",
           "marketplace": "http"}


def replicas_for(cores: float) -> int:
    return max(MIN_REPLICAS, math.ceil(cores / TARGET_CORE_SHARE))


def partitions_for(replicas: int) -> int:
    """Room to double the replicas without repartitioning, in steps of 6 (divisible by 1, 2, 3, 6)."""
    return max(12, 6 * math.ceil(2 * replicas / 6))


@dataclass
class Need:
    """One path's load on one service at peak."""

    path: str
    service: str
    rate: float
    cost: Figure | None

    @property
    def cores(self) -> float | None:
        return None if self.cost is None else self.rate * self.cost.value / 1e6


@dataclass
class ServiceNeed:
    """A service's load over every path at peak, and what it needs."""

    service: str
    needs: list[Need]

    @property
    def cores(self) -> float:
        return sum(n.cores or 0.0 for n in self.needs)

    @property
    def complete(self) -> bool:
        return all(n.cost is not None for n in self.needs)

    @property
    def measured(self) -> bool:
        return any(n.cost is not None for n in self.needs)

    @property
    def replicas(self) -> int:
        return MIN_REPLICAS if SCALING[self.service] == "sole" else replicas_for(self.cores)

    @property
    def partitions(self) -> int | None:
        return None if SCALING[self.service] == "http" else partitions_for(self.replicas)

    @property
    def headroom(self) -> float | None:
        """Times the peak the service takes before it saturates: one core per partition for a consumer
        group, one core for a sole consumer; None for HTTP only (MongoDB bounds it) or when unmeasured."""
        if not self.measured or self.cores <= 0 or SCALING[self.service] == "http":
            return None
        reach = 1.0 if SCALING[self.service] == "sole" else float(self.partitions or 0)
        return reach / self.cores


def needs(costs_by: Mapping[tuple[str, str], Figure | None], rates: Mapping[str, float]) -> list[ServiceNeed]:
    by_service: dict[str, list[Need]] = {}
    for path, services in PATH_SERVICES.items():
        for service in services:
            by_service.setdefault(service, []).append(Need(path, service, rates[path], costs_by.get((path, service))))
    return [ServiceNeed(service, items) for service, items in by_service.items()]


def mongod_by_path(costs_by: Mapping[tuple[str, str], Figure | None], rates: Mapping[str, float]
                   ) -> tuple[dict[str, float], list[str]]:
    """mongod cores at peak of each path whose mongod cost was measured, and the paths it lacks."""
    cores, missing = {}, []
    for path, rate in rates.items():
        if path == "console notifications":
            continue  # the console keeps notifications in Redis; its MongoDB writes are in the lead path's figure
        cost = costs_by.get((path, "mongod"))
        if cost is None:
            missing.append(path)
        else:
            cores[path] = rate * cost.value / 1e6
    return cores, missing
