"""The scale-out benchmark's table (pure: a report dict in, text out)."""

from __future__ import annotations

import math
from typing import Any

from scale_phases import SERVICES, UNIT


def num(value: float, fmt: str = ",.0f") -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, fmt)


def memory_lines(points: dict[str, dict[str, int]]) -> list[str]:
    """RSS in MiB: one row per point, one column per replica (every replica any point saw)."""
    names: list[str] = []
    for values in points.values():
        names += [n for n in values if n not in names]
    lines = ["| RSS (MiB) | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for label, values in points.items():
        cells = [num(values[n] / 2**20) if n in values else "" for n in names]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def phase_lines(report: dict[str, Any]) -> list[str]:
    by_phase = report["phases"]["by_phase"]
    rates = {s: f"{UNIT[s] if s != 'metrics' else 'lead'}s" for s in SERVICES}
    lines = ["| phase | replicas | leads | purchases | " + " | ".join(f"{s} {rates[s]}/s" for s in SERVICES) + " | "
             + " | ".join(f"{s} µs CPU/{UNIT[s]}" for s in SERVICES) + " | other CPU % of a core |",
             "|---" * (4 + 2 * len(SERVICES) + 1) + "|"]
    for name, f in by_phase.items():
        other = f["cpu"].get("pct_of_one_core", {}).get("everything else on the machine", math.nan)
        lines.append(f"| {name} | {f['replicas']} | {f['leads']:,} | {f.get('purchases', 0):,} | "
                     + " | ".join(num(f["per_s"][s]) for s in SERVICES) + " | "
                     + " | ".join(num(f["cpu_us_per_item"][s]) for s in SERVICES) + f" | {num(other)} |")
    return lines


def work_lines(report: dict[str, Any]) -> list[str]:
    lines = ["records each replica processed in each phase (its own /metrics; a killed one: until its last scrape):"]
    for name, f in report["phases"]["by_phase"].items():
        work = ", ".join(f"{label} {num(v)}" for label, v in f["work_per_replica"].items() if v)
        lines.append(f"  {name}: {work or '-'}")
    return lines


def coins_lines(ex: dict[str, Any] | None) -> list[str]:
    if not ex:
        return []
    return [f"purchases exact: {'yes' if ex['ok'] else 'NO'}: {ex['requested']:,} requested, {ex['answers']:,} answers "
            f"({ex['answers_redelivered']:,} read again, {ex['answered_twice']:,} twice), {ex['rejected']:,} rejected, "
            f"the ledger stores {ex['stored_posted']:,} posted and {ex['stored_rejected']:,} rejected, the marketplace "
            f"{ex.get('market_purchases', 0):,} purchases ({ex.get('market_granted', 0):,} granted)",
            *(f"  PROBLEM: {p}" for p in ex["problems"])]


def console_lines(ex: dict[str, Any] | None) -> list[str]:
    if not ex:
        return []
    return [f"notifications exact: {'yes' if ex['ok'] else 'NO'}: {ex['expected']:,} made by the run's events, "
            f"{ex['stored']:,} stored ({ex['missing']:,} missing, {ex['extra']:,} extra), {ex['users']:,} users, "
            f"{ex['users_with_broken_seqs']:,} with gaps or repeats in their seqs",
            *(f"  PROBLEM: {p}" for p in ex["problems"])]


def render(report: dict[str, Any]) -> str:
    ex = report["exactness"]
    scaling = report["phases"]["scaling_vs_1_replica"]
    kill = report["phases"]["by_phase"].get("kill/add", {})
    lines = [
        f"scale-out benchmark  run {report['run']}  {report['cpu_count']} CPUs  commit {report['git']['commit']}  "
        f"{report['partitions']} partitions per topic",
        "",
        *phase_lines(report),
        "",
        "throughput against 1 replica: " + "; ".join(
            f"{s} " + ", ".join(f"{k}: {num(v, '.2f')}x" for k, v in scaling[s].items()) for s in SERVICES),
        "longest stall in kill/add (s): " + ", ".join(f"{s} {num(v, '.1f')}" for s, v in kill.get("stall_s", {}).items()),
        "metrics' consuming replica: " + ", ".join(f"{k} {v}" for k, v in report["metrics_holder"].items()),
        *(f"  +{e['at'] - kill.get('first_send', e['at']):.1f} s  {e['what']}" for e in report["events"]),
        "",
        *work_lines(report),
        "",
        f"exact: {'yes' if ex['ok'] else 'NO'}: {ex['sent']:,} sent, {ex['qualified_events']:,} qualified "
        f"({ex['qualified_redelivered']:,} read again, {ex['qualified_doubled']:,} doubled), {ex['intake_stored']:,} "
        f"stored by lead-intake, {ex['pooled']:,} pooled ({ex['pooled_distinct']:,} distinct), metrics "
        f"{ex['metrics_created']:,} created / {ex['metrics_event_ids']:,} event ids of {ex['metrics_expected']:,}, "
        f"{ex['dead_letters']:,} dead letters",
        *(f"  PROBLEM: {p}" for p in ex["problems"]),
        *coins_lines(report.get("coins_exactness")),
        *console_lines(report.get("console_exactness")),
        "",
        *memory_lines(report["memory_rss_bytes"]),
        *(f"WARNING: {w}" for w in report["warnings"]),
    ]
    return "\n".join(lines)
