"""The service layer of metrics: counts each consumed batch (every topic together) in one MongoDB
transaction, and reads the counters back into funnels, rates and indicators for the HTTP API."""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from pymongo.errors import DuplicateKeyError

from telesales_runtime.consumer import Delivery
from telesales_runtime.deadletter import DeadLetterPublisher
from telesales_runtime.errors import DomainError
from telesales_runtime.observability import MESSAGES_CONSUMED

from . import domain
from .domain import (
    ALL,
    CALL_FIELDS,
    COHORTS,
    FIRST_CALL_BUCKETS,
    HOLDER_BUCKETS,
    LEAD_STEPS,
    TIP_STEPS,
    USER_STEPS,
    Batch,
    Fact,
    Rules,
    World,
    add_counts,
    funnel_rows,
    ratio,
)
from .settings import MetricsSettings
from .store import MetricsStore, Session, event_digest

log = logging.getLogger(__name__)

EVENT_TYPE_PREFIX = "telesales."
FAR_FUTURE = "9999-12-31"
GROUPINGS = {"funnel": ("business_line", "channel", "team"), "pool": ("business_line", "team"), "calls": ("team",)}


def topic_of(delivery: Delivery) -> str:
    return delivery.event.type.removeprefix(EVENT_TYPE_PREFIX)


def facts_of(deliveries: Iterable[Delivery]) -> list[tuple[Fact, bytes]]:
    """Each delivery as a fact with its inbox digest; a repeat of a (tenant, event id) within the batch
    (on another topic) is left out. (A dead letter about a dead letter is never written: the runtime drops
    it, so counting dead letters cannot feed on itself.)"""
    out, seen = [], set()
    for delivery in deliveries:
        event = delivery.event
        digest = event_digest(event.tenantid, event.id)
        topic = topic_of(delivery)
        if digest in seen:
            continue
        seen.add(digest)
        out.append((Fact(topic, event.tenantid, event.id, domain.fact_time(topic, event.data, event.time), event.data),
                    digest))
    return out


class MetricsService:
    def __init__(self, settings: MetricsSettings, store: MetricsStore, dead_letters: DeadLetterPublisher) -> None:
        self.settings = settings
        self.store = store
        self.dead_letters = dead_letters
        self.tz = settings.tz
        self.rules = Rules(settings.tz, settings.effective_call_seconds, settings.deep_call_seconds)

    # ---- counting ----------------------------------------------------------------------------------------

    async def handle(self, deliveries: Sequence[Delivery]) -> int:
        """Count a batch of deliveries of any topics: the events not counted before, with their states and
        the inbox entry, in one transaction. Returns how many were counted. When another consumer counted
        some of them meanwhile (a rebalance), the inbox's unique digests refuse the transaction and what
        is left is counted again."""
        facts = facts_of(deliveries)
        try:
            counted = await self.store.transaction(lambda session: self._count(facts, session))
        except DuplicateKeyError:
            counted = await self.store.transaction(lambda session: self._count(facts, session))
        by_topic = Counter(f.topic for f, _ in facts)
        fresh = Counter(f.topic for f in counted)
        for topic, n in by_topic.items():
            if fresh[topic]:
                MESSAGES_CONSUMED.labels(self.settings.service_name, topic, "processed").inc(fresh[topic])
            if n - fresh[topic]:
                MESSAGES_CONSUMED.labels(self.settings.service_name, topic, "duplicate").inc(n - fresh[topic])
        return len(counted)

    async def _count(self, facts: list[tuple[Fact, bytes]], session: Session) -> list[Fact]:
        done = await self.store.counted([d for _, d in facts], session)
        fresh = [(f, d) for f, d in facts if d not in done]
        if not fresh:
            return []
        worlds: dict[str, World] = {}
        for tenant, needs in domain.needs(f for f, _ in fresh).items():
            world = await self.store.load(tenant, needs, session)
            holders = domain.holding_agents(world) - set(world.agents)
            if holders:
                await self.store.load(tenant, domain.Needs(agents=holders), session, world)
            worlds[tenant] = world
        increments = Batch(self.rules, worlds).apply([f for f, _ in fresh])
        await self.store.write(increments, worlds, [d for _, d in fresh], session)
        return [f for f, _ in fresh]

    # ---- periods -------------------------------------------------------------------------------------------

    def today(self) -> str:
        return datetime.now(self.tz).date().isoformat()

    def days(self, first: date | None, last: date | None, default_days: int) -> tuple[str, str]:
        """The ISO days of a request's range (today and the `default_days` before it when not given)."""
        end = last or datetime.now(self.tz).date()
        start = first or end - timedelta(days=default_days - 1)
        if start > end:
            raise DomainError("bad_range", "`from` is after `to`")
        if (end - start).days + 1 > self.settings.max_range_days:
            raise DomainError("range_too_long", f"ask for at most {self.settings.max_range_days} days",
                              max_days=self.settings.max_range_days)
        return start.isoformat(), end.isoformat()

    @staticmethod
    def period_of(day: str, period: str, first: str, last: str) -> str:
        if period == "day":
            return day
        if period == "week":
            return domain.iso_week(day)
        return f"{first}/{last}"

    async def grouped(self, tenant: str, family: str, first: str, last: str, period: str, by: Sequence[str],
                      filters: Mapping[str, str | None]) -> dict[tuple[str, tuple[str, ...]], Counter[str]]:
        """The family's counts of the days first..last, summed per period (day, ISO week, or the whole
        range) and per the labels in `by`, among the documents matching `filters`."""
        out: dict[tuple[str, tuple[str, ...]], Counter[str]] = defaultdict(Counter)
        for doc in await self.store.counter_docs(tenant, family, first, last):
            dims = doc.get("dims") or {}
            if any(value is not None and dims.get(name) != value for name, value in filters.items()):
                continue
            key = (self.period_of(doc["period"], period, first, last), tuple(dims.get(name, "") for name in by))
            add_counts(out[key], doc.get("c") or {})
        return dict(sorted(out.items()))

    # ---- funnels ---------------------------------------------------------------------------------------------

    async def _rows(self, family: str, view: Callable[[Counter[str]], dict[str, Any]], tenant: str, first: str,
                    last: str, period: str, by: Sequence[str], filters: Mapping[str, str | None]) -> list[dict[str, Any]]:
        """One row per period and group of the family's counts: its period, its group and `view` of its counts."""
        grouped = await self.grouped(tenant, family, first, last, period, by, filters)
        return [{"period": label, "group": dict(zip(by, group, strict=True)), **view(counts)}
                for (label, group), counts in grouped.items()]

    async def lead_funnel(self, tenant: str, first: str, last: str, period: str, by: Sequence[str],
                          filters: Mapping[str, str | None]) -> list[dict[str, Any]]:
        # A team gets leads once the pool hands them over: its rates over total are over those it received.
        base = "received" if "team" in by else None
        return await self._rows("funnel", lambda c: {"received": c.get("received", 0), "rejected": c.get("rejected", 0),
                                                     "steps": funnel_rows(c, LEAD_STEPS, base)},
                                tenant, first, last, period, by, filters)

    async def call_funnel(self, tenant: str, first: str, last: str, period: str, by: Sequence[str],
                          filters: Mapping[str, str | None]) -> list[dict[str, Any]]:
        return await self._rows("calls", call_view, tenant, first, last, period, by, filters)

    async def pool_operations(self, tenant: str, first: str, last: str, period: str, by: Sequence[str],
                              filters: Mapping[str, str | None]) -> list[dict[str, Any]]:
        return await self._rows("pool", pool_view, tenant, first, last, period, by, filters)

    async def marketplace(self, tenant: str, first: str, last: str, period: str) -> dict[str, Any]:
        grouped = await self.grouped(tenant, "market", first, last, period, (), {})
        total = Counter(((await self.store.all_time(tenant, "market")) or {}).get("c") or {})
        # Accounts holding coins at the end of a day: today's number less the moves of the days after it.
        later = await self.store.counter_docs(tenant, "market", first, FAR_FUTURE)
        moves = {doc["period"]: doc["c"].get("holders", 0) for doc in later}

        def holders_at_end(day: str) -> int:
            return total.get("holders", 0) - sum(v for d, v in moves.items() if d > day)

        rows = []
        for (label, _), counts in grouped.items():
            end = label if period == "day" else min(last, _period_end(label, period, last))
            days = 1 if period == "day" else len(domain.days_between(_period_start(label, period, first), end))
            holders = holders_at_end(end)
            rows.append({"period": label, **market_view(counts),
                         "accounts_holding_coins": holders,
                         "daily_active_rate": ratio(counts.get("daily_active", 0) / days, holders)})
        return {"rows": rows, "all_time": {**market_view(total), "accounts_holding_coins": total.get("holders", 0)}}

    async def tip_funnel(self, tenant: str, limit: int, sort: str) -> list[dict[str, Any]]:
        docs = await self.store.counters.find({"tenant_id": tenant, "family": "tip", "period": ALL},
                                              sort=[(f"c.{sort}", -1), ("_id", 1)], limit=limit).to_list()
        facts = await self.store.tip_facts(tenant, [d["dims"]["tip"] for d in docs])
        rows = []
        for doc in docs:
            tip_id = doc["dims"]["tip"]
            info = facts.get(tip_id, {})
            rows.append({"tip_id": tip_id, **{k: info.get(k) for k in ("title", "stage", "author_id", "status")},
                         **tip_view(Counter(doc.get("c") or {}))})
        return rows

    async def training_effect(self, tenant: str, first: str, last: str) -> list[dict[str, Any]]:
        grouped = await self.grouped(tenant, "training", first, last, "range", ("cohort",), {})
        sizes = await self.store.cohort_sizes()
        rows = []
        for cohort in COHORTS:
            counts = grouped.get((f"{first}/{last}", (cohort,)), Counter())
            agents = sizes.get((tenant, cohort), 0)
            rows.append({"cohort": cohort, "agents": agents, **training_view(counts, agents)})
        return rows

    # ---- an agent's indicators ---------------------------------------------------------------------------------

    async def agent_days(self, tenant: str, agents: list[str], first: str, last: str) -> dict[str, dict[str, Counter[str]]]:
        """Per agent, per day: the agent's counters."""
        out: dict[str, dict[str, Counter[str]]] = defaultdict(dict)
        for doc in await self.store.counter_docs(tenant, "agent", first, last, **{"dims.agent": {"$in": agents}}):
            out[doc["dims"]["agent"]][doc["period"]] = Counter(doc["c"])
        return out

    async def indicators(self, tenant: str, agent_id: str, first: str, last: str) -> dict[str, Any]:
        """An agent's call and funnel indicators over first..last, per day and in total, with the rates the
        struggle push compares and the same rates of the agent's team."""
        agent_doc = await self.store.state("agents", tenant, agent_id)
        team = (agent_doc or {}).get("team")
        mates = await self.store.agents_of_team(tenant, team) if team else []
        days = await self.agent_days(tenant, sorted({agent_id, *mates}), first, last)
        mine = days.get(agent_id, {})
        total = sum(mine.values(), Counter())
        team_total = sum((c for agent in mates for c in days.get(agent, {}).values()), Counter())
        return {
            "agent_id": agent_id, "team_id": team, "cohort": (agent_doc or {}).get("cohort", "none"),
            "on_roster": (agent_doc or {}).get("roster_at") is not None, "from": first, "to": last,
            "totals": agent_view(total),
            "rates": {"agent": domain.agent_rates(total), "team": domain.agent_rates(team_total) if team else {}},
            "team_agents": len(mates),
            "days": [{"day": day, **agent_view(counts)} for day, counts in sorted(mine.items())],
        }


# ---- views of counters ---------------------------------------------------------------------------------------


def _period_start(label: str, period: str, first: str) -> str:
    if period == "week":
        year, week = label.split("-W")
        return max(first, date.fromisocalendar(int(year), int(week), 1).isoformat())
    return first


def _period_end(label: str, period: str, last: str) -> str:
    if period == "week":
        year, week = label.split("-W")
        return date.fromisocalendar(int(year), int(week), 7).isoformat()
    return last


def call_view(c: Mapping[str, int]) -> dict[str, Any]:
    first_calls = sum(v for k, v in c.items() if k.startswith("first_call:"))
    return {**{name: c.get(name, 0) for name in CALL_FIELDS},
            "connect_rate": ratio(c.get("connected", 0), c.get("outbound", 0)),
            "effective_rate": ratio(c.get("effective", 0), c.get("outbound", 0)),
            "deep_rate": ratio(c.get("deep", 0), c.get("outbound", 0)),
            "avg_talk_seconds": ratio(c.get("talk_seconds", 0), c.get("connected", 0)),
            "first_calls": first_calls,
            "avg_first_call_seconds": ratio(c.get("first_call_sum", 0), first_calls),
            "first_call_delay": _distribution(c, "first_call", FIRST_CALL_BUCKETS)}


def _distribution(c: Mapping[str, int], prefix: str, bounds: Sequence[float]) -> dict[str, int]:
    return {name.split(":", 1)[1]: c.get(name, 0) for name in domain.bucket_fields(prefix, bounds)}


def pool_view(c: Mapping[str, int]) -> dict[str, Any]:
    holdings = c.get("assigned", 0) + c.get("claimed", 0)
    processed = c.get("processed_first", 0) + c.get("processed_repeat", 0)
    return {**{name: c.get(name, 0) for name in domain.POOL_OPERATIONS},
            "received": c.get("created", 0) + holdings,
            "reclaimed": c.get("reclaimed_not_processed", 0) + c.get("reclaimed_not_converted", 0),
            "holdings": holdings, "processed": processed,
            "processed_first_pass": c.get("processed_first", 0), "processed_repeat": c.get("processed_repeat", 0),
            "processing_rate": ratio(processed, holdings),
            "first_pass_share": ratio(c.get("processed_first", 0), processed),
            "won_amount_fen": c.get("won_fen", 0),
            "avg_holders_before_won": ratio(c.get("won_holders_sum", 0), c.get("won", 0)),
            "holders_before_won": _distribution(c, "won_holders", HOLDER_BUCKETS)}


def market_view(c: Mapping[str, int]) -> dict[str, Any]:
    users = {step: c.get(f"users:{step}", 0) for step in USER_STEPS}
    pairs = {step: c.get(f"tip_users:{step}", 0) for step in TIP_STEPS}
    counts = {k: v for k, v in c.items() if not k.startswith(("users:", "tip_users:")) and k != "holders"}
    return {"users": funnel_rows(users, USER_STEPS), "tips": tip_rates(pairs, c.get("tips_approved", 0),
                                                                       c.get("tips_rejected", 0)),
            "counts": dict(sorted(counts.items())),
            "users_reclaimed": c.get("users_reclaimed", 0), "users_relearned": c.get("users_relearned", 0),
            "relearn_rate": ratio(c.get("users_relearned", 0), c.get("users_reclaimed", 0))}


def tip_rates(pairs: Mapping[str, int], approved: int, rejected: int) -> dict[str, Any]:
    """The tip funnel's rates: review pass, purchase (buyers / visitors), learning (learners / buyers),
    forward (forwarders / learners) and rewatch (rewatchers / learners)."""
    return {"review_pass_rate": ratio(approved, approved + rejected),
            "purchase_rate": ratio(pairs.get("bought", 0), pairs.get("visited", 0)),
            "learning_rate": ratio(pairs.get("learned", 0), pairs.get("bought", 0)),
            "forward_rate": ratio(pairs.get("forwarded", 0), pairs.get("learned", 0)),
            "rewatch_rate": ratio(pairs.get("rewatched", 0), pairs.get("learned", 0)),
            **{step: pairs.get(step, 0) for step in TIP_STEPS}}


def tip_view(c: Mapping[str, int]) -> dict[str, Any]:
    return {**tip_rates(c, c.get("approved", 0), c.get("rejected", 0)),
            **{name: c.get(name, 0) for name in ("submitted", "approved", "rejected", "visits", "purchases",
                                                 "ratings", "stars", "forwards")},
            "avg_rating": ratio(c.get("stars", 0), c.get("ratings", 0))}


def agent_view(c: Mapping[str, int]) -> dict[str, Any]:
    return {**{name: c.get(name, 0) for name in sorted(domain.AGENT_FIELDS)},
            "connect_rate": ratio(c.get("connected", 0), c.get("outbound", 0)),
            "effective_rate": ratio(c.get("effective", 0), c.get("outbound", 0)),
            "deep_rate": ratio(c.get("deep", 0), c.get("outbound", 0)),
            "processing_rate": ratio(c.get("processed", 0), c.get("received", 0)),
            "conversion_rate": ratio(c.get("won", 0), c.get("received", 0))}


def training_view(c: Mapping[str, int], agents: int) -> dict[str, Any]:
    view = agent_view(c)
    view["funnel"] = funnel_rows(c, LEAD_STEPS[1:])
    for name in ("outbound", "effective", "talk_seconds", "won"):
        view[f"{name}_per_agent"] = ratio(c.get(name, 0), agents)
    return view
