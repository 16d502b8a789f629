"""The vocabulary of the figures: the steps of each funnel, the counter families and their labels, the
histogram buckets, the periods counters are kept for, and the small helpers of time and ratios.

A counter lives in a document per tenant, family, period and labels (`CounterKey`); the periods are the
day of the event in the floor's time zone and `all` (all time). Weeks are the sums of their days: every
step is counted once, on the day it happened, so sums over days are exact.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from telesales_contracts.activity import FUNNEL_ORDER
from telesales_contracts.leads import Channel

# ---- steps, families, buckets ----------------------------------------------------------------------------

LEAD_STEPS: tuple[str, ...] = ("total", *(s.value for s in FUNNEL_ORDER))  # total, valid, ..., paid
FUNNEL_FIELDS: tuple[str, ...] = (*LEAD_STEPS, "received", "rejected")
USER_STEPS: tuple[str, ...] = ("visit", "buy", "learn", "rate", "forward")
TIP_STEPS: tuple[str, ...] = ("visited", "bought", "learned", "rewatched", "rated", "forwarded")
COHORTS: tuple[str, ...] = ("deep", "learner", "none")
POOL_OPERATIONS: tuple[str, ...] = ("created", "assigned", "claimed", "returned", "reclaimed_not_processed",
                                    "reclaimed_not_converted", "reclaimed_dialled_without_converting", "closed",
                                    "closed_do_not_call", "won", "won_confirmed", "win_rejected", "merged",
                                    "reclaim_warning", "complaint", "hot_lead")
CALL_FIELDS: tuple[str, ...] = ("outbound", "connected", "effective", "deep", "talk_seconds", "multi_effective_leads")
CHANNELS: frozenset[str] = frozenset(c.value for c in Channel)

NONE = "none"  # a lead nobody holds, an agent not on the roster: the team label
UNKNOWN = "unknown"  # a lead whose qualification was not seen: its business line and channel
ALL = "all"  # the period of all-time counters

# Histogram buckets (upper bounds, seconds or holders); the last bucket is +Inf.
CALL_DURATION_BUCKETS: tuple[float, ...] = (10, 30, 60, 120, 180, 300, 600, 1200, 1800)
FIRST_CALL_BUCKETS: tuple[float, ...] = (60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600, 86400, 3 * 86400)
HOLDER_BUCKETS: tuple[float, ...] = (1, 2, 3, 4, 5, 8)

# Counter families: the labels of their documents.
FAMILY_DIMS: dict[str, tuple[str, ...]] = {
    "funnel": ("business_line", "channel", "team"),
    "pool": ("business_line", "team"),
    "calls": ("team",),
    "agent": ("agent",),
    "training": ("cohort",),
    "market": (),
    "tip": ("tip",),
    "floor": (),
    "dead_letters": ("service", "topic"),
}
# Families kept per day (besides all time); the others only all time (`agent`: only per day).
DAILY = frozenset({"funnel", "pool", "calls", "agent", "training", "market", "floor", "dead_letters"})
ALL_TIME = frozenset(FAMILY_DIMS) - {"agent"}


def bucket_field(prefix: str, value: float, bounds: Sequence[float]) -> str:
    """The counter field of the (non-cumulative) histogram bucket `value` falls in: `prefix:<bound>` or
    `prefix:inf`."""
    return _bucket_names(prefix, tuple(bounds))[bisect.bisect_left(bounds, value)]


def bucket_fields(prefix: str, bounds: Sequence[float]) -> list[str]:
    return list(_bucket_names(prefix, tuple(bounds)))


@functools.cache
def _bucket_names(prefix: str, bounds: tuple[float, ...]) -> tuple[str, ...]:
    return (*(f"{prefix}:{b:g}" for b in bounds), f"{prefix}:inf")


# ---- time -------------------------------------------------------------------------------------------------


def aware(value: datetime) -> datetime:
    """The same instant in UTC (a naive time is taken as UTC). Times parsed from events carry their own
    offsets; compared with one another that costs ten times a comparison of UTC times, and a batch compares
    every event's time about sixteen times (sorting) and more in the rules."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def day_of(at: datetime, tz: ZoneInfo) -> str:
    """ISO date of `at` in the floor's time zone."""
    return aware(at).astimezone(tz).date().isoformat()


@functools.lru_cache(maxsize=4096)
def iso_week(day: str) -> str:
    year, week, _ = date.fromisoformat(day).isocalendar()
    return f"{year}-W{week:02d}"


def days_between(first: str, last: str) -> list[str]:
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [(start + timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator, rounded to 6 places; None when there is nothing to divide by."""
    return round(numerator / denominator, 6) if denominator else None


# ---- counters ---------------------------------------------------------------------------------------------


class CounterKey(NamedTuple):
    tenant: str
    family: str
    period: str  # an ISO date, or "all"
    labels: tuple[str, ...]  # in the order of FAMILY_DIMS[family]

    @property
    def dims(self) -> dict[str, str]:
        return dict(zip(FAMILY_DIMS[self.family], self.labels, strict=True))


Increments = dict[CounterKey, dict[str, int]]



# What an agent's per-day counters hold.
AGENT_FIELDS: frozenset[str] = frozenset({*CALL_FIELDS, "processed", "received", *LEAD_STEPS[1:], "won", "won_fen"})


def by_period(per_day: Mapping[tuple[str, str, str, tuple[str, ...]], Mapping[str, int]]) -> Increments:
    """Increments counted per day (keyed as CounterKey, or as the same plain tuple), as kept: per day for
    the DAILY families, and summed into all time for the ALL_TIME ones."""
    out: Increments = {}
    for (tenant, family, day, labels), counts in per_day.items():
        if family in DAILY:
            out[CounterKey(tenant, family, day, labels)] = dict(counts)
        if family in ALL_TIME:
            all_time = CounterKey(tenant, family, ALL, labels)
            total = out.get(all_time)
            if total is None:
                out[all_time] = dict(counts)
            else:
                for name, amount in counts.items():
                    total[name] = total.get(name, 0) + amount
    return out

