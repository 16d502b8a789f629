"""The speed-to-lead benchmark's table (markdown, as the other benchmarks print theirs), pure."""

from __future__ import annotations

import math
from typing import Any

from s2l_timeline import STAGE_TITLES, STAGES

from telesales_testkit.memory import memory_table

PHASE_TITLES = {"saturation": "saturation (burst as fast as the producer goes)",
                "floor": "floor's rate (fixed schedule)", "half": "half of saturation (fixed schedule)"}


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:,.0f}"


def _rate(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:,.0f}/s"


def _seconds(value: float) -> str:
    return "-" if math.isnan(value) else f"+{value:,.2f} s"


def phase_table(name: str, phase: dict[str, Any]) -> list[str]:
    stages = phase["stages"]
    rate = f", {phase['rate_per_s']:,.0f} leads/s scheduled" if phase.get("rate_per_s") else ""
    lines = [f"**{PHASE_TITLES.get(name, name)}**: {phase['leads']:,} leads{rate}", "",
             "| publish -> | reached | p50 / p99 / max ms | throughput from the first send | done after the stage "
             "before |", "|---|---|---|---|---|"]
    for stage in STAGES:
        s = stages[stage]
        lat = s["latency"]
        lines.append(f"| {STAGE_TITLES[stage]} | {s['reached']:,} | {_ms(lat['p50_ms'])} / {_ms(lat['p99_ms'])} / "
                     f"{_ms(lat['max_ms'])} | {_rate(s['throughput_per_s'])} | {_seconds(s['behind_s'])} |")
    lag = stages["send_lag"]
    lines.append(f"| (sender behind its schedule) | | {_ms(lag['p50_ms'])} / {_ms(lag['p99_ms'])} / "
                 f"{_ms(lag['max_ms'])} | sent at {_rate(stages['sent_per_s'])} | |")
    cpu = phase["cpu"]
    parts = ", ".join(f"{label} {pct:.0f}%" for label, pct in cpu["pct_of_one_core"].items())
    lines += ["", f"CPU (% of one core): {parts}; machine {cpu['machine_busy_pct']:.0f}% busy of "
                  f"{cpu['machine_cores']} cores"]
    lines.append("handler of the lead's topic: " + "; ".join(
        f"{n} {h['batches']:,.0f} batches of {h['leads_per_batch']:,.1f} leads, {h['ms_per_batch']:,.0f} ms each, "
        f"busy {h['busy_pct']:.0f}% of the phase" + (f", {h['dead_letters']:,.0f} DEAD LETTERS" if h['dead_letters'] else "")
        + (f"; its pushes held agents' locks {h['ms_locked_per_distribution']:,.1f} ms a distribution "
           f"({h['distributions']:,.0f}, {h['locked_over_100ms']:,.0f} over 100 ms)" if h.get('distributions') else "")
        for n, h in phase.get("handlers", {}).items()))
    if phase["problems"]:
        lines.append(f"PROBLEMS: {phase['problems']}")
    return lines


def render(report: dict[str, Any]) -> str:
    phases = report["phases"]
    floor = phases["floor"]["stages"]["shown"]["latency"]["p99_ms"]
    lines = [f"speed to lead, run {report['run']} ({report['git']['commit']}), {report['cpu_count']} cores: "
             f"{report['agents']:,} agents in {report['teams']} teams ({report['strategy']} on arrival), "
             f"{report['connected']:,} SSE streams open ({report['connect_failed']} failed)", ""]
    for name in ("saturation", "floor", "half"):
        lines += [*phase_table(name, phases[name]), ""]
    lines += [f"saturation publish -> screen: {_rate(report['saturation_per_s'])} (slowest stage: "
              f"{report['slowest_stage']})",
              f"target p99 publish -> screen <= {report['target_p99_ms']:,.0f} ms at the floor's rate: "
              f"{_ms(floor)} ms, {'met' if report['target_met'] else 'TARGET MISSED'}", "",
              *memory_table(report["memory_rss_bytes"]), ""]
    lost = sum(n for phase in phases.values() for n in phase["problems"].values())
    lines.append(f"lost, doubled or misdelivered: {lost}; notifications of no lead of the run: "
                 f"{sum(report['strays'].values())}; stream errors: {len(report['stream_errors'])}; "
                 f"redelivered events (same id, skipped): {report['redelivered'] or 0}")
    lines += [f"note: {w}" for w in report["warnings"]]
    return "\n".join(lines)
