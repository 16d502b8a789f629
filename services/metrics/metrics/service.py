"""The service layer of metrics: counts consumed events into states and counters held in memory, and writes
them with the offsets consumed in checkpoints (one MongoDB transaction each, in the background while the
counting goes on); reads the counters back into funnels, rates and indicators for the HTTP API.

Only one replica counts at a time (telesales_runtime.sole_consumer), so what it holds in memory is the truth
until its next checkpoint; a replica taking over starts from the last checkpoint. States not in memory (never
seen, or forgotten to stay within `state_cache_max`) are read from MongoDB before a batch is applied."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from telesales_runtime.consumer import Delivery
from telesales_runtime.deadletter import DeadLetterPublisher
from telesales_runtime.errors import DomainError
from telesales_runtime.memory import LongLivedObjects
from telesales_runtime.observability import MESSAGES_CONSUMED

from . import domain
from .dedup import Digests, DigestWindow, pack
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
    FactFailed,
    Rules,
    World,
    add_counts,
    funnel_rows,
    ratio,
)
from .indicators import agent_view, indicators_body
from .settings import MetricsSettings
from .store import Checkpoint, Fence, MetricsStore, Position, prepare_checkpoint

log = logging.getLogger(__name__)

FAR_FUTURE = "9999-12-31"
GROUPINGS = {"funnel": ("business_line", "channel", "team"), "pool": ("business_line", "team"), "calls": ("team",)}


def failed_delivery(deliveries: Sequence[Delivery], failure: FactFailed) -> Delivery:
    """The delivery of the fact a counting rule failed on."""
    return next(d for d in deliveries if d.event.id == failure.fact.event_id and d.event.tenantid == failure.fact.tenant)


class Pending:
    """What was counted since the last checkpoint was taken."""

    def __init__(self, rules: Rules, worlds: Mapping[str, World]) -> None:
        self.batch = Batch(rules, worlds)
        self.digests: list[int] = []
        self.by_topic: Counter[str] = Counter()

    @property
    def events(self) -> int:
        return len(self.digests)


class MetricsService:
    def __init__(self, settings: MetricsSettings, store: MetricsStore, dead_letters: DeadLetterPublisher) -> None:
        self.settings = settings
        self.store = store
        self.dead_letters = dead_letters
        self.tz = settings.tz
        self.rules = Rules(settings.tz, settings.effective_call_seconds, settings.deep_call_seconds)
        self.worlds: dict[str, World] = {}
        self.window = DigestWindow(settings.inbox_retention_days)
        self.pending = Pending(self.rules, self.worlds)
        self._window_loaded = False
        self._fence: Fence | None = None
        self._positions: dict[Position, int] | None = None  # of the last checkpoint taken
        self._durable: dict[Position, int] = {}  # of the last checkpoint written
        self._writing: asyncio.Task[None] | None = None
        self._taken_at = 0.0  # monotonic time the last checkpoint was taken
        self._long_lived = LongLivedObjects()
        self._digest = Digests()
        self._time_of = {topic: domain.time_getter(topic) for topic in Batch.consumed()}

    # ---- counting ----------------------------------------------------------------------------------------

    async def count(self, deliveries: Sequence[Delivery]) -> list[Fact]:
        """Count the deliveries not counted before (in memory, until the next checkpoint); the facts counted.
        FactFailed when a counting rule fails on one: the states in memory may hold part of it, and the
        caller drops them (reset)."""
        await self._load_window()
        facts = self._admit(deliveries)
        if facts:
            await self._load_states(facts)
            self.pending.batch.run(facts)
            self.pending.by_topic.update(Counter(fact.topic for fact in facts))
        return facts

    def _admit(self, deliveries: Sequence[Delivery]) -> list[Fact]:
        """The deliveries as facts (their times in UTC), without the events counted before (their digests are
        in the window). Written out for speed: it runs for every event."""
        digest, time_of = self._digest, self._time_of
        events = [d.event for d in deliveries]
        digests = [digest(event.tenantid, event.id) for event in events]
        fresh = self.window.new(digests)
        pending, facts = self.pending, []
        for n, event in enumerate(events):
            topic = deliveries[n].record.topic  # the topic is the contract, whatever spelling of its type came
            if fresh is not None and not fresh[n]:
                MESSAGES_CONSUMED.labels(self.settings.service_name, topic, "duplicate").inc()
                continue
            at = time_of[topic](event)
            at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)  # domain.aware
            facts.append(Fact(topic, event.tenantid, event.id, at, event.data))
        if fresh is None:
            pending.digests += digests
        else:
            pending.digests += (d for d, new in zip(digests, fresh, strict=True) if new)
        return facts

    async def _load_states(self, facts: Sequence[Fact]) -> None:
        """Read the states the facts need that are not in memory (never seen, or forgotten)."""
        for tenant, needs in domain.needs(facts, self.worlds).items():
            world = self.worlds.get(tenant)
            if world is None:
                world = self.worlds[tenant] = World()
            await self.store.load(tenant, needs, world=world)
            holders = {agent for agent in domain.holding_agents(world, needs.holder_leads) if agent not in world.agents}
            if holders:
                await self.store.load(tenant, domain.Needs(agents=holders), world=world)

    async def handle(self, deliveries: Sequence[Delivery]) -> int:
        """Count a batch and write it at once (tools and tests; the consumer checkpoints as it goes); how
        many events were counted. An event a rule fails on is dead-lettered and the rest counted."""
        await self.checkpoint(None, final=True)  # nothing else is pending
        left = list(deliveries)
        while True:
            try:
                counted = await self.count(left)
                break
            except FactFailed as failure:
                poison = failed_delivery(left, failure)
                await self.dead_letter(poison, failure)
                left.remove(poison)
                self.reset()
        await self.checkpoint(None, final=True)
        return len(counted)

    async def dead_letter(self, delivery: Delivery, failure: FactFailed) -> None:
        log.error("a counting rule failed on an event; it is dead-lettered",
                  extra={"topic": failure.fact.topic, "event_id": failure.fact.event_id, "error": str(failure)[:500]})
        if delivery.record is not None:
            await self.dead_letters.send(delivery.record, error_type="processing_error", error=str(failure),
                                         tenantid=delivery.event.tenantid)

    def reset(self) -> None:
        """Forget everything held in memory since the last checkpoint written (states, counts, event ids):
        what comes next starts from MongoDB again."""
        self.worlds.clear()
        self.window.clear()
        self._window_loaded = False
        self.pending = Pending(self.rules, self.worlds)

    async def _load_window(self) -> None:
        if self._window_loaded:
            return
        self.window.clear()
        today = datetime.now(UTC).date()
        async for at, digests in self.store.digests():
            self.window.load(min(at.date(), today), digests)
        self._window_loaded = True
        log.info("counted event ids loaded", extra={"digests": len(self.window)})

    # ---- checkpoints -------------------------------------------------------------------------------------

    async def restore(self, group: str) -> dict[Position, int] | None:
        """Start again from the group's last checkpoint: drop what is in memory; the offsets stored with it
        (None: never checkpointed)."""
        await self._settle()
        self.reset()
        self._fence, positions = await self.store.checkpoint(group)
        await self._load_window()
        self._positions = dict(positions) if positions is not None else None
        self._durable = dict(positions or {})
        return positions

    def durable_positions(self) -> dict[Position, int]:
        return self._durable

    async def checkpoint(self, positions: Mapping[Position, int] | None, *, behind: int = 0,
                         final: bool = False) -> None:
        """Write what was counted (with `positions`, the next offset of each partition, when consumed through
        Kafka) in the background, every `checkpoint_seconds` while the consumer is far `behind`, else as soon
        as the write before is done (what it counted is visible soon after): the larger a checkpoint, the
        fewer times a state or a counter changed by many events is written. Counting goes on while the write runs; once
        `checkpoint_max_events` are pending, it waits for the write (and a failure of the write is raised:
        the caller starts again from the last checkpoint written). `final`: write now and wait."""
        moved = positions is not None and positions != self._positions
        if not self.pending.events and not moved and not self._tips_pending():
            if final:
                await self._finish_write()
            return
        if not final:
            full = self.pending.events >= self.settings.checkpoint_max_events
            # Close to the end of what there is to read, checkpoints follow each other as fast as they are
            # written (each then small): what was counted is visible soon after, instead of waiting for a
            # large checkpoint taken early.
            near_the_end = behind <= self.settings.checkpoint_max_events // 2
            if not (full or near_the_end) and time.monotonic() - self._taken_at < self.settings.checkpoint_seconds:
                return  # the next checkpoint takes this and more
            if not full and self._writing is not None and not self._writing.done():
                return  # the write before is still running: counting goes on meanwhile
        await self._finish_write()
        self._evict()
        self._taken_at = time.monotonic()
        gc.disable()  # the checkpoint's documents are made in one burst and live until written
        try:
            taken = self._take(positions)
        finally:
            gc.enable()
        self._long_lived.freeze()  # the states and the checkpoint being written: see LongLivedObjects
        self._writing = asyncio.create_task(self._write(taken), name="metrics-checkpoint")
        if final:
            await self._finish_write()

    def _tips_pending(self) -> bool:
        return any(world.tips for world in self.worlds.values())

    def _take(self, positions: Mapping[Position, int] | None) -> tuple[Checkpoint, Counter[str]]:
        """The checkpoint of what is pending, as the states are now; counting goes on into a new Pending."""
        pending, now = self.pending, datetime.now(UTC)
        changed = {tenant: {kind: set(keys) for kind, keys in world.changed.items() if keys}
                   for tenant, world in self.worlds.items()}
        tips = {tenant: dict(world.tips) for tenant, world in self.worlds.items() if world.tips}
        checkpoint = prepare_checkpoint(pending.batch.increments_by_period(), changed, self.worlds, tips, now)
        for world in self.worlds.values():
            world.changed.clear()
            world.tips.clear()
        checkpoint.digests, checkpoint.events = pack(pending.digests), pending.events
        if positions is not None:
            checkpoint.positions, checkpoint.fence = dict(positions), self._fence
            self._positions = dict(positions)
        self.pending = Pending(self.rules, self.worlds)
        return checkpoint, pending.by_topic

    async def _write(self, taken: tuple[Checkpoint, Counter[str]]) -> None:
        checkpoint, by_topic = taken
        await self.store.write(checkpoint)
        if checkpoint.fence is not None:
            self._fence = Fence(checkpoint.fence.group, checkpoint.fence.seq + 1)
            self._durable = dict(checkpoint.positions or {})
        for topic, n in by_topic.items():
            MESSAGES_CONSUMED.labels(self.settings.service_name, topic, "processed").inc(n)

    async def _finish_write(self) -> None:
        """Wait for the checkpoint being written; its failure is raised (the caller starts again from the
        last one written)."""
        writing, self._writing = self._writing, None
        if writing is not None:
            await writing

    async def _settle(self) -> None:
        """Let a checkpoint being written end, whatever the outcome (restore reads what it left)."""
        try:
            await self._finish_write()
        except Exception as error:  # noqa: BLE001 - restore starts from whatever is written
            log.warning("a checkpoint failed; starting again from the last one written",
                        extra={"error": f"{type(error).__name__}: {error}"[:500]})

    def _evict(self) -> None:
        """Keep at most `state_cache_max` states in memory (called once the previous checkpoint is written,
        so what is forgotten is in MongoDB): forget down to 90 % of it, the longest held first."""
        cap = self.settings.state_cache_max
        held = sum(world.size() for world in self.worlds.values())
        if held <= cap:
            return
        share = 0.9 * cap / held
        dropped = sum(world.evict(int(world.size() * share)) for world in self.worlds.values())
        log.info("states forgotten to stay within the cache", extra={"held": held, "dropped": dropped, "cap": cap})

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
        struggle push compares and the same figures of the agent's team (indicators.py)."""
        agent_doc = await self.store.state("agents", tenant, agent_id)
        team = (agent_doc or {}).get("team")
        mates = await self.store.agents_of_team(tenant, team) if team else []
        days = await self.agent_days(tenant, sorted({agent_id, *mates}), first, last)
        return indicators_body(agent_id=agent_id, agent_doc=agent_doc, mates=mates, days=days, first=first,
                               last=last)


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


def training_view(c: Mapping[str, int], agents: int) -> dict[str, Any]:
    view = agent_view(c)
    view["funnel"] = funnel_rows(c, LEAD_STEPS[1:])
    for name in ("outbound", "effective", "talk_seconds", "won"):
        view[f"{name}_per_agent"] = ratio(c.get(name, 0), agents)
    return view
