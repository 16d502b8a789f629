"""Removing records from Kafka topics, for erasure: read partitions from the log start to the high-water mark
without a consumer group, see which consumer groups have processed how far, copy the records to keep forward
and truncate a partition's head with DeleteRecords.

Kafka deletes only a partition's head (every record before an offset), never one record, so a record is
removed by truncating up to and including it: only once every consumer group that reads the partition has
committed past it (a service down or behind keeps its unprocessed events), and with the records of others in
the truncated range copied forward first where they must outlive it (the dead letters)."""

from __future__ import annotations

import asyncio
import fnmatch
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.records_to_delete import RecordsToDelete
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment

from .kafka import topic_partitions
from .topic_scrub import Matcher

STALL_SECONDS = 120.0  # a read that gets no record for this long while records remain has failed
COPY_BATCH = 500


@dataclass(frozen=True)
class GroupView:
    """A consumer group as the broker describes it now: whether it has members, the partitions they are
    assigned and the offsets it committed (the next offset it will read)."""

    group: str
    active: bool
    assigned: frozenset[TopicPartition]
    committed: dict[TopicPartition, int]


class GroupPolicy:
    """Which consumer groups a truncation waits for. A group with members counts for the partitions its
    members are assigned (while it rebalances and none are, for those it committed on); a commit it left on a
    topic it no longer reads does not hold anything back. An empty group (its service stopped, or a group
    left by a test or an old deployment) counts for the partitions it committed on while it was seen with
    members within `idle_seconds` (or, never seen with members, within `idle_seconds` of first being seen),
    unless its name matches one of `ignore` (fnmatch patterns). `last_active` (group -> epoch seconds) is
    what was seen: observed every round, kept by the caller across restarts (`remember`)."""

    def __init__(self, *, ignore: Sequence[str] = (), idle_seconds: float,
                 clock: Callable[[], float] = time.time) -> None:
        self.ignore = tuple(ignore)
        self.idle_seconds = idle_seconds
        self.clock = clock
        self.last_active: dict[str, float] = {}

    def remember(self, seen: dict[str, float]) -> None:
        for group, at in seen.items():
            self.last_active[group] = max(at, self.last_active.get(group, at))

    def observe(self, views: Iterable[GroupView]) -> None:
        """`views`: every group of the cluster now; a group no longer listed is forgotten (the broker dropped
        it, and its offsets with it)."""
        now = self.clock()
        views = list(views)
        self.last_active = {v.group: now if v.active or v.group not in self.last_active else
                            self.last_active[v.group] for v in views}

    def counts(self, view: GroupView, tp: TopicPartition) -> bool:
        if view.active:  # its members' assignment says what it reads (none known mid-rebalance: its offsets)
            return tp in view.assigned if view.assigned else tp in view.committed
        if tp not in view.committed or any(fnmatch.fnmatchcase(view.group, p) for p in self.ignore):
            return False
        seen = self.last_active.get(view.group, self.clock())
        return self.clock() - seen <= self.idle_seconds

    def blockers(self, views: Iterable[GroupView], tp: TopicPartition, last: int) -> list[str]:
        """The groups that count for `tp` and have not committed past offset `last`."""
        return sorted(v.group for v in views if self.counts(v, tp) and v.committed.get(tp, -1) <= last)


async def consumer_groups(admin: AIOKafkaAdminClient, *, offsets: bool = True) -> list[GroupView]:
    """Every consumer group of the cluster (protocol type "consumer"), described (with the offsets they
    committed, unless `offsets` is False)."""
    listed = [g[0] for g in await admin.list_consumer_groups() if len(g) < 2 or g[1] in ("consumer", "")]
    views: list[GroupView] = []
    if not listed:
        return views
    # One group a request: aiokafka 0.14 reads a DescribeGroups v3 answer without the groups' trailing
    # authorized_operations, which garbles every group after the first (the last field of one is ignored).
    for group_id in listed:
        [response] = await admin.describe_consumer_groups([group_id])
        for described in response.groups:
            error, group, state, members = described[0], described[1], described[2], described[5]
            if error:
                continue
            assigned = frozenset(tp for member in members for tp in _assignment(member[-1]))
            found = await admin.list_consumer_group_offsets(group) if offsets else {}
            committed = {tp: meta.offset for tp, meta in found.items() if meta.offset >= 0}
            views.append(GroupView(group, bool(members) and state != "Dead", assigned, committed))
    return views


def _assignment(raw: bytes) -> list[TopicPartition]:
    if not raw:
        return []
    try:
        return ConsumerProtocolMemberAssignment.decode(raw).partitions()
    except Exception:  # noqa: BLE001 - a group of another protocol: its assignment says nothing here
        return []


@dataclass
class PartitionHits:
    """What a scan found in one partition: the log start, the high-water mark it read to, the last offset
    naming someone wanted, whom (refs), and how many records did."""

    tp: TopicPartition
    low: int
    high: int
    last: int = -1
    refs: set[str] = field(default_factory=set)
    records: int = 0


async def read_ranges(consumer: AIOKafkaConsumer, ranges: dict[TopicPartition, tuple[int, int]], *,
                      stall: float = STALL_SECONDS) -> AsyncIterator[Any]:
    """The records of each partition from `start` to before `stop` (start, stop), read without a group; a
    TimeoutError when no record came for `stall` seconds (a topic of any size is read, as long as it flows)."""
    todo = {tp: span for tp, span in ranges.items() if span[0] < span[1]}
    if not todo:
        return
    consumer.assign(list(todo))
    for tp, (start, _stop) in todo.items():
        consumer.seek(tp, start)
    clock = asyncio.get_running_loop().time
    deadline = clock() + stall
    while todo:
        if clock() > deadline:
            raise TimeoutError(f"reading {sorted(str(tp) for tp in todo)}: no record for {stall:.0f} s")
        batches = await consumer.getmany(*todo, timeout_ms=500, max_records=2000)
        if batches:
            deadline = clock() + stall
        for tp, records in batches.items():
            for record in records:
                if record.offset < todo.get(tp, (0, -1))[1]:
                    yield record
        for tp in list(todo):
            if await consumer.position(tp) >= todo[tp][1]:
                del todo[tp]
                consumer.pause(tp)


async def scan(consumer: AIOKafkaConsumer, topics: Sequence[str], matcher: Matcher) -> list[PartitionHits]:
    """Every partition of `topics`, from its log start to its high-water mark now, matched: the partitions
    holding someone wanted."""
    tps = await topic_partitions(consumer, topics)
    if not tps:
        return []
    lows, highs = await consumer.beginning_offsets(tps), await consumer.end_offsets(tps)
    hits = {tp: PartitionHits(tp, lows[tp], highs[tp]) for tp in tps}
    async for record in read_ranges(consumer, {tp: (lows[tp], highs[tp]) for tp in tps}):
        refs = matcher.in_record(record.key, record.value, record.headers)
        if refs:
            found = hits[TopicPartition(record.topic, record.partition)]
            found.last, found.records = max(found.last, record.offset), found.records + 1
            found.refs |= refs
    return [found for found in hits.values() if found.last >= 0]


class CopyProgress(Protocol):
    """How far a partition's records have been copied forward (every record to keep up to that offset has its
    copy after it), kept outside the process until the partition is truncated: a pass that crashed between
    the copy and the truncation copies nothing twice, even when the next truncation goes further."""

    async def copied_through(self, tp: TopicPartition) -> int: ...
    async def record(self, tp: TopicPartition, offset: int) -> None: ...
    async def forget(self, tp: TopicPartition) -> None: ...


async def copy_forward(consumer: AIOKafkaConsumer, producer: AIOKafkaProducer, tp: TopicPartition, start: int,
                       before: int, matcher: Matcher, progress: CopyProgress) -> int:
    """Copy the records of [start, before) that name no one wanted to the end of the same partition (same
    key, value bytes, headers and timestamp), resuming after what `progress` says was copied; how many."""
    done = await progress.copied_through(tp)
    pending: list[Any] = []
    copied, last = 0, done

    async def flush() -> None:
        nonlocal pending
        await asyncio.gather(*pending)
        pending = []
        await progress.record(tp, last)

    async for record in read_ranges(consumer, {tp: (max(start, done + 1), before)}):
        last = record.offset
        if matcher.in_record(record.key, record.value, record.headers):
            continue
        pending.append(await producer.send(tp.topic, record.value, key=record.key, partition=tp.partition,
                                           timestamp_ms=record.timestamp, headers=list(record.headers)))
        copied += 1
        if len(pending) >= COPY_BATCH:
            await flush()
    await flush()
    return copied


async def truncate(admin: AIOKafkaAdminClient, tp: TopicPartition, before: int) -> int:
    """Delete every record of the partition before offset `before` (DeleteRecords); the new log start."""
    result = await admin.delete_records({tp: RecordsToDelete(before_offset=before)})
    return result[tp]
