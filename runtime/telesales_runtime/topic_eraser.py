"""One pass of erasing people from Kafka topics (topic_log does the I/O, topic_scrub the matching): every
partition of the topics is read from its log start to its high-water mark; a partition holding a record that
names someone wanted, last at offset m, is truncated before m+1 once every consumer group that counts
(GroupPolicy) has committed past m; on a topic whose records must outlive the truncation (`keep_topics`: the
dead letters, the storage of record for replay) the records of others in the range are copied forward first.
A partition still waited for is tried again on the next pass."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from prometheus_client import Counter, Gauge, Histogram

from .kafka import PRODUCER_OPTIONS
from .topic_log import CopyProgress, GroupPolicy, PartitionHits, consumer_groups, copy_forward, scan, truncate
from .topic_scrub import Matcher, Wanted

log = logging.getLogger(__name__)

REMOVED = Counter("telesales_topic_erasure_records_removed_total", "Records removed from Kafka topics by "
                  "erasures (whole truncated ranges: the person's records and the processed ones before them).",
                  ["topic"])
KEPT = Counter("telesales_topic_erasure_records_kept_total", "Records of others copied forward before a "
               "truncation (dead letters), by topic.", ["topic"])
BLOCKED = Gauge("telesales_topic_erasure_blocked_partitions", "Partitions holding an erased person that wait "
                "for a consumer group to commit past the person's last record (last pass).")
PASS_SECONDS = Histogram("telesales_topic_erasure_pass_seconds", "How long one pass over the personal-data "
                         "topics took (read, wait check, copy, truncate).", buckets=(0.1, 0.5, 1, 5, 30, 120, 600))


@dataclass
class Tally:
    """What a pass did about one person: partitions truncated, records removed with them, others' records
    kept (copied forward), and the partitions still waited for ("topic/partition: group, ...")."""

    partitions_truncated: int = 0
    records_removed: int = 0
    dead_letters_kept: int = 0
    waiting_on: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {"partitions_truncated": self.partitions_truncated, "records_removed": self.records_removed,
                "dead_letters_kept": self.dead_letters_kept}


@dataclass
class PassResult:
    tallies: dict[str, Tally]  # by Wanted.ref, one for every person wanted

    def clean(self, ref: str) -> bool:
        """No record naming the person is left on the topics (as they were read by this pass)."""
        return not self.tallies[ref].waiting_on


class TopicEraser:
    """Erases the people wanted from `topics` (non-compacted ones: a compacted topic cannot be truncated
    without losing its state). `client`: aiokafka keyword arguments (bootstrap_servers, security)."""

    def __init__(self, *, client: Mapping[str, Any], topics: Sequence[str], keep_topics: Sequence[str],
                 policy: GroupPolicy, progress: CopyProgress, client_id: str = "topic-eraser") -> None:
        self.client = dict(client)
        self.topics = list(topics)
        self.keep_topics = set(keep_topics)
        self.policy = policy
        self.progress = progress
        self.client_id = client_id

    @asynccontextmanager
    async def _clients(self) -> AsyncIterator[tuple[AIOKafkaConsumer, AIOKafkaAdminClient, AIOKafkaProducer]]:
        consumer = AIOKafkaConsumer(**self.client, client_id=self.client_id, group_id=None,
                                    enable_auto_commit=False, auto_offset_reset="earliest",
                                    max_partition_fetch_bytes=8 * 1024 * 1024)
        admin = AIOKafkaAdminClient(**self.client, client_id=self.client_id)
        producer = AIOKafkaProducer(**self.client, client_id=self.client_id, **PRODUCER_OPTIONS)
        await consumer.start()
        try:
            await admin.start()
            try:
                await producer.start()
                try:
                    yield consumer, admin, producer
                finally:
                    await producer.stop()
            finally:
                await admin.close()
        finally:
            await consumer.stop()

    async def observe_groups(self) -> None:
        """Note which consumer groups have members now (the policy's idle window starts when they stop), a
        round without pending erasures."""
        admin = AIOKafkaAdminClient(**self.client, client_id=self.client_id)
        await admin.start()
        try:
            self.policy.observe(await consumer_groups(admin, offsets=False))
        finally:
            await admin.close()

    async def run(self, wanted: Sequence[Wanted]) -> PassResult:
        result = PassResult({person.ref: Tally() for person in wanted})
        matcher = Matcher(wanted)
        if not matcher:
            return result
        started = time.monotonic()
        async with self._clients() as (consumer, admin, producer):
            hits = await scan(consumer, self.topics, matcher)
            groups = await consumer_groups(admin)
            self.policy.observe(groups)
            blocked = 0
            for found in hits:
                waiting = ", ".join(self.policy.blockers(groups, found.tp, found.last))
                if not waiting:
                    try:
                        await self._remove(consumer, admin, producer, matcher, found, result)
                        continue
                    except KafkaError as error:  # e.g. no Delete permission: said on the request, tried again
                        log.warning("topic partition not truncated", extra={"topic": found.tp.topic,
                                    "partition": found.tp.partition, "error": repr(error)[:300]})
                        waiting = f"error {type(error).__name__}"
                blocked += 1
                for ref in found.refs:
                    result.tallies[ref].waiting_on.append(f"{found.tp.topic}/{found.tp.partition}: {waiting}")
        BLOCKED.set(blocked)
        PASS_SECONDS.observe(time.monotonic() - started)
        return result

    async def _remove(self, consumer: AIOKafkaConsumer, admin: AIOKafkaAdminClient, producer: AIOKafkaProducer,
                      matcher: Matcher, found: PartitionHits, result: PassResult) -> None:
        before = found.last + 1
        kept = 0
        if found.tp.topic in self.keep_topics:
            kept = await copy_forward(consumer, producer, found.tp, found.low, before, matcher, self.progress)
        start = await truncate(admin, found.tp, before)
        await self.progress.forget(found.tp)
        removed = before - found.low
        REMOVED.labels(found.tp.topic).inc(removed)
        KEPT.labels(found.tp.topic).inc(kept)
        log.info("topic partition truncated for erasure", extra={
            "topic": found.tp.topic, "partition": found.tp.partition, "before": before, "log_start": start,
            "records_removed": removed, "kept": kept, "requests": sorted(found.refs)})
        for ref in found.refs:
            tally = result.tallies[ref]
            tally.partitions_truncated += 1
            tally.records_removed += removed
            tally.dead_letters_kept += kept
