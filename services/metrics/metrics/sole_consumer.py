"""One replica at a time reads every partition of a set of topics, from offsets its processor keeps with its
own state: exactly once by offsets, the way Kafka's documentation describes storing offsets outside Kafka.

A consumer group spreads partitions over replicas, and each replica must then read and write its state in
the database for every batch, because another replica may change it meanwhile. A processor whose state is
shared by every partition (metrics: an agent's team is read by the calls of every lead) and that must be fast
keeps its state in memory instead. Then exactly one replica may consume:

- the replicas compete for a MongoDB lease (`MongoLease`); the holder reads every partition of the topics
  (manual assignment, no group membership, so no rebalance) and renews the lease as it goes; the others
  wait and take over once it has expired (the holder stopped, or lost the database);
- on taking over, the processor restores its state and the offsets stored with it (`restore`), and the
  consumer seeks there; the first time (no checkpoint yet) it starts where the consumer group committed
  (a service moving from a group subscriber keeps its place), else at the beginning;
- the processor checkpoints its state with the offsets in one transaction (`checkpoint`); the checkpoint is
  fenced (a sequence number the processor checks), so a replica that lost the lease without knowing it
  cannot write over its successor's state: it gets `Fenced` and stands down;
- anything failing in the processor (`Rewind`, the database) drops the state in memory and starts again
  from the last checkpoint, so nothing is lost or counted twice;
- the positions of every durable checkpoint are also committed to the consumer group (best effort), so the
  usual lag tools (kafka-consumer-groups, exporters) see the group's progress.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata
from prometheus_client import Counter, Gauge
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import PyMongoError

from telesales_runtime.kafka import client_security, topic_partitions
from telesales_runtime.lease import MongoLease
from telesales_runtime.observability import CONSUMER_LAG
from telesales_runtime.settings import ServiceSettings

SOLE_CONSUMER_LEADER = Gauge(
    "telesales_sole_consumer_leading",
    "1 on the replica that consumes for a sole consumer (one replica at a time reads every partition), else 0.",
    ["service", "group"],
)
SOLE_CONSUMER_SECONDS = Counter(
    "telesales_sole_consumer_seconds_total",
    "Time the consuming replica of a sole consumer spent fetching records (waiting for the broker included), "
    "processing them, and checkpointing (taking a checkpoint, or waiting for the write before it).",
    ["service", "group", "phase"],
)

log = logging.getLogger(__name__)

Position = tuple[str, int]  # (topic, partition)


class Fenced(Exception):
    """Another replica checkpointed after this one read its state: this replica's state is stale."""


class Rewind(Exception):
    """The processor dropped what it held in memory: start again from its last checkpoint."""


class CheckpointedProcessor(Protocol):
    async def restore(self) -> Mapping[Position, int] | None:
        """Drop what is in memory and load the state of the last checkpoint; the next offset of each
        partition stored with it (None when there was never a checkpoint)."""

    async def process(self, records: Sequence[Any]) -> None:
        """Apply consumed records (in memory; raise Rewind to start again from the last checkpoint)."""

    async def checkpoint(self, positions: Mapping[Position, int], *, behind: int = 0, final: bool = False) -> None:
        """Make what was processed, with `positions` (the next offset of each partition), durable: at once
        or soon (a write in the background, waited for by the next call). `behind`: the records not read
        yet, as of the last fetch of each partition (0: caught up, a good time to write). `final`: wait
        until it is written."""

    def durable_positions(self) -> Mapping[Position, int]:
        """The positions of the last checkpoint known to be written."""


class SoleConsumer:
    """Runs `processor` over every partition of `topics` in the one replica holding the lease."""

    def __init__(self, settings: ServiceSettings, processor: CheckpointedProcessor, topics: Sequence[str], *,
                 group: str, leases: AsyncCollection[dict[str, Any]], lease_seconds: float = 20.0,
                 max_records: int = 10_000, commit_every_seconds: float = 5.0,
                 partition_refresh_seconds: float = 30.0, retry_seconds: float = 2.0) -> None:
        self.settings = settings
        self.processor = processor
        self.topics = list(dict.fromkeys(topics))
        self.group = group
        self.lease = MongoLease(leases, f"sole-consumer:{group}", seconds=lease_seconds)
        self.lease_seconds = lease_seconds
        self.max_records = max_records
        self.commit_every_seconds = commit_every_seconds
        self.partition_refresh_seconds = partition_refresh_seconds
        self.retry_seconds = retry_seconds
        self.service = settings.service_name
        self.leading = False
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # ---- life cycle ----------------------------------------------------------------------------------

    async def start(self) -> None:
        self._stop.clear()
        self._task = asyncio.create_task(self._run(), name=f"sole-consumer:{self.group}")

    async def stop(self) -> None:
        """Stop reading, write what was processed (a final checkpoint) and hand the lease over."""
        self._stop.set()
        task, self._task = self._task, None
        if task is None:
            return
        done, _ = await asyncio.wait({task}, timeout=60)
        if not done:
            task.cancel()
            log.error("the consumer did not stop within 60 s; cancelled", extra={"group": self.group})
        elif not task.cancelled() and task.exception() is not None:
            log.error("the consumer had failed", exc_info=task.exception(), extra={"group": self.group})

    async def _run(self) -> None:
        while not self._stop.is_set():
            wait = self.lease_seconds / 3  # another replica holds the lease: ask again later
            try:
                if await self.lease.hold():
                    await self._lead()
            except Fenced:
                log.warning("another replica checkpointed after this one: standing down", extra={"group": self.group})
                await self._release()
            except (PyMongoError, KafkaError, OSError, Rewind) as error:
                wait = self.retry_seconds
                log.warning("consuming stopped; starting again from the last checkpoint",
                            extra={"group": self.group, "error": f"{type(error).__name__}: {error}"[:500]})
            except Exception:
                wait = self.retry_seconds
                log.exception("consuming failed; starting again from the last checkpoint", extra={"group": self.group})
            finally:
                self._set_leading(False)
            await self._sleep(wait)

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)
        except TimeoutError:
            pass

    async def _release(self) -> None:
        try:
            await self.lease.release()
        except PyMongoError:
            pass

    def holds_lease(self) -> bool:
        """Whether this replica holds the lease with a quarter of it left at least (as of its last renewal).
        What one replica alone may serve (the metrics service's figures) asks this rather than `leading`:
        a replica paused past its lease, or that stopped without handing it over, still believes it leads,
        while a successor takes the lease once it has expired; stopping a quarter of a lease earlier leaves
        room for clocks that far apart. True from the moment the lease is taken, before the state is
        restored."""
        return self.lease.held(margin=self.lease_seconds / 4)

    def _set_leading(self, leading: bool) -> None:
        self.leading = leading
        SOLE_CONSUMER_LEADER.labels(self.service, self.group).set(1 if leading else 0)

    # ---- one term as the consumer ------------------------------------------------------------------------

    def _consumer(self) -> AIOKafkaConsumer:
        s = self.settings
        return AIOKafkaConsumer(
            bootstrap_servers=s.kafka_bootstrap, client_id=f"{s.kafka_client_id or s.service_name}-{self.group}",
            group_id=self.group,  # for committing the positions only: assigned partitions, never a member
            enable_auto_commit=False, auto_offset_reset="earliest", fetch_max_wait_ms=s.kafka_fetch_max_wait_ms,
            max_partition_fetch_bytes=4 * 1024 * 1024, **client_security(s))

    async def _keep_lease(self, lost: asyncio.Event) -> None:
        """Renew the lease a few times per lease while this replica consumes (also while it restores a large
        state); `lost` is set when another replica holds it (this one stopped renewing in time)."""
        while not lost.is_set():
            await asyncio.sleep(self.lease_seconds / 4)
            try:
                if not await self.lease.hold():
                    lost.set()
            except PyMongoError as error:  # the database is away: renewed next time, if it is back in time
                log.warning("renewing the lease failed", extra={"group": self.group, "error": str(error)[:300]})

    async def _lead(self) -> None:
        lost = asyncio.Event()
        keeper = asyncio.create_task(self._keep_lease(lost), name=f"sole-consumer-lease:{self.group}")
        try:
            await self._consume(lost)
        finally:
            keeper.cancel()

    async def _consume(self, lost: asyncio.Event) -> None:
        consumer = self._consumer()
        await consumer.start()
        try:
            positions = dict(await self.processor.restore() or {})
            first_term = not positions
            assigned = await self._assign(consumer, positions, adopt_group=first_term)
            self._set_leading(True)
            log.info("consuming every partition", extra={"group": self.group, "partitions": len(assigned),
                                                          "resumed_from_checkpoint": not first_term})
            committed = dict(self.processor.durable_positions())
            lags: dict[TopicPartition, int] = {}  # per partition, as of its last fetch
            spent = {phase: SOLE_CONSUMER_SECONDS.labels(self.service, self.group, phase)
                     for phase in ("fetch", "process", "checkpoint")}
            last_commit = last_refresh = time.monotonic()
            while not self._stop.is_set():
                if lost.is_set():
                    log.warning("the lease went to another replica: standing down", extra={"group": self.group})
                    return
                # The cyclic collector waits while a batch is read and handled: every record, event and fact of
                # it is freed by reference counting once handled, and a collection in the middle of it would
                # walk them all (it cost more than parsing them). It runs between batches, on what lives on.
                gc.disable()
                try:
                    started = time.perf_counter()
                    batch = await consumer.getmany(timeout_ms=self.settings.kafka_fetch_max_wait_ms,
                                                   max_records=self.max_records)
                    fetched = time.perf_counter()
                    spent["fetch"].inc(fetched - started)
                    records = [record for partition_records in batch.values() for record in partition_records]
                    if records:
                        await self.processor.process(records)
                        for tp, partition_records in batch.items():
                            if partition_records:
                                position = positions[(tp.topic, tp.partition)] = partition_records[-1].offset + 1
                                end = consumer.highwater(tp)
                                if end is not None:
                                    lags[tp] = max(0, end - position)
                                    CONSUMER_LAG.labels(self.service, tp.topic, str(tp.partition)).set(lags[tp])
                    behind = sum(lags.values()) if records else 0
                    del batch, records
                finally:
                    gc.enable()
                processed = time.perf_counter()
                spent["process"].inc(processed - fetched)
                await self.processor.checkpoint(positions, behind=behind)
                spent["checkpoint"].inc(time.perf_counter() - processed)
                now = time.monotonic()
                if now - last_commit >= self.commit_every_seconds:
                    committed = await self._commit_group(consumer, committed)
                    last_commit = now
                if now - last_refresh >= self.partition_refresh_seconds:
                    assigned = await self._assign(consumer, positions, known=assigned)
                    last_refresh = now
            await self.processor.checkpoint(positions, final=True)
            await self._commit_group(consumer, committed)
            await self._release()
        finally:
            self._set_leading(False)
            await consumer.stop()

    async def _assign(self, consumer: AIOKafkaConsumer, positions: dict[Position, int], *, adopt_group: bool = False,
                      known: set[TopicPartition] | None = None) -> set[TopicPartition]:
        """Assign every partition of the topics (again, when partitions were added) and seek each new one to
        its position: the checkpoint's, else (first term) the group's committed offset, else the beginning."""
        partitions = set(await topic_partitions(consumer, self.topics))
        if known is not None and partitions == known:
            return known
        consumer.assign(sorted(partitions))
        if adopt_group:
            for tp, committed in (await self._group_offsets(sorted(partitions))).items():
                if committed >= 0:
                    positions.setdefault((tp.topic, tp.partition), committed)
        from_start = []
        for tp in sorted(partitions):
            position = positions.get((tp.topic, tp.partition))
            if position is not None:
                consumer.seek(tp, position)
            else:
                from_start.append(tp)
        if from_start:  # all in one request (one per partition took 7 s for 123 partitions)
            await consumer.seek_to_beginning(*from_start)
        for tp in partitions - (known or set()):
            CONSUMER_LAG.labels(self.service, tp.topic, str(tp.partition))
        return partitions

    async def _group_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        """The consumer group's committed offsets of `partitions` (one request, where asking the consumer
        takes one per partition)."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.settings.kafka_bootstrap, **client_security(self.settings))
        await admin.start()
        try:
            found = await admin.list_consumer_group_offsets(self.group, partitions=partitions)
        finally:
            await admin.close()
        return {tp: meta.offset for tp, meta in found.items() if meta is not None}

    async def _commit_group(self, consumer: AIOKafkaConsumer, committed: dict[Position, int]) -> dict[Position, int]:
        """Commit the durable positions to the consumer group where they moved (best effort: lag tools read
        them; the consumer itself resumes from its checkpoint)."""
        durable = dict(self.processor.durable_positions())
        moved = {TopicPartition(t, p): OffsetAndMetadata(o, "") for (t, p), o in durable.items() if committed.get((t, p)) != o}
        if not moved:
            return committed
        try:
            await consumer.commit(moved)
        except KafkaError as error:
            log.debug("committing the positions to the consumer group failed", extra={"error": str(error)[:300]})
            return committed
        return durable
