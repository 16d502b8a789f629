"""Reading counters back: funnels with their rates, an agent's struggle rates, Prometheus histograms."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from .vocabulary import bucket_fields, ratio


def funnel_rows(counts: Mapping[str, int], steps: Sequence[str], base: str | None = None) -> list[dict[str, Any]]:
    """The funnel of `counts` over `steps`: each step's count, its rate from the step before, and its rate
    over the first step (or over `base`, e.g. the leads a team received)."""
    first = counts.get(base or steps[0], 0)
    rows = []
    previous: int | None = None
    for step in steps:
        count = counts.get(step, 0)
        rows.append({"step": step, "count": count,
                     "rate_from_previous": None if previous is None else ratio(count, previous),
                     "rate_over_total": ratio(count, first)})
        previous = count
    return rows


def add_counts(target: Counter[str], source: Mapping[str, int]) -> Counter[str]:
    for name, value in source.items():
        target[name] += value
    return target


def agent_rates(counts: Mapping[str, int]) -> dict[str, float]:
    """The rates the marketplace's struggle push compares (its FunnelStep names): effective calls over
    calls (connect_60s), intent over valid, actual visits over intent, plan over actual visits. A rate
    with nothing to divide by is left out."""
    pairs = {"connect_60s": ("effective", "outbound"), "intent": ("intent", "valid"),
             "visit": ("actual_visit", "intent"), "plan": ("plan", "actual_visit")}
    out = {}
    for name, (numerator, denominator) in pairs.items():
        value = ratio(counts.get(numerator, 0), counts.get(denominator, 0))
        if value is not None:
            out[name] = min(1.0, value)
    return out


def histogram(counts: Mapping[str, int], prefix: str, bounds: Sequence[float]) -> tuple[list[tuple[str, int]], int, int]:
    """Cumulative Prometheus buckets (le, count), the count and the sum of a histogram kept as
    non-cumulative bucket counters."""
    cumulative, running = [], 0
    for name, bound in zip(bucket_fields(prefix, bounds), [*(str(float(b)) for b in bounds), "+Inf"], strict=True):
        running += counts.get(name, 0)
        cumulative.append((bound, running))
    return cumulative, running, counts.get(f"{prefix}_sum", 0)


def relearn_rate(counts: Mapping[str, int]) -> float | None:
    """复学率: of the users whose coins were reclaimed (counted on the day of their first reclaim), those who
    learned again afterwards (counted on that same day, see marketplace): 复学人数/回收人数."""
    return ratio(counts.get("reclaimed_relearned", 0), counts.get("users_reclaimed", 0))


def daily_active_rate(active_allocated: int, days: int, users_allocated: int) -> float | None:
    """日活率: the average number of users active a day, among those the coins were allocated to, over the
    users the coins were allocated to by the period's end (`days` days in the period)."""
    return ratio(active_allocated / days, users_allocated) if days else None
