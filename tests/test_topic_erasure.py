"""Erasing people from Kafka topics on the real broker (telesales_runtime.topic_eraser), on scratch topics of
each test (no other test's records are truncated): a consumer group behind the person's record holds the
truncation back until it commits past it; another person's dead letter in the truncated range survives, readable
by the replay tool; a number in odd writings and a Chinese name are found; nothing is truncated when no record
names anyone wanted."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from telesales_contracts.platform import DeadLetter
from telesales_contracts.topics import DEAD_LETTERS
from telesales_runtime.deadletter import dead_letter_for
from telesales_runtime.topic_eraser import TopicEraser
from telesales_runtime.topic_log import GroupPolicy
from telesales_runtime.topic_scrub import Wanted
from telesales_testkit.kafka import ConsumedRecord
from telesales_tools.replay import parse_letter

LI = Wanted(ref="r-li", phones=(("86", "13912345678"),), emails=("li.lei@example.com",), names=("李雷",))


class MemoryProgress:
    def __init__(self) -> None:
        self.done: dict[TopicPartition, int] = {}
        self.forgotten: list[TopicPartition] = []

    async def copied_through(self, tp: TopicPartition) -> int:
        return self.done.get(tp, -1)

    async def record(self, tp: TopicPartition, offset: int) -> None:
        self.done[tp] = max(offset, self.done.get(tp, -1))

    async def forget(self, tp: TopicPartition) -> None:
        self.forgotten.append(tp)
        self.done.pop(tp, None)


@pytest.fixture
async def scratch(infra: Any) -> AsyncIterator[tuple[str, str]]:
    """Two single-partition topics of this test: a plain one and one kept like the dead letters."""
    run = uuid.uuid4().hex[:8]
    names = (f"scratch-erase-{run}", f"scratch-dead-{run}")
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(name, 1, 1) for name in names])
    try:
        yield names
    finally:
        await admin.delete_topics(list(names))
        await admin.close()


@pytest.fixture
async def producer(infra: Any) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap)
    await producer.start()
    yield producer
    await producer.stop()


def eraser(infra: Any, topics: tuple[str, str], progress: MemoryProgress | None = None,
           policy: GroupPolicy | None = None) -> TopicEraser:
    return TopicEraser(client={"bootstrap_servers": infra.kafka_bootstrap}, topics=list(topics),
                       keep_topics=[topics[1]], policy=policy or GroupPolicy(idle_seconds=3600),
                       progress=progress or MemoryProgress())


async def records_of(infra: Any, topic: str) -> list[Any]:
    consumer = AIOKafkaConsumer(bootstrap_servers=infra.kafka_bootstrap, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        await consumer.seek_to_beginning(tp)
        out: list[Any] = []
        while await consumer.position(tp) < end:
            out += (await consumer.getmany(tp, timeout_ms=1000)).get(tp, [])
        return out
    finally:
        await consumer.stop()


async def send(producer: AIOKafkaProducer, topic: str, value: Any, key: bytes | None = None) -> int:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return (await producer.send_and_wait(topic, raw, key=key, headers=[("content-type", b"application/json")])).offset


async def test_a_group_behind_the_record_holds_the_truncation_until_it_commits_past(
        infra: Any, scratch: tuple[str, str], producer: AIOKafkaProducer) -> None:
    topic = scratch[0]
    await send(producer, topic, {"data": {"name": "Wang Wei"}})
    last = await send(producer, topic, {"data": {"phone": "+86 139-1234-5678"}})
    after = await send(producer, topic, {"data": {"name": "Zhao Liu"}})
    group = f"behind-{uuid.uuid4().hex[:6]}"
    reader = AIOKafkaConsumer(topic, bootstrap_servers=infra.kafka_bootstrap, group_id=group,
                              enable_auto_commit=False, auto_offset_reset="earliest")
    await reader.start()
    try:
        tp = TopicPartition(topic, 0)
        while not reader.assignment():
            await reader.getmany(timeout_ms=200, max_records=1)
        await reader.commit({tp: last})  # processed what comes before the person's record, not the record
        blocked = await eraser(infra, scratch).run([LI])
        assert not blocked.clean("r-li") and group in blocked.tallies["r-li"].waiting_on[0]
        assert len(await records_of(infra, topic)) == 3  # nothing truncated
        await reader.commit({tp: last + 1})
        done = await eraser(infra, scratch).run([LI])
    finally:
        await reader.stop()
    assert done.clean("r-li") and done.tallies["r-li"].counts() == {
        "partitions_truncated": 1, "records_removed": 2, "dead_letters_kept": 0}
    assert [r.offset for r in await records_of(infra, topic)] == [after]  # the unprocessed one stays
    assert (await eraser(infra, scratch).run([LI])).tallies["r-li"].partitions_truncated == 0


async def test_odd_writings_and_a_chinese_name_are_found_and_nothing_else_is_touched(
        infra: Any, scratch: tuple[str, str], producer: AIOKafkaProducer) -> None:
    topic = scratch[0]
    await send(producer, topic, {"data": {"name": "Wang Wei", "phone": "+8613700002222"}})
    nothing = await eraser(infra, scratch).run([LI])
    assert nothing.clean("r-li") and nothing.tallies["r-li"].counts()["partitions_truncated"] == 0
    assert len(await records_of(infra, topic)) == 1
    escaped = json.dumps({"data": {"contact_name": "李雷"}}).encode()  # written as \u674e\u96f7
    assert "李雷".encode() not in escaped
    await send(producer, topic, escaped)
    await send(producer, topic, "备注: 请联系 (0)139 1234 5678".encode())
    last = await send(producer, topic, {"data": {"note": "x"}}, key=b"t/LI.LEI@EXAMPLE.COM")
    kept = await send(producer, topic, {"data": {"name": "Zhao Liu"}})
    result = await eraser(infra, scratch).run([LI, Wanted(ref="r-nobody", phones=(("86", "13800009999"),))])
    assert result.clean("r-li") and result.tallies["r-li"].records_removed == 4
    assert result.tallies["r-nobody"].partitions_truncated == 0
    assert [r.offset for r in await records_of(infra, topic)] == [kept]
    assert last == kept - 1


async def test_another_persons_dead_letter_in_the_range_survives_readable_by_the_replay_tool(
        infra: Any, scratch: tuple[str, str], producer: AIOKafkaProducer) -> None:
    dead = scratch[1]

    def letter(payload: dict[str, Any], key: bytes) -> bytes:
        original = ConsumedRecord(topic="leads.received.v1", value=json.dumps(payload, ensure_ascii=False).encode(),
                                  key=key, headers=(("x-source", b"crm"),))
        event = DEAD_LETTERS.event(dead_letter_for(original, service="lead-intake", group="g", error_type="e",
                                                   error="bad"), source="/test", tenantid="t1")
        return event.to_json_bytes()

    others = letter({"name": "Han Meimei", "phone": "13800001111"}, b"other")
    await producer.send_and_wait(dead, others, key=b"other", headers=[("h", b"1")], timestamp_ms=1_700_000_000_000)
    await send(producer, dead, letter({"name": "李雷", "phone": "139 1234 5678"}, b"li"), key=b"li")
    progress = MemoryProgress()
    result = await eraser(infra, scratch, progress).run([LI])
    assert result.clean("r-li") and result.tallies["r-li"].dead_letters_kept == 1
    [copy] = await records_of(infra, dead)
    assert (copy.offset, copy.key, copy.value, copy.timestamp) == (2, b"other", others, 1_700_000_000_000)
    assert list(copy.headers) == [("h", b"1")] and progress.forgotten == [TopicPartition(dead, 0)]
    replayable = parse_letter(copy)
    assert replayable is not None and DeadLetter.model_validate(replayable.data).original_topic == "leads.received.v1"
    assert b"Han Meimei" in replayable.payload()


async def test_a_copy_recorded_before_a_crash_is_not_made_again_even_when_the_cut_goes_further(
        infra: Any, scratch: tuple[str, str], producer: AIOKafkaProducer) -> None:
    dead = scratch[1]
    await send(producer, dead, {"data": {"name": "Han Meimei"}}, key=b"a")
    await send(producer, dead, {"data": {"email": "li.lei@example.com"}}, key=b"li")
    # the pass before the crash copied the first record forward, recorded it, then stopped before truncating
    await send(producer, dead, {"data": {"name": "Han Meimei"}}, key=b"a")
    progress = MemoryProgress()
    await progress.record(TopicPartition(dead, 0), 1)
    # meanwhile: someone else's dead letter, then another naming the person (the cut now goes past the copy)
    await send(producer, dead, {"data": {"name": "Zhao Liu"}}, key=b"b")
    await send(producer, dead, {"data": {"phone": "139 1234 5678"}}, key=b"li")
    result = await eraser(infra, scratch, progress).run([LI])
    assert result.tallies["r-li"].dead_letters_kept == 2  # the earlier copy and Zhao's, not Han's original
    assert [r.key for r in await records_of(infra, dead)] == [b"a", b"b"]


async def test_a_partition_the_broker_refuses_to_truncate_is_named_with_the_error_and_others_still_go(
        infra: Any, scratch: tuple[str, str], producer: AIOKafkaProducer) -> None:
    compacted = f"scratch-compacted-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(compacted, 1, 1, topic_configs={"cleanup.policy": "compact"})])
        await send(producer, compacted, {"phone": "13912345678"}, key=b"k")
        await send(producer, scratch[0], {"phone": "13912345678"})
        eraser_ = TopicEraser(client={"bootstrap_servers": infra.kafka_bootstrap}, topics=[compacted, scratch[0]],
                              keep_topics=[], policy=GroupPolicy(idle_seconds=0), progress=MemoryProgress())
        result = await eraser_.run([LI])
    finally:
        await admin.delete_topics([compacted])
        await admin.close()
    tally = result.tallies["r-li"]
    assert not result.clean("r-li") and tally.waiting_on == [f"{compacted}/0: error PolicyViolationError"]
    assert tally.partitions_truncated == 1 and await records_of(infra, scratch[0]) == []


async def test_a_stopped_group_behind_holds_the_truncation_unless_its_name_is_ignored(
        infra: Any, scratch: tuple[str, str], producer: AIOKafkaProducer) -> None:
    topic = scratch[0]
    last = await send(producer, topic, {"data": {"email": "li.lei@example.com"}})
    group = f"stopped-{uuid.uuid4().hex[:6]}"
    reader = AIOKafkaConsumer(topic, bootstrap_servers=infra.kafka_bootstrap, group_id=group,
                              enable_auto_commit=False, auto_offset_reset="earliest")
    await reader.start()
    try:
        while not reader.assignment():
            await reader.getmany(timeout_ms=200, max_records=1)
        await reader.commit({TopicPartition(topic, 0): last})  # committed before the record, then stopped
    finally:
        await reader.stop()
    held = await eraser(infra, scratch, policy=GroupPolicy(idle_seconds=3600)).run([LI])
    assert held.tallies["r-li"].waiting_on == [f"{topic}/0: {group}"]
    ignored = await eraser(infra, scratch, policy=GroupPolicy(idle_seconds=3600, ignore=["stopped-*"])).run([LI])
    assert ignored.clean("r-li") and ignored.tallies["r-li"].records_removed == 1
