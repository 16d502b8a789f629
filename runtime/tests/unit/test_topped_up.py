"""A batch topped up with what arrived while the previous one was handled (telesales_runtime.kafka.topped_up):
the records join in their partitions' order, and a failing handler rewinds every partition they came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from aiokafka import TopicPartition

from telesales_runtime.kafka import top_up_wait_ms, topped_up


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    timestamp: int = -1  # ms since the epoch; aiokafka gives -1 when a record has none


@dataclass
class Consumer:
    """What topped_up uses of an aiokafka consumer: getmany and seek."""

    waiting: dict[TopicPartition, list[Record]]
    asked: list[tuple[int, int]] = field(default_factory=list)
    seeks: dict[TopicPartition, int] = field(default_factory=dict)

    async def getmany(self, *, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[Record]]:
        self.asked.append((timeout_ms, max_records))
        out: dict[TopicPartition, list[Record]] = {}
        for tp, records in self.waiting.items():
            take = records[:max_records - sum(map(len, out.values()))]
            if take:
                out[tp] = take
        return out

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks[tp] = offset


@dataclass
class Message:
    raw_message: Any
    consumer: Any = None


def tp(partition: int) -> TopicPartition:
    return TopicPartition("t", partition)


async def test_records_that_arrived_meanwhile_join_the_batch_after_it() -> None:
    consumer = Consumer({tp(0): [Record("t", 0, 5), Record("t", 0, 6)], tp(1): [Record("t", 1, 9)]})
    first = (Record("t", 0, 3), Record("t", 0, 4))
    async with topped_up(Message(first, consumer), 10, wait_ms=7) as records:
        assert records == (*first, Record("t", 0, 5), Record("t", 0, 6), Record("t", 1, 9))
    assert consumer.asked == [(7, 8)]  # waits at most wait_ms, for the room left
    assert consumer.seeks == {}


async def test_never_more_than_the_batch_may_hold() -> None:
    consumer = Consumer({tp(0): [Record("t", 0, n) for n in range(2, 10)]})
    async with topped_up(Message((Record("t", 0, 1),), consumer), 3, wait_ms=5) as records:
        assert [r.offset for r in records] == [1, 2, 3]


async def test_a_full_batch_is_not_topped_up() -> None:
    consumer = Consumer({tp(0): [Record("t", 0, 9)]})
    full = tuple(Record("t", 0, n) for n in range(3))
    async with topped_up(Message(full, consumer), 3, wait_ms=5) as records:
        assert records == full
    assert consumer.asked == []


async def test_a_failing_handler_rewinds_the_partitions_of_the_records_it_was_given() -> None:
    """FastStream rewinds the partitions of the batch it handed out; the records fetched here may come
    from others, which would otherwise be committed unprocessed with the next batch."""
    consumer = Consumer({tp(0): [Record("t", 0, 5)], tp(2): [Record("t", 2, 40), Record("t", 2, 41)]})
    with pytest.raises(RuntimeError):
        async with topped_up(Message((Record("t", 0, 4),), consumer), 10, wait_ms=5):
            raise RuntimeError("the database is down")
    assert consumer.seeks == {tp(0): 5, tp(2): 40}


async def test_a_consumer_without_getmany_hands_the_batch_on() -> None:
    """The in-memory test broker's consumer fetches nothing."""
    single = Record("t", 0, 1)
    async with topped_up(Message(single, object()), 10, wait_ms=5) as records:
        assert records == (single,)


def at(ms: int) -> Record:
    return Record("t", 0, 1, timestamp=ms)


def test_a_batch_of_fresh_records_waits_the_short_time() -> None:
    assert top_up_wait_ms([at(1_000_000), at(1_000_003)], 5, 50, now_ms=1_000_004) == 5


def test_a_stale_batch_waits_as_long_as_its_newest_record_is_old_up_to_the_bound() -> None:
    """Its records waited in the buffer while the previous batch was handled: what came after them is in
    the broker, and the fetch bringing it is worth waiting for."""
    assert top_up_wait_ms([at(1_000_000), at(1_000_020)], 5, 50, now_ms=1_000_050) == 30
    assert top_up_wait_ms([at(1_000_000), at(1_000_020)], 5, 50, now_ms=1_000_200) == 50


def test_without_a_bound_or_timestamps_the_wait_is_the_short_one() -> None:
    assert top_up_wait_ms([at(1_000_000)], 5, None, now_ms=1_000_200) == 5
    assert top_up_wait_ms([at(1_000_000)], 5, 5, now_ms=1_000_200) == 5
    assert top_up_wait_ms([Record("t", 0, 1)], 5, 50, now_ms=1_000_200) == 5


async def test_a_stale_batch_asks_the_consumer_for_the_longer_wait() -> None:
    consumer = Consumer({tp(0): [Record("t", 0, 5)]})
    old = (Record("t", 0, 4, timestamp=1),)  # 1970: far older than any bound
    async with topped_up(Message(old, consumer), 10, wait_ms=5, stale_wait_ms=40) as records:
        assert [r.offset for r in records] == [4, 5]
    assert consumer.asked == [(40, 9)]
