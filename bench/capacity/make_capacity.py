#!/usr/bin/env python3
"""Write docs/capacity.md from the latest benchmark reports (`make capacity`).

Reads every JSON report under the given paths (files or folders; default bench-results/ of this work tree),
recognises each benchmark by its content, keeps the newest report of each, and writes what a floor of
40,000 agents with 2,000,000 leads a day needs on a real cluster: partitions, replicas, MongoDB shards and
memory, and which path saturates first. Every figure carries the run id it came from; a missing report is
named as missing and nothing computed from it is filled in. See bench/capacity/capacity_model.py."""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))  # the modules beside this file (also when loaded by path)
import capacity_model as m  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO / "docs" / "capacity.md"


def load_reports(paths: Sequence[Path]) -> dict[str, tuple[Path, dict[str, Any]]]:
    """The newest report of each benchmark (by its `date`, else the file's time) under `paths`."""
    found: dict[str, tuple[str, Path, dict[str, Any]]] = {}
    files = [f for p in paths for f in (sorted(p.rglob("*.json")) if p.is_dir() else [p])]
    for file in files:
        try:
            report = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        kind = m.kind_of(report) if isinstance(report, dict) else None
        if kind is None:
            continue
        when = str(report.get("date") or datetime.fromtimestamp(file.stat().st_mtime, UTC).isoformat(timespec="seconds"))
        if kind not in found or when > found[kind][0]:
            found[kind] = (when, file, {**report, "date": when})
    return {kind: (file, report) for kind, (_, file, report) in found.items()}


def head_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def status(report: Mapping[str, Any], head: str) -> str:
    git = report.get("git") or {}
    notes = []
    if git.get("commit") and head and git["commit"] != head:
        notes.append(f"stale: measured on {git['commit']}, the doc on {head}")
    if git.get("dirty_files"):
        notes.append(f"work tree had {len(git['dirty_files'])} changed files")
    if any("DISTURBED" in str(w) for w in report.get("warnings") or []):
        notes.append("disturbed (other processes used the CPU)")
    if (report.get("cpu_count") or 0) <= 2:
        notes.append(f"{report.get('cpu_count')} CPUs, shared machine")
    return "; ".join(notes) or "current"


MEMORY_KEYS = ("memory_rss_bytes", "memory")  # where the benches put telesales_testkit.memory's points


def memory_points(node: Any) -> Iterator[dict[str, Any]]:
    """Every {process: RSS} row of the memory tables anywhere in a report (a bench may nest them, e.g. per round)."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key in MEMORY_KEYS and isinstance(value, Mapping):
                yield from (row for row in value.values() if isinstance(row, Mapping))
            else:
                yield from memory_points(value)
    elif isinstance(node, list):
        for item in node:
            yield from memory_points(item)


def memory_peaks(reports: Mapping[str, Mapping[str, Any]]) -> dict[str, m.Figure]:
    """The highest RSS each service reached in any report (`<service>` or `<service>#<n>` columns)."""
    peaks: dict[str, m.Figure] = {}
    for report in reports.values():
        for values in memory_points(report):
            for name, rss in values.items():
                service = name.split("#", 1)[0]
                if isinstance(rss, int | float) and rss and (service not in peaks or rss > peaks[service].value):
                    peaks[service] = m.Figure(rss, str(report.get("run")), "peak RSS")
    return peaks


def mib(value: float) -> str:
    return f"{value / 2**20:,.0f} MiB"


def sources_lines(loaded: Mapping[str, tuple[Path, dict[str, Any]]], head: str) -> list[str]:
    provisional = sum(1 for _, r in loaded.values() if status(r, head) != "current")
    missing = len(m.MAKE) - len(loaded)
    lines = [f"{provisional} of the {len(loaded)} reports found are not current (stale, disturbed, from a changed work "
             f"tree or a 2-CPU machine) and {missing} {'is' if missing == 1 else 'are'} missing: the figures below "
             "are provisional until the benchmarks are run again on a quiet machine." if provisional or
             len(loaded) < len(m.MAKE) else "Every report is current.", "",
             "| benchmark | run | date | commit | report | status |", "|---|---|---|---|---|---|"]
    for kind, make in m.MAKE.items():
        if kind in loaded:
            file, r = loaded[kind]
            lines.append(f"| {kind} | `{r.get('run')}` | {r.get('date')} | `{(r.get('git') or {}).get('commit')}` | "
                         f"`{file}` | {status(r, head)} |")
        else:
            lines.append(f"| {kind} | MISSING | | | | no report: run `{make}` |")
    return lines


def needs_lines(services: list[m.ServiceNeed]) -> list[str]:
    lines = ["| service | path | peak events/s | µs CPU per event [run] | cores at peak | measured by |",
             "|---|---|---|---|---|---|"]
    for sn in services:
        for n in sn.needs:
            cost = f"{n.cost}" if n.cost else "MISSING"
            lines.append(f"| {n.service} | {n.path} | {n.rate:,.0f} | {cost} | "
                         f"{f'{n.cores:.2f}' if n.cores is not None else '-'} | {n.cost.what if n.cost else '-'} |")
    lines += ["", "| service | scales by | cores at peak | replicas | partitions of its topics | headroom before it "
              "saturates |", "|---|---|---|---|---|---|"]
    how = {"group": "consumer group", "sole": "sole consumer (1 consumes, the others stand by)", "http": "HTTP"}
    for sn in services:
        if not sn.measured:
            lines.append(f"| {sn.service} | {how[m.SCALING[sn.service]]} | MISSING | - | - | - |")
            continue
        partial = "" if sn.complete else " (a path MISSING: at least)"
        headroom = f"{sn.headroom:,.1f}x" if sn.headroom is not None else "scales with replicas; MongoDB bounds it"
        lines.append(f"| {sn.service} | {how[m.SCALING[sn.service]]} | {sn.cores:.2f}{partial} | {sn.replicas} | "
                     f"{sn.partitions or '-'} | {headroom} |")
    return lines


def first_to_saturate(services: list[m.ServiceNeed], mongo_cores: float, shards: int) -> list[str]:
    """The services and MongoDB ranked by how many times the peak they take before they saturate."""
    ranked: list[tuple[float, str, str]] = []
    for sn in services:
        if sn.headroom is not None:
            why = ("one replica consumes every partition (a sole consumer), so more replicas do not raise it"
                   if m.SCALING[sn.service] == "sole" else "its topics' partitions bound its consumer group")
            sources = "; ".join(f"{n.cost.what} [{n.cost.run}]" for n in sn.needs if n.cost)
            ranked.append((sn.headroom, f"{sn.service} ({', '.join(n.path for n in sn.needs)})",
                           f"{why} (from: {sources})"))
    if shards and mongo_cores:
        ranked.append((shards * m.SHARD_VCPU / mongo_cores, f"MongoDB ({shards} shard(s) of {m.SHARD_VCPU} vCPU)",
                       "the mongod CPU the measured paths cost; more shards raise it"))
    if not ranked:
        return ["Nothing can be ranked: no service's CPU cost was measured."]
    ranked.sort(key=lambda r: r[0])
    (headroom, name, why), rest = ranked[0], ranked[1:]
    lines = [f"**{name}** saturates first: it takes {headroom:,.1f}x the peak; {why}. Then: "
             + (", ".join(f"{n} {h:,.1f}x" for h, n, _ in rest) or "nothing else measured")
             + ". A service or a MongoDB path MISSING above is not ranked."]
    sole = [sn for sn in services if m.SCALING[sn.service] == "sole" and sn.headroom is not None]
    lines += [f"{sn.service} is the one consumer that more replicas cannot speed up: its ceiling is one core, "
              f"{sn.headroom:,.1f}x the peak." for sn in sole]
    return lines


def floor_lines(rates: Mapping[str, float]) -> list[str]:
    return [
        "## The floor at its peak (assumptions)",
        "",
        f"{m.AGENTS:,} agents, {m.LEADS_PER_DAY:,} leads a day arriving over {m.WORKING_HOURS} working hours, "
        f"**peak factor {m.PEAK_FACTOR:g}x** the working day's average; every agent claims once every "
        f"{m.CLAIM_EVERY_S} s; metrics reads {m.METRICS_EVENTS_PER_LEAD} events per lead and "
        f"{m.METRICS_EVENTS_PER_CLAIM} per claim; {m.PURCHASES_PER_AGENT_DAY} purchases per agent a day; one "
        f"marketplace request per agent every {m.MARKETPLACE_REQUEST_EVERY_S} s; one notification per lead. "
        f"**Headroom: each replica is planned at {100 * m.TARGET_CORE_SHARE:.0f} % of a core** (twice the peak, "
        f"or half the replicas lost), at least {m.MIN_REPLICAS} replicas of each service.",
        "",
        "| path | events/s at peak |", "|---|---|",
        *(f"| {path} | {rate:,.0f} |" for path, rate in rates.items()),
        "",
    ]


def render(loaded: Mapping[str, tuple[Path, dict[str, Any]]], head: str, generated: str) -> str:
    reports = {kind: r for kind, (_, r) in loaded.items()}
    rates = m.peak_rates()
    costs = m.costs(reports)
    needs = m.needs(costs, rates)
    mongo_by_path, mongo_missing = m.mongod_by_path(costs, rates)
    mongo_cores = sum(mongo_by_path.values())
    shards = max(1, math.ceil(mongo_cores / (m.SHARD_VCPU * m.TARGET_CORE_SHARE))) if mongo_cores else 0
    broker = costs.get(("lead path", "broker"))
    peaks = memory_peaks(reports)
    lines = [
        "# Capacity of a 40,000-agent floor",
        "",
        f"Generated by `make capacity` (bench/capacity/make_capacity.py) on {generated} at commit `{head}` from the "
        "benchmark reports below. Do not edit by hand: run the benchmarks on a quiet machine, then `make capacity`. "
        "Every figure is tagged `[run id]` with the run it came from; MISSING means no report held it, and nothing is "
        "computed from a missing figure.",
        "",
        "## Sources",
        "",
        *sources_lines(loaded, head),
        "",
        *floor_lines(rates),
        "## Partitions and replicas",
        "",
        "CPU per event is the CPU a process spent in a benchmark's measured phase divided by that phase's events "
        "(measured on a 2-core machine; a cluster's cores differ, so read it as an estimate). Cores at peak = "
        "events/s x µs / 10^6, summed over the paths a service serves. Replicas = cores / the planned share, "
        "partitions = room for twice the replicas. Headroom = how many times the peak a service takes before it "
        "saturates (one core per partition for a consumer group, one core for a sole consumer).",
        "",
        *needs_lines(needs),
        "",
        "## Which path saturates first",
        "",
        *first_to_saturate(needs, mongo_cores, shards),
        "",
        "## MongoDB shards",
        "",
        (f"mongod CPU at peak over the measured paths: {mongo_cores:.2f} cores -> **{shards} shard(s)** "
         f"(primaries of {m.SHARD_VCPU} vCPU at {100 * m.TARGET_CORE_SHARE:.0f} %, 3-member replica sets)."
         if mongo_cores else "mongod CPU: MISSING (no report measured it)."),
        *([("By path: " + ", ".join(f"{p} {c:.2f}" for p, c in sorted(mongo_by_path.items(), key=lambda i: -i[1]))
            + " cores.")] if mongo_by_path else []),
        *([f"Not counted (their mongod CPU is MISSING): {', '.join(mongo_missing)}."] if mongo_missing else []),
        *storage_lines(reports),
        "",
        "## Kafka brokers",
        "",
        (f"Broker CPU per lead through the lead path: {broker} µs -> {rates['lead path'] * broker.value / 1e6:.2f} "
         f"cores at peak for the lead path; at least 3 brokers of {m.BROKER_VCPU} vCPU (replication factor 3)."
         if broker else "Broker CPU per lead: MISSING."),
        "",
        "## Memory",
        "",
        *memory_lines(needs, peaks, reports),
        "",
        *scale_out_lines(reports),
    ]
    return "\n".join(lines).rstrip() + "\n"


def storage_lines(reports: Mapping[str, Mapping[str, Any]]) -> list[str]:
    out = []
    intake = reports.get("intake")
    doc = ((intake or {}).get("ceiling_mongo") or {}).get("avg_doc_bytes")
    if doc:
        out.append(f"lead-intake's lead document: {doc:,.0f} B [{intake['run']}] -> "  # type: ignore[index]
                   f"{m.LEADS_PER_DAY * doc / 2**30:,.1f} GiB of documents a day.")
    else:
        out.append("lead-intake's lead document size: MISSING.")
    seed = ((reports.get("allocator") or {}).get("seed")) or {}
    if seed.get("leads"):
        per = (seed["leads_data_mb"] + seed["leads_index_mb"]) * 1e6 / seed["leads"]
        pool = 2 * m.LEADS_PER_DAY
        out.append(f"The allocator's pool: {per:,.0f} B a lead with its indexes [{reports['allocator']['run']}] -> "
                   f"{pool * per / 2**30:,.1f} GiB for {pool:,} leads in the pool (two days of leads, issue 20's 4,000,000); "
                   "the WiredTiger cache of the shards should hold it.")
    else:
        out.append("The allocator's pool size: MISSING.")
    return out


def memory_lines(services: list[m.ServiceNeed], peaks: Mapping[str, m.Figure], reports: Mapping[str, Any]
                 ) -> list[str]:
    lines = ["| service | peak RSS of a replica [run] | replicas | total |", "|---|---|---|---|"]
    for sn in services:
        peak, count = peaks.get(sn.service), sn.replicas if sn.measured else None
        total = mib(peak.value * count) if peak and count else "-"
        lines.append(f"| {sn.service} | {f'{mib(peak.value)} [{peak.run}]' if peak else 'MISSING'} | "
                     f"{count or 'MISSING'} | {total} |")
    console = reports.get("console")
    if console:
        per = console["memory_per_connection_bytes"]
        lines.append(f"\nThe console's live channel: {per / 1024:,.1f} KiB a stream [{console['run']}] -> "
                     f"{mib(per * m.AGENTS)} for {m.AGENTS:,} agents' streams, spread over the console's replicas.")
    else:
        lines.append("\nThe console's memory per live stream: MISSING.")
    return lines


def scale_out_lines(reports: Mapping[str, Mapping[str, Any]]) -> list[str]:
    scale = reports.get("scale-out")
    if not scale:
        return ["## Scale-out", "", "MISSING: no scale-out report (`make bench-scale-out`)."]
    ex, coins, notes = scale["exactness"], scale.get("coins_exactness"), scale.get("console_exactness")
    by = scale["phases"]["by_phase"]
    purchases = (f"; {coins['requested']:,} purchases, each paid by the ledger and granted by the marketplace once: "
                 f"{'yes' if coins['ok'] else 'NO'}" if coins else "")
    purchases += (f"; {notes['expected']:,} notifications, each stored once by the console: "
                  f"{'yes' if notes['ok'] else 'NO'}" if notes else "")
    return ["## Scale-out (measured)", "",
            f"Run `{scale['run']}`: {scale['partitions']} partitions; exact: {'yes' if ex['ok'] else 'NO'} "
            f"({ex['sent']:,} leads, each qualified, pooled and counted once{purchases}; one replica of each "
            "SIGKILLed and one added). Throughput by replicas (per second; the ledger and the marketplace in purchases, "
            "the console in notifications, the others in leads): "
            + "; ".join(f"{name}: " + ", ".join(f"{s} {v:,.0f}" if v == v else f"{s} -" for s, v in f["per_s"].items())
                        for name, f in by.items()) + "."]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reports", nargs="*", type=Path, default=[REPO / "bench-results"],
                        help="Report files or folders (default: bench-results/).")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    loaded = load_reports(args.reports)
    text = render(loaded, head_commit(), datetime.now(UTC).isoformat(timespec="minutes"))
    args.out.write_text(text, encoding="utf-8")
    missing = [k for k in m.MAKE if k not in loaded]
    print(f"{args.out}: from {len(loaded)} reports" + (f"; missing: {', '.join(missing)}" if missing else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
