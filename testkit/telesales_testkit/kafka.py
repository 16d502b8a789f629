"""Test and benchmark helpers on a real broker: read a topic from a point on without a consumer group (the
tests read what they need, not what a group committed), and run a service in-process."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from telesales_runtime.kafka import topic_partitions


@dataclass
class ConsumedRecord:
    """A Kafka record as a subscriber hands it over (the fields the runtime reads), for tests that call the
    consuming code without a broker."""

    topic: str
    value: bytes
    partition: int = 0
    offset: int = 0
    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()


class TopicTail:
    """Everything published on the topics after `start()`, parsed as JSON where possible."""

    def __init__(self, bootstrap: str, *topics: str) -> None:
        self.bootstrap = bootstrap
        self.topics = topics
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                         max_partition_fetch_bytes=8 * 1024 * 1024)
        self.events: dict[str, list[Any]] = {t: [] for t in topics}

    async def start(self) -> TopicTail:
        await self.consumer.start()
        partitions = await topic_partitions(self.consumer, self.topics)
        missing = set(self.topics) - {tp.topic for tp in partitions}
        if missing:
            raise RuntimeError(f"topics do not exist: {sorted(missing)}")
        self.consumer.assign(partitions)
        ends = await self.consumer.end_offsets(partitions)
        for tp, offset in ends.items():
            self.consumer.seek(tp, offset)
        return self

    async def stop(self) -> None:
        await self.consumer.stop()

    async def __aenter__(self) -> TopicTail:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def poll(self, timeout_ms: int = 200) -> int:
        batch = await self.consumer.getmany(timeout_ms=timeout_ms, max_records=10_000)
        n = 0
        for tp, records in batch.items():
            for record in records:
                try:
                    value: Any = json.loads(record.value)
                except ValueError:
                    value = record.value
                self.events[tp.topic].append(value)
                n += 1
        return n

    async def wait_for(self, topic: str, predicate: Callable[[Any], bool], timeout: float = 30.0) -> Any:
        """The first event on `topic` that satisfies `predicate`, waiting up to `timeout` seconds."""
        deadline = asyncio.get_running_loop().time() + timeout
        checked = 0
        while True:
            events = self.events[topic]
            for event in events[checked:]:
                if predicate(event):
                    return event
            checked = len(events)
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"no matching event on {topic} within {timeout}s ({checked} seen)")
            await self.poll()


async def topic_end_offsets(bootstrap: str, topic: str) -> dict[TopicPartition, int]:
    """The offset after the last record of each partition of `topic` ({} when it does not exist)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = await topic_partitions(consumer, [topic])
        return dict(await consumer.end_offsets(tps)) if tps else {}
    finally:
        await consumer.stop()


async def position_group_at_end(bootstrap: str, group: str, topic: str) -> dict[TopicPartition, int]:
    """Commit `group`'s offsets at the end of `topic` (`kafka-consumer-groups --reset-offsets
    --to-latest`), so a service started with that group processes only what is published from now on,
    not the history a shared broker holds. Returns the offsets committed."""
    offsets = await topic_end_offsets(bootstrap, topic)
    if not offsets:
        return {}
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit({tp: OffsetAndMetadata(off, "") for tp, off in offsets.items()})
        for tp, off in offsets.items():
            committed = await consumer.committed(tp)
            if committed != off:
                raise RuntimeError(f"could not position group {group} on {tp}: committed {committed}, wanted {off}")
    finally:
        await consumer.stop()
    return offsets
