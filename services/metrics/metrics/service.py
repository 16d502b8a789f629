"""The counting side of metrics: counts consumed events into states and counters held in memory, and writes
them with the offsets consumed in checkpoints (one MongoDB transaction each, in the background while the
counting goes on). The HTTP API's reads are in queries.py.

Only one replica counts at a time (metrics.sole_consumer), so what it holds in memory is the truth
until its next checkpoint; a replica taking over starts from the last checkpoint. States not in memory (never
seen, or forgotten to stay within `state_cache_max`) are read from MongoDB before a batch is applied."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from telesales_runtime.consumer import Delivery
from telesales_runtime.deadletter import DeadLetterPublisher
from telesales_runtime.memory import LongLivedObjects
from telesales_runtime.observability import MESSAGES_CONSUMED

from . import domain
from .dedup import Digests, DigestWindow, pack
from .domain import Batch, Fact, FactFailed, Rules, World
from .settings import MetricsSettings
from .store import Checkpoint, Fence, MetricsStore, Position, prepare_checkpoint

log = logging.getLogger(__name__)


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
                left.remove(await self.dead_letter(left, failure=failure))
                self.reset()
        await self.checkpoint(None, final=True)
        return len(counted)

    async def dead_letter(self, deliveries: Sequence[Delivery], *, failure: FactFailed) -> Delivery:
        """Dead-letter the delivery of the fact a counting rule failed on (one of `deliveries`); that delivery."""
        delivery = next(d for d in deliveries
                        if d.event.id == failure.fact.event_id and d.event.tenantid == failure.fact.tenant)
        log.error("a counting rule failed on an event; it is dead-lettered",
                  extra={"topic": failure.fact.topic, "event_id": failure.fact.event_id, "error": str(failure)[:500]})
        if delivery.record is not None:
            await self.dead_letters.send(delivery.record, error_type="processing_error", error=str(failure),
                                         tenantid=delivery.event.tenantid)
        return delivery

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
