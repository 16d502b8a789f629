"""The floor's figures on /metrics: a snapshot that a background task reads again from MongoDB and renders
as Prometheus text every `refresh_seconds`, so a scrape never waits for the database and costs little. Every
replica keeps one; only the holder of the counting lease serves it, so a sum over replicas is the truth
(replicas.py).

Labels are bounded: `tenant`, `business_line` and `team` values per tenant are the configured ones
(METRICS_BUSINESS_LINES, METRICS_TEAMS) or, without a list, the first `max_business_lines` /
`max_teams` values seen (admitted once and for good, kept in MongoDB so every replica agrees); any
other value is summed into `other`. Channels are the fixed vocabulary. Counters are all-time totals
kept in MongoDB, so they survive restarts and never go down."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from prometheus_client import generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from telesales_runtime.periodic import PeriodicLoop

from . import domain
from .domain import (
    CALL_DURATION_BUCKETS,
    CHANNELS,
    COHORTS,
    FIRST_CALL_BUCKETS,
    HOLDER_BUCKETS,
    LEAD_STEPS,
    TIP_STEPS,
    USER_STEPS,
    add_counts,
    ratio,
)
from .replicas import REPLICA_FAMILY_NAMES, ReplicaGauges
from .settings import MetricsSettings
from .store import Doc, MetricsStore

OTHER = "other"
MARKET_EVENTS = ("visits", "purchase_requests", "purchases", "purchases_refused", "learn_reports", "ratings",
                 "forwards", "daily_active", "tips_submitted", "tips_approved", "tips_rejected", "tips_listed",
                 "tips_delisted", "deep_learners", "struggle_pushes", "allocations", "reclaims", "ledger_posted",
                 "ledger_rejected", "bonus_draws")
COIN_MOVEMENTS = {"allocated": "coins_allocated", "reclaimed": "coins_reclaimed", "redeemed": "coins_redeemed",
                  "spent": "coins_spent", "bonus": "bonus_coins"}
CALL_COUNTERS = {"telesales_calls": ("outbound", "Calls placed (外呼), by the caller's team."),
                 "telesales_calls_connected": ("connected", "Calls connected (接通)."),
                 "telesales_calls_effective": ("effective", "Connected calls of at least the effective length "
                                               "(60 s by default, 有效沟通)."),
                 "telesales_calls_deep": ("deep", "Connected calls of at least the deep length (180 s by default, "
                                          "深度沟通)."),
                 "telesales_call_talk_seconds": ("talk_seconds", "Talk time of connected calls (通时)."),
                 "telesales_leads_multiple_effective_calls": ("multi_effective_leads", "Leads that got a second "
                                                              "effective call (多次有效通话), by the caller's team.")}

# Every metric family this service exposes (name as exposed, without _total/_bucket suffixes): the
# observability config test checks the dashboards and alerts against these and the runtime's.
FAMILY_NAMES: tuple[str, ...] = (
    "telesales_funnel_leads_by_business_line", "telesales_funnel_leads_by_channel", "telesales_funnel_leads_by_team",
    "telesales_leads_rejected", "telesales_funnel_today_leads", "telesales_funnel_today_conversion_ratio",
    *CALL_COUNTERS, "telesales_call_duration_seconds", "telesales_lead_first_call_delay_seconds",
    "telesales_pool_operations", "telesales_pool_holdings_processed", "telesales_pool_holders_before_won",
    "telesales_market_users", "telesales_market_tip_users", "telesales_market_events", "telesales_market_coins",
    "telesales_market_users_reclaimed", "telesales_market_users_relearned", "telesales_market_accounts_holding_coins",
    "telesales_market_daily_active_users", "telesales_market_daily_active_ratio",
    "telesales_training_cohort_indicators", "telesales_training_cohort_agents",
    "telesales_platform_dead_letters", "telesales_lead_signals", "telesales_hot_leads",
    *REPLICA_FAMILY_NAMES,
)


class LabelGate:
    """Maps a label value to itself when it may be a label value on /metrics, else to `other`."""

    def __init__(self, store: MetricsStore, settings: MetricsSettings) -> None:
        self.store = store
        self.fixed = {"business_line": set(settings.business_lines), "team": set(settings.teams)}
        self.caps = {"business_line": settings.max_business_lines, "team": settings.max_teams}
        self.admitted: dict[tuple[str, str], set[str]] = defaultdict(set)

    async def load(self) -> None:
        for key, values in (await self.store.admitted_labels()).items():
            self.admitted[key].update(values)

    async def admit(self, tenant: str, label: str, values: Iterable[str]) -> None:
        """Admit the values seen, first come first served, while the tenant's cap allows."""
        if self.fixed[label]:
            return
        admitted = self.admitted[(tenant, label)]
        for value in sorted(set(values) - admitted):
            if len(admitted) >= self.caps[label]:
                return
            if await self.store.admit_label(tenant, label, value, self.caps[label]):
                admitted.add(value)
            else:
                await self.load()

    def __call__(self, tenant: str, label: str, value: str) -> str:
        if label == "channel":
            return value if value in CHANNELS or value == domain.UNKNOWN else OTHER
        allowed = self.fixed[label] or self.admitted[(tenant, label)]
        return value if value in allowed else OTHER


class Snapshot:
    """Metric families built from counter documents (all time and today's)."""

    def __init__(self, gate: LabelGate) -> None:
        self.gate = gate
        self.families: list[Metric] = []

    def build(self, all_docs: Sequence[Doc], today_docs: Sequence[Doc], cohorts: Mapping[tuple[str, str], int]) -> list[Metric]:
        g = self.gate
        sums: dict[str, dict[tuple[str, ...], Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
        for doc in all_docs:
            tenant, family, dims, c = doc["tenant_id"], doc["family"], doc.get("dims") or {}, doc.get("c") or {}
            if family == "funnel":
                bl, ch = g(tenant, "business_line", dims["business_line"]), g(tenant, "channel", dims["channel"])
                team = g(tenant, "team", dims["team"])
                add_counts(sums["funnel_bl"][(tenant, bl)], c)
                add_counts(sums["funnel_ch"][(tenant, ch)], c)
                add_counts(sums["funnel_team"][(tenant, team)], c)
            elif family == "pool":
                bl, team = g(tenant, "business_line", dims["business_line"]), g(tenant, "team", dims["team"])
                add_counts(sums["pool"][(tenant, bl, team)], c)
                add_counts(sums["pool_bl"][(tenant, bl)], c)
            elif family == "calls":
                add_counts(sums["calls"][(tenant, g(tenant, "team", dims["team"]))], c)
            elif family in ("market", "floor"):
                add_counts(sums[family][(tenant,)], c)
            elif family == "training":
                add_counts(sums["training"][(tenant, dims["cohort"])], c)
            elif family == "dead_letters":
                add_counts(sums["dead_letters"][(tenant, dims["service"], dims["topic"])], c)
        today: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        today_market: dict[tuple[str, ...], Counter[str]] = defaultdict(Counter)
        for doc in today_docs:
            tenant = doc["tenant_id"]
            if doc["family"] == "funnel":
                add_counts(today[(tenant, g(tenant, "business_line", doc["dims"]["business_line"]))], doc.get("c") or {})
            elif doc["family"] == "market":
                add_counts(today_market[(tenant,)], doc.get("c") or {})
        families: list[Metric] = []
        families += self._funnel(sums, today)
        families += self._calls(sums["calls"])
        families += self._pool(sums["pool"], sums["pool_bl"])
        families += self._market(sums["market"], today_market)
        families += self._training(sums["training"], cohorts)
        families += self._platform(sums["dead_letters"], sums["floor"])
        self.families = families
        return families

    @staticmethod
    def _funnel(sums: Mapping[str, Mapping[tuple[str, ...], Counter[str]]],
                today: Mapping[tuple[str, str], Counter[str]]) -> list[Metric]:
        out = []
        for key, label, text in (("funnel_bl", "business_line", "business line"), ("funnel_ch", "channel", "channel"),
                                 ("funnel_team", "team", "team (of the agent holding the lead then; 'none' "
                                  "before the pool hands it over)")):
            steps = (*LEAD_STEPS, "received") if label == "team" else LEAD_STEPS
            m = CounterMetricFamily(f"telesales_funnel_leads_by_{label}", f"Leads at each step of the lead funnel "
                                    f"(counted once, when first reached), by {text}.", labels=["tenant", label, "step"])
            for (tenant, value), c in sorted(sums[key].items()):
                for step in steps:
                    m.add_metric([tenant, value, step], c.get(step, 0))
            out.append(m)
        rejected = CounterMetricFamily("telesales_leads_rejected", "Leads lead-intake rejected as junk (part of the "
                                       "funnel's total).", labels=["tenant", "business_line"])
        for (tenant, value), c in sorted(sums["funnel_bl"].items()):
            rejected.add_metric([tenant, value], c.get("rejected", 0))
        today_leads = GaugeMetricFamily("telesales_funnel_today_leads", "Leads that reached each funnel step today "
                                        "(the floor's day).", labels=["tenant", "business_line", "step"])
        today_rate = GaugeMetricFamily("telesales_funnel_today_conversion_ratio", "Today's leads at a step over "
                                       "today's leads at the step before it.", labels=["tenant", "business_line", "step"])
        for (tenant, value), c in sorted(today.items()):
            for before, step in zip(LEAD_STEPS, LEAD_STEPS[1:], strict=False):
                today_leads.add_metric([tenant, value, step], c.get(step, 0))
                rate = ratio(c.get(step, 0), c.get(before, 0))
                if rate is not None:
                    today_rate.add_metric([tenant, value, step], rate)
            today_leads.add_metric([tenant, value, "total"], c.get("total", 0))
        return [*out, rejected, today_leads, today_rate]

    @staticmethod
    def _calls(calls: Mapping[tuple[str, ...], Counter[str]]) -> list[Metric]:
        out: list[Metric] = []
        for name, (field_, text) in CALL_COUNTERS.items():
            m = CounterMetricFamily(name, text, labels=["tenant", "team"])
            for (tenant, team), c in sorted(calls.items()):
                m.add_metric([tenant, team], c.get(field_, 0))
            out.append(m)
        duration = HistogramMetricFamily("telesales_call_duration_seconds", "Length of connected calls.",
                                         labels=["tenant", "team"])
        first = HistogramMetricFamily("telesales_lead_first_call_delay_seconds", "Time from a lead's assignment or "
                                      "claim to its holder's first call.", labels=["tenant", "team"])
        for (tenant, team), c in sorted(calls.items()):
            buckets, _, total = domain.histogram(c, "duration", CALL_DURATION_BUCKETS)
            duration.add_metric([tenant, team], buckets, total)
            buckets, _, total = domain.histogram(c, "first_call", FIRST_CALL_BUCKETS)
            first.add_metric([tenant, team], buckets, total)
        return [*out, duration, first]

    @staticmethod
    def _pool(pool: Mapping[tuple[str, ...], Counter[str]], by_line: Mapping[tuple[str, ...], Counter[str]]) -> list[Metric]:
        ops = CounterMetricFamily("telesales_pool_operations", "Pool operations: created (接待: new leads), assigned "
                                  "(分配), claimed (捞取), returned (退回), reclaimed_not_processed / "
                                  "reclaimed_not_converted / reclaimed_dialled_without_converting (回收), closed "
                                  "(关单), closed_do_not_call (the number went on the do-not-call list), won (成单), merged, "
                                  "reclaim_warning, complaint, hot_lead.", labels=["tenant", "business_line", "team", "operation"])
        processed = CounterMetricFamily("telesales_pool_holdings_processed", "Holdings (assignments and claims) whose "
                                        "holder worked the lead (an effective call, as the allocator's not-processed "
                                        "reclaim judges it): on its first holding (first) or a later one (repeat).",
                                        labels=["tenant", "business_line", "team", "pass"])
        for (tenant, bl, team), c in sorted(pool.items()):
            for operation in domain.POOL_OPERATIONS:
                ops.add_metric([tenant, bl, team, operation], c.get(operation, 0))
            processed.add_metric([tenant, bl, team, "first"], c.get("processed_first", 0))
            processed.add_metric([tenant, bl, team, "repeat"], c.get("processed_repeat", 0))
        holders = HistogramMetricFamily("telesales_pool_holders_before_won", "Holders a lead passed through before it "
                                        "was won (流转次数).", labels=["tenant", "business_line"])
        for (tenant, bl), c in sorted(by_line.items()):
            buckets, _, total = domain.histogram(c, "won_holders", HOLDER_BUCKETS)
            holders.add_metric([tenant, bl], buckets, total)
        return [ops, processed, holders]

    @staticmethod
    def _market(market: Mapping[tuple[str, ...], Counter[str]], today: Mapping[tuple[str, ...], Counter[str]]
                ) -> list[Metric]:
        users = CounterMetricFamily("telesales_market_users", "Marketplace users at each step of the user funnel "
                                    "(counted once, when first reached).", labels=["tenant", "step"])
        pairs = CounterMetricFamily("telesales_market_tip_users", "User-tip pairs at each step of the tip funnel "
                                    "(counted once).", labels=["tenant", "step"])
        events = CounterMetricFamily("telesales_market_events", "Marketplace and coin events.",
                                     labels=["tenant", "event"])
        coins = CounterMetricFamily("telesales_market_coins", "Coins (学呗金) moved, by movement.",
                                    labels=["tenant", "movement"])
        reclaimed = CounterMetricFamily("telesales_market_users_reclaimed", "Users whose idle coins were reclaimed "
                                        "(回收).", labels=["tenant"])
        relearned = CounterMetricFamily("telesales_market_users_relearned", "Reclaimed users who learned again "
                                        "(复学).", labels=["tenant"])
        holding = GaugeMetricFamily("telesales_market_accounts_holding_coins", "Accounts holding coins.",
                                    labels=["tenant"])
        for (tenant,), c in sorted(market.items()):
            for step in USER_STEPS:
                users.add_metric([tenant, step], c.get(f"users:{step}", 0))
            for step in TIP_STEPS:
                pairs.add_metric([tenant, step], c.get(f"tip_users:{step}", 0))
            for event in MARKET_EVENTS:
                events.add_metric([tenant, event], c.get(event, 0))
            for movement, field_ in COIN_MOVEMENTS.items():
                coins.add_metric([tenant, movement], c.get(field_, 0))
            reclaimed.add_metric([tenant], c.get("users_reclaimed", 0))
            relearned.add_metric([tenant], c.get("users_relearned", 0))
            holding.add_metric([tenant], c.get("holders", 0))
        active = GaugeMetricFamily("telesales_market_daily_active_users", "Users active in the marketplace today "
                                   "(the floor's day).", labels=["tenant"])
        active_rate = GaugeMetricFamily("telesales_market_daily_active_ratio", "Users active today among those the coins "
                                        "were allocated to, over those users (日活率).", labels=["tenant"])
        for (tenant,), c in sorted(today.items()):
            active.add_metric([tenant], c.get("daily_active", 0))
            rate = domain.daily_active_rate(c.get("daily_active_allocated", 0), 1,
                                            market.get((tenant,), Counter()).get("users_allocated", 0))
            if rate is not None:
                active_rate.add_metric([tenant], rate)
        return [users, pairs, events, coins, reclaimed, relearned, holding, active, active_rate]

    @staticmethod
    def _training(training: Mapping[tuple[str, ...], Counter[str]], cohorts: Mapping[tuple[str, str], int]) -> list[Metric]:
        indicators = CounterMetricFamily("telesales_training_cohort_indicators", "Call and funnel indicators of "
                                         "agents by learning cohort when they happened: deep learners, learners, "
                                         "others.", labels=["tenant", "cohort", "indicator"])
        for (tenant, cohort), c in sorted(training.items()):
            for name in sorted(domain.AGENT_FIELDS - {"won_fen"}):
                indicators.add_metric([tenant, cohort, name], c.get(name, 0))
        agents = GaugeMetricFamily("telesales_training_cohort_agents", "Agents in each learning cohort now.",
                                   labels=["tenant", "cohort"])
        tenants = sorted({tenant for tenant, _ in cohorts})
        for tenant in tenants:
            for cohort in COHORTS:
                agents.add_metric([tenant, cohort], cohorts.get((tenant, cohort), 0))
        return [indicators, agents]

    @staticmethod
    def _platform(dead: Mapping[tuple[str, ...], Counter[str]], floor: Mapping[tuple[str, ...], Counter[str]]) -> list[Metric]:
        letters = CounterMetricFamily("telesales_platform_dead_letters", "Dead letters every service published, "
                                      "by service and original topic.", labels=["tenant", "service", "topic"])
        for (tenant, service, topic), c in sorted(dead.items()):
            letters.add_metric([tenant, service, topic], c.get("dead_letters", 0))
        signals = CounterMetricFamily("telesales_lead_signals", "Behaviour signals of customers, by kind.",
                                      labels=["tenant", "kind"])
        hot = CounterMetricFamily("telesales_hot_leads", "Hot-lead alerts the allocator raised, by kind.",
                                  labels=["tenant", "kind"])
        do_not_call = CounterMetricFamily("telesales_do_not_call_changes", "Changes of the do-not-call list: numbers "
                                          "listed or removed, by source (operator, complaint).",
                                          labels=["tenant", "change", "source"])
        for (tenant,), c in sorted(floor.items()):
            for name, value in sorted(c.items()):
                kind, _, what = name.partition(":")
                if kind == "signal":
                    signals.add_metric([tenant, what], value)
                elif kind == "hot_lead":
                    hot.add_metric([tenant, what], value)
                elif kind == "do_not_call":
                    do_not_call.add_metric([tenant, *what.split(":", 1)], value)
        return [letters, signals, hot, do_not_call]


class FloorCollector(Collector):
    """Serves the families of a snapshot (rendered once per refresh, not per scrape)."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self.families)


class Exposition(PeriodicLoop):
    """The snapshot's text (served by `render` while `exposes_floor()`: see replicas.py) and the loop that
    refreshes it, in every replica, every `refresh_seconds` (a replica taking over serves a fresh one at once):
    an idle floor costs one read of the change mark, not a read and rendering of every counter."""

    failure = "refreshing the /metrics snapshot failed; the age gauge tells it is stale"

    def __init__(self, settings: MetricsSettings, store: MetricsStore, *, exposes_floor: Callable[[], bool]) -> None:
        super().__init__(interval_seconds=settings.refresh_seconds, task_name="metrics-exposition-refresh")
        self.exposes_floor = exposes_floor
        self.settings = settings
        self.store = store
        self.gate = LabelGate(store, settings)
        self.snapshot = Snapshot(self.gate)
        self.replica = ReplicaGauges()
        self.replica_registry = CollectorRegistry(auto_describe=False)
        self.replica_registry.register(self.replica)
        self.text = b""  # the snapshot's families as Prometheus text, rendered when they are built
        self._built: tuple[tuple[int, str], float] | None = None  # (change mark, day) built from, and when

    def render(self) -> bytes:
        """What a scrape gets from this service's own figures: the snapshot's text on the replica that exposes
        them only, and on every replica its age and whether this scrape carries them."""
        self.replica.exposing = self.exposes_floor()
        return (self.text if self.replica.exposing else b"") + generate_latest(self.replica_registry)

    async def tick(self) -> None:
        """Build the snapshot again when a checkpoint was written since, the day changed or the last build is
        `rebuild_seconds` old (a change made in MongoDB by hand); else only note that it is still current."""
        built, mark = self._built, await self.store.change_mark()
        if (built is not None and (mark, self._today()) == built[0]
                and time.monotonic() - built[1] < self.settings.rebuild_seconds):
            self.replica.refreshed_at = time.monotonic()
            return
        await self.refresh(mark=mark)

    def _today(self) -> str:
        return datetime.now(self.settings.tz).date().isoformat()

    async def refresh(self, *, mark: int | None = None) -> None:
        """Read the counters again and build the snapshot a scrape serves; `mark`: the change mark just read."""
        if mark is None:  # read before the counters: a checkpoint landing meanwhile builds again
            mark = await self.store.change_mark()
        all_docs = await self.store.counter_docs_of_period(domain.ALL)
        today = self._today()
        today_docs = await self.store.counter_docs_of_period(today)
        await self.gate.load()
        seen: dict[tuple[str, str], set[str]] = defaultdict(set)
        for doc in all_docs:
            for label in ("business_line", "team"):
                if label in (doc.get("dims") or {}):
                    seen[(doc["tenant_id"], label)].add(doc["dims"][label])
        for (tenant, label), values in seen.items():
            await self.gate.admit(tenant, label, values)
        families = self.snapshot.build(all_docs, today_docs, await self.store.cohort_sizes())
        registry = CollectorRegistry(auto_describe=False)
        registry.register(FloorCollector(families))
        self.text = generate_latest(registry)
        self.replica.refreshed_at = time.monotonic()
        self._built = ((mark, today), self.replica.refreshed_at)


def sample_names(families: Iterable[Any]) -> set[str]:
    """Names of the samples of metric families (as exposed: with _total, _bucket, _sum, _count)."""
    return {sample.name for family in families for sample in family.samples}
