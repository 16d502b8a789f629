"""The reads the HTTP API serves: the counters of a family over a range of days, summed per period and
group, as funnels and rates (views.py), and an agent's indicators (indicators.py). Read from MongoDB
through the store only; nothing here writes."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .domain import COHORTS, add_counts, daily_active_rate, days_between
from .indicators import indicators_body
from .periods import FAR_FUTURE, period_end, period_of, period_start
from .store import MetricsStore
from .views import call_view, lead_view, market_view, pool_view, tip_view, training_view

# The labels each family's rows may be grouped by.
GROUPINGS = {"funnel": ("business_line", "channel", "team"), "pool": ("business_line", "team"), "calls": ("team",)}
Rows = list[dict[str, Any]]


async def grouped(*, store: MetricsStore, tenant: str, family: str, first: str, last: str, period: str,
                  by: Sequence[str], filters: Mapping[str, str | None]) -> dict[tuple[str, tuple[str, ...]], Counter[str]]:
    """The family's counts of the days first..last, summed per period (day, ISO week, or the whole
    range) and per the labels in `by`, among the documents matching `filters`."""
    out: dict[tuple[str, tuple[str, ...]], Counter[str]] = defaultdict(Counter)
    for doc in await store.counter_docs(tenant, family, first, last):
        dims = doc.get("dims") or {}
        if any(value is not None and dims.get(name) != value for name, value in filters.items()):
            continue
        key = (period_of(doc["period"], period, first, last), tuple(dims.get(name, "") for name in by))
        add_counts(out[key], doc.get("c") or {})
    return dict(sorted(out.items()))


async def _rows(*, store: MetricsStore, family: str, view: Callable[[Counter[str]], dict[str, Any]], tenant: str,
                first: str, last: str, period: str, by: Sequence[str], filters: Mapping[str, str | None]) -> Rows:
    """One row per period and group of the family's counts: its period, its group and `view` of its counts."""
    counts_of = await grouped(store=store, tenant=tenant, family=family, first=first, last=last, period=period,
                              by=by, filters=filters)
    return [{"period": label, "group": dict(zip(by, group, strict=True)), **view(counts)}
            for (label, group), counts in counts_of.items()]


async def lead_funnel(*, store: MetricsStore, tenant: str, first: str, last: str, period: str, by: Sequence[str],
                      filters: Mapping[str, str | None]) -> Rows:
    # A team gets leads once the pool hands them over: its rates over total are over those it received.
    base = "received" if "team" in by else None
    return await _rows(store=store, family="funnel", view=lambda c: lead_view(c, base), tenant=tenant, first=first,
                       last=last, period=period, by=by, filters=filters)


async def call_funnel(*, store: MetricsStore, tenant: str, first: str, last: str, period: str, by: Sequence[str],
                      filters: Mapping[str, str | None]) -> Rows:
    return await _rows(store=store, family="calls", view=call_view, tenant=tenant, first=first, last=last,
                       period=period, by=by, filters=filters)


async def pool_operations(*, store: MetricsStore, tenant: str, first: str, last: str, period: str,
                          by: Sequence[str], filters: Mapping[str, str | None]) -> Rows:
    return await _rows(store=store, family="pool", view=pool_view, tenant=tenant, first=first, last=last,
                       period=period, by=by, filters=filters)


async def marketplace(*, store: MetricsStore, tenant: str, first: str, last: str, period: str) -> dict[str, Any]:
    counts_of = await grouped(store=store, tenant=tenant, family="market", first=first, last=last, period=period,
                              by=(), filters={})
    total = Counter(((await store.all_time(tenant, "market")) or {}).get("c") or {})
    # A running figure at the end of a day: its all-time number less the moves of the days after it.
    later = await store.counter_docs(tenant, "market", first, FAR_FUTURE)

    def at_end(name: str, day: str) -> int:
        return total.get(name, 0) - sum(doc["c"].get(name, 0) for doc in later if doc["period"] > day)

    rows = []
    for (label, _), counts in counts_of.items():
        end = label if period == "day" else min(last, period_end(label, period, last))
        days = 1 if period == "day" else len(days_between(period_start(label, period, first), end))
        allocated = at_end("users_allocated", end)
        rows.append({"period": label, **market_view(counts),
                     "accounts_holding_coins": at_end("holders", end), "users_allocated": allocated,
                     "daily_active_rate": daily_active_rate(counts.get("daily_active_allocated", 0), days, allocated)})
    return {"rows": rows, "all_time": {**market_view(total), "accounts_holding_coins": total.get("holders", 0),
                                       "users_allocated": total.get("users_allocated", 0)}}


async def tip_funnel(*, store: MetricsStore, tenant: str, limit: int, sort: str) -> Rows:
    docs = await store.top_tips(tenant, sort=sort, limit=limit)
    facts = await store.tip_facts(tenant, [d["dims"]["tip"] for d in docs])
    rows = []
    for doc in docs:
        tip_id = doc["dims"]["tip"]
        info = facts.get(tip_id, {})
        rows.append({"tip_id": tip_id, **{k: info.get(k) for k in ("title", "stage", "author_id", "status")},
                     **tip_view(Counter(doc.get("c") or {}))})
    return rows


async def training_effect(*, store: MetricsStore, tenant: str, first: str, last: str) -> Rows:
    counts_of = await grouped(store=store, tenant=tenant, family="training", first=first, last=last, period="range",
                              by=("cohort",), filters={})
    sizes = await store.cohort_sizes()
    rows = []
    for cohort in COHORTS:
        counts = counts_of.get((f"{first}/{last}", (cohort,)), Counter())
        agents = sizes.get((tenant, cohort), 0)
        rows.append({"cohort": cohort, "agents": agents, **training_view(counts, agents)})
    return rows


async def agent_days(*, store: MetricsStore, tenant: str, agents: list[str], first: str,
                     last: str) -> dict[str, dict[str, Counter[str]]]:
    """Per agent, per day: the agent's counters."""
    out: dict[str, dict[str, Counter[str]]] = defaultdict(dict)
    for doc in await store.counter_docs(tenant, "agent", first, last, **{"dims.agent": {"$in": agents}}):
        out[doc["dims"]["agent"]][doc["period"]] = Counter(doc["c"])
    return out


async def team_of(*, store: MetricsStore, tenant: str, agent_id: str) -> str | None:
    """The team the roster events put an agent in (None: unknown)."""
    return ((await store.state("agents", tenant, agent_id)) or {}).get("team")


async def indicators(*, store: MetricsStore, tenant: str, agent_id: str, first: str, last: str) -> dict[str, Any]:
    """An agent's call and funnel indicators over first..last, per day and in total, with the rates the
    struggle push compares and the same figures of the agent's team (indicators.py)."""
    agent_doc = await store.state("agents", tenant, agent_id)
    team = (agent_doc or {}).get("team")
    mates = await store.agents_of_team(tenant, team) if team else []
    days = await agent_days(store=store, tenant=tenant, agents=sorted({agent_id, *mates}), first=first, last=last)
    return indicators_body(agent_id=agent_id, agent_doc=agent_doc, mates=mates, days=days, first=first, last=last)

