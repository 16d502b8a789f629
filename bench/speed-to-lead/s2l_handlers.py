"""Where each service's time went in a phase, from its own /metrics: calls of the handler of the topic that
carries the lead (one call per consumed batch) and time in them, before and after the phase. A handler busy
most of the phase with small batches says the per-batch cost, not the load, sets the pace."""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families

# The topic on which each service receives the lead.
LEAD_TOPIC = {"lead-intake": "leads.received.v1", "allocator": "leads.qualified.v1", "console": "allocation.assigned.v1"}


def handler_counters(metrics_text: str, topic: str) -> dict[str, float]:
    """Handler calls and seconds for `topic`, and dead letters of any topic."""
    out = {"calls": 0.0, "seconds": 0.0, "dead_letters": 0.0}
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            same = sample.labels.get("topic") == topic
            if sample.name == "telesales_handler_duration_seconds_count" and same:
                out["calls"] += sample.value
            elif sample.name == "telesales_handler_duration_seconds_sum" and same:
                out["seconds"] += sample.value
            elif sample.name == "telesales_dead_letters_total":
                out["dead_letters"] += sample.value
    return out


def handler_use(before: dict[str, float], after: dict[str, float], leads: int, wall_s: float) -> dict[str, Any]:
    """A phase's handler figures: batches, leads per batch, ms per batch, share of the wall time busy."""
    calls = after["calls"] - before["calls"]
    seconds = after["seconds"] - before["seconds"]
    return {"batches": calls, "leads_per_batch": leads / calls if calls else 0.0,
            "ms_per_batch": 1000 * seconds / calls if calls else 0.0,
            "busy_pct": 100 * seconds / wall_s if wall_s > 0 else 0.0,
            "dead_letters": after["dead_letters"] - before["dead_letters"]}
