"""Reading the platform's Kafka topics for a person, for the erasure tests: every topic whole (log start to
high-water mark, no consumer group), the dead letters' base64 fields decoded; and dead letters made on purpose."""

from __future__ import annotations

import base64
import json
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from telesales_contracts.topics import ALL_TOPICS
from telesales_runtime.kafka import topic_partitions
from telesales_tools.replay import Selection, read_dead_letters


def readable_forms(raw: bytes | None) -> list[bytes]:
    """A record's bytes as they are, as JSON re-written without escapes, and the base64 fields of a dead letter
    (payload, key, headers) decoded: everywhere a reader of the topic could read a person."""
    if not raw:
        return []
    forms = [raw]
    try:
        value = json.loads(raw)
    except ValueError:
        return forms
    forms.append(json.dumps(value, ensure_ascii=False).encode())
    data = value.get("data") if isinstance(value, dict) else None
    if isinstance(data, dict):
        encoded = [data.get("payload_b64"), data.get("key_b64"), *(data.get("headers") or {}).values()]
        for text in encoded:
            if isinstance(text, str):
                forms += readable_forms(base64.b64decode(text))
    return forms


async def topics_holding(bootstrap: str, needles: dict[str, bytes]) -> dict[str, list[str]]:
    """Every topic of the platform read whole (log start to high-water mark, no group): which hold a needle."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest",
                                max_partition_fetch_bytes=8 * 1024 * 1024)
    await consumer.start()
    found: dict[str, set[str]] = {}
    try:
        tps = await topic_partitions(consumer, [topic.name for topic in ALL_TOPICS])
        ends = await consumer.end_offsets(tps)
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        todo = {tp for tp in tps if await consumer.position(tp) < ends[tp]}
        while todo:
            for tp, records in (await consumer.getmany(*todo, timeout_ms=1000)).items():
                for record in records:
                    forms = [*readable_forms(record.key), *readable_forms(record.value),
                             *(form for _, header in record.headers for form in readable_forms(header))]
                    found.setdefault(tp.topic, set()).update(
                        what for what, needle in needles.items() if any(needle in form for form in forms))
            todo = {tp for tp in todo if await consumer.position(tp) < ends[tp]}
    finally:
        await consumer.stop()
    return {topic: sorted(whats) for topic, whats in found.items() if whats}


async def dead_letters_before(producer: AIOKafkaProducer, name: str, national: str) -> bytes:
    """Two raw leads no consumer can read, dead-lettered into one partition: someone else's, then one naming the
    person; the other's payload (its dead letter must outlive the erasure)."""
    key = f"broken-{uuid.uuid4().hex[:8]}".encode()
    other = f"broken lead: Other Person{uuid.uuid4().hex[:6]} 137{str(uuid.uuid4().int)[:8]}".encode()
    await producer.send_and_wait("leads.received.v1", other, key=key)
    await producer.send_and_wait("leads.received.v1", f"broken lead: {name} {national}".encode(),
                                 key=key)
    return other


async def replayable(bootstrap: str, payload: bytes) -> bool:
    """The replay tool's reader finds a dead letter with exactly this payload."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        outcome = await read_dead_letters(consumer, Selection(original_topic="leads.received.v1"))
    finally:
        await consumer.stop()
    return any(letter.payload() == payload for letter in outcome.selected)
