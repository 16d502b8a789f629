"""Where each service's time went in a phase, from its own /metrics: calls of the handler of the topic that
carries the lead (one call per consumed batch) and time in them, before and after the phase. A handler busy
most of the phase with small batches says the per-batch cost, not the load, sets the pace."""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families

# The allocator's histogram of how long a distribution holds its agents' locks.
LOCKS_HELD = "allocator_push_locks_held_seconds"
# The topic on which each service receives the lead.
LEAD_TOPIC = {"lead-intake": "leads.received.v1", "allocator": "leads.qualified.v1", "console": "allocation.assigned.v1"}


def handler_counters(metrics_text: str, topic: str) -> dict[str, float]:
    """Handler calls and seconds for `topic`, and dead letters of any topic."""
    out = {"calls": 0.0, "seconds": 0.0, "dead_letters": 0.0, "locks": 0.0, "locked_seconds": 0.0,
           "locks_over_100ms": 0.0}
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            same = sample.labels.get("topic") == topic
            if sample.name == "telesales_handler_duration_seconds_count" and same:
                out["calls"] += sample.value
            elif sample.name == "telesales_handler_duration_seconds_sum" and same:
                out["seconds"] += sample.value
            elif sample.name == "telesales_dead_letters_total":
                out["dead_letters"] += sample.value
            else:
                _count_locks(out, sample.name, sample.labels, sample.value)
    return out


def _count_locks(out: dict[str, float], name: str, labels: dict[str, str], value: float) -> None:
    """The allocator's pushes: how many held agents' locks, for how long, how many over 100 ms (a claim by one
    of those agents waits meanwhile)."""
    if name == f"{LOCKS_HELD}_count":
        out["locks"] += value
        out["locks_over_100ms"] += value
    elif name == f"{LOCKS_HELD}_sum":
        out["locked_seconds"] += value
    elif name == f"{LOCKS_HELD}_bucket" and labels.get("le") == "0.1":
        out["locks_over_100ms"] -= value


def handler_use(before: dict[str, float], after: dict[str, float], leads: int, wall_s: float) -> dict[str, Any]:
    """A phase's handler figures: batches, leads per batch, ms per batch, share of the wall time busy."""
    calls = after["calls"] - before["calls"]
    seconds = after["seconds"] - before["seconds"]
    locks = after["locks"] - before["locks"]
    locked = {} if not locks else {
        "distributions": locks, "ms_locked_per_distribution": 1000 * (after["locked_seconds"] - before["locked_seconds"]) / locks,
        "locked_over_100ms": after["locks_over_100ms"] - before["locks_over_100ms"]}
    return {**locked, "batches": calls, "leads_per_batch": leads / calls if calls else 0.0,
            "ms_per_batch": 1000 * seconds / calls if calls else 0.0,
            "busy_pct": 100 * seconds / wall_s if wall_s > 0 else 0.0,
            "dead_letters": after["dead_letters"] - before["dead_letters"]}
