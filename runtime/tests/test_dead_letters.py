"""Dead letters: a consumer of the dead-letter topic never dead-letters a dead letter again (no loop), and
the replay command lists and republishes dead letters on a real (private) broker."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

from telesales_contracts.topics import CALLS_LOGGED, DEAD_LETTERS
from telesales_runtime.consumer import Delivery, consume_batch
from telesales_runtime.deadletter import DeadLetterPublisher
from telesales_runtime.kafka import create_broker, ensure_topics, topic_partitions
from telesales_runtime.observability import DEAD_LETTER_LOOPS
from telesales_runtime.observability import DEAD_LETTERS as DEAD_LETTER_COUNT
from telesales_runtime.replay import REPLAYED_FROM_HEADER, Selection, replay, run
from telesales_runtime.settings import ServiceSettings
from telesales_runtime.testing.kafka import ConsumedRecord


@dataclass
class FakeBroker:
    published: list[dict[str, Any]] = field(default_factory=list)

    async def publish(self, body: bytes, **options: Any) -> None:
        self.published.append({"body": body, **options})


def dead_letter_bytes(original_topic: str, *, service: str = "metrics", error_type: str = "processing_error") -> bytes:
    event = {"specversion": "1.0", "id": str(uuid.uuid4()), "source": "/services/x",
             "type": f"telesales.{DEAD_LETTERS.name}", "time": "2026-11-24T10:00:00+08:00", "tenantid": "t",
             "data": {"original_topic": original_topic, "consumer_group": "g", "service": service,
                      "error_type": error_type, "error": "boom", "payload_b64": base64.b64encode(b"{}").decode()}}
    return json.dumps(event).encode()


async def test_a_dead_letter_that_fails_is_dropped_and_counted_not_dead_lettered_again(
        caplog: pytest.LogCaptureFixture) -> None:
    broker = FakeBroker()
    letters = DeadLetterPublisher(broker, service="loop-test", group="loop-test-g")  # type: ignore[arg-type]
    before = DEAD_LETTER_LOOPS.labels("loop-test", "processing_error")._value.get()  # noqa: SLF001

    async def handle(deliveries: list[Delivery]) -> None:
        raise ValueError("cannot count this dead letter")

    records = (ConsumedRecord(DEAD_LETTERS.name, dead_letter_bytes(CALLS_LOGGED.name), offset=7),)
    with caplog.at_level(logging.ERROR, logger="telesales_runtime.deadletter"):
        await consume_batch(DEAD_LETTERS, records, letters, handle, retry_delay=0)
    assert broker.published == []
    assert DEAD_LETTER_LOOPS.labels("loop-test", "processing_error")._value.get() == before + 1  # noqa: SLF001
    [entry] = [r for r in caplog.records if "dropped instead of dead-lettered again" in r.getMessage()]
    assert entry.offset == 7 and entry.topic == DEAD_LETTERS.name  # type: ignore[attr-defined]

    # a record from any other topic is still dead-lettered
    broken = ConsumedRecord(CALLS_LOGGED.name, b"not json", offset=8, key=b"k")
    await letters.send(broken, error_type="json_error", error="not JSON")
    [sent] = broker.published
    assert sent["topic"] == DEAD_LETTERS.name and sent["key"] == b"k"
    assert json.loads(sent["body"])["data"]["original_topic"] == CALLS_LOGGED.name
    assert DEAD_LETTER_COUNT.labels("loop-test", CALLS_LOGGED.name, "json_error")._value.get() == 1  # noqa: SLF001


# ----------------------------------------------------------------------------- replay on a real broker
async def read_all(bootstrap: str, topic: str, expected: int, timeout: float = 20.0) -> list[Any]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = await topic_partitions(consumer, [topic])
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, 0)
        out: list[Any] = []
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            for records in (await consumer.getmany(timeout_ms=300)).values():
                out += records
            if len(out) >= expected:
                # and nothing more comes
                for records in (await consumer.getmany(timeout_ms=700)).values():
                    out += records
                break
        return out
    finally:
        await consumer.stop()


@pytest.mark.integration
async def test_dead_letters_are_listed_then_republished_to_their_topic(infra: Any) -> None:
    run_id = uuid.uuid4().hex[:8]
    first, second = f"replay-{run_id}.a.v1", f"replay-{run_id}.b.v1"
    settings = ServiceSettings(service_name=f"replay-src-{run_id}", kafka_bootstrap=infra.kafka_bootstrap)
    await ensure_topics(settings.kafka_bootstrap, [DEAD_LETTERS.name, first, second], 3, 1)
    broker = create_broker(settings)
    await broker.start()
    try:
        letters = DeadLetterPublisher(broker, service=settings.service_name, group=f"g-{run_id}")
        poison = ConsumedRecord(first, b'{"id": "e1", "phone": "13924681357"}', partition=1, offset=41, key=b"13924681357",
                        headers=(("content-type", b"application/cloudevents+json"), ("trace", b"\x00\x01")))
        await letters.send(poison, error_type="processing_error", error="lead 13924681357 refused",
                           tenantid="t1")
        await letters.send(ConsumedRecord(first, b"not json", offset=42), error_type="json_error", error="bad", tenantid="t1")
        await letters.send(ConsumedRecord(second, b"{}", offset=3), error_type="processing_error", error="x", tenantid="t2")
    finally:
        await broker.stop()
    started = datetime.now(UTC)

    # a dry run lists and sends nothing
    dry = await replay(settings, Selection(original_topic=first), apply=False)
    assert [(letter.data["offset"], letter.data["error_type"]) for letter in dry.selected] == [
        (41, "processing_error"), (42, "json_error")]
    assert dry.republished == 0
    assert await read_all(settings.kafka_bootstrap, first, expected=1, timeout=2) == []

    # filters: error type, service, group, tenant, time
    assert len((await replay(settings, Selection(service=settings.service_name), apply=False)).selected) == 3
    assert len((await replay(settings, Selection(tenant="t2", service=settings.service_name),
                             apply=False)).selected) == 1
    assert (await replay(settings, Selection(consumer_group="nobody"), apply=False)).selected == []
    later = Selection(service=settings.service_name, since=started + timedelta(minutes=1))
    assert (await replay(settings, later, apply=False)).selected == []

    # --apply through the command line: the original bytes, key and headers go back to the original topic
    out = io.StringIO()
    argv = ["--bootstrap", settings.kafka_bootstrap, "--topic", first, "--error-type", "processing_error", "--apply"]
    assert await asyncio.to_thread(run, argv, out) == 0
    assert "republished 1 message(s)" in out.getvalue()
    assert "processing_error: lead 139****1357 refused" in out.getvalue()  # the listing masks phone numbers
    [replayed] = await read_all(settings.kafka_bootstrap, first, expected=1)
    assert replayed.value == b'{"id": "e1", "phone": "13924681357"}'
    assert replayed.key == b"13924681357"
    headers = dict(replayed.headers)
    assert headers["content-type"] == b"application/cloudevents+json" and headers["trace"] == b"\x00\x01"
    assert headers[REPLAYED_FROM_HEADER].decode().startswith(f"{DEAD_LETTERS.name}/")
    assert await read_all(settings.kafka_bootstrap, second, expected=1, timeout=2) == []  # not selected

    # the dry run of the command line says so
    out = io.StringIO()
    assert await asyncio.to_thread(run, ["--bootstrap", settings.kafka_bootstrap, "--topic", second], out) == 0
    assert "1 dead letter(s) selected; dry run" in out.getvalue()


def test_the_command_line_refuses_a_time_without_zone() -> None:
    with pytest.raises(SystemExit):
        run(["--since", "2026-11-24T10:00:00"])


def test_a_dead_letter_names_the_group_that_read_the_record() -> None:
    """A service consuming each topic in a group of its own (`<group>.<topic>`) names that group, which is
    what `replay --group` matches; the others name their one group."""
    shared = DeadLetterPublisher(None, service="s", group="s")  # type: ignore[arg-type]
    per_topic = DeadLetterPublisher(None, service="s", group="s", group_per_topic=True)  # type: ignore[arg-type]
    assert shared.group_of("leads.received.v1") == "s"
    assert per_topic.group_of("leads.received.v1") == "s.leads.received.v1"


def test_a_binary_mode_dead_letter_replays_as_the_same_event() -> None:
    """A binary-mode record's attributes are its headers: its dead letter keeps them (and the value) whole, so the
    replayed record reads as the same event."""
    from telesales_contracts.binding import structured_value
    from telesales_runtime.deadletter import dead_letter_for
    from telesales_runtime.replay import Letter

    headers = (("ce_specversion", b"1.0"), ("ce_id", b"b-1"), ("ce_source", b"/dialer"),
               ("ce_type", b"calls.logged.v1"), ("ce_tenantid", b"acme"), ("content-type", b"application/json"))
    value = json.dumps({"agent_id": "a1", "lead_id": "L1", "started_at": "2026-11-24T10:00:00+08:00",
                        "duration_seconds": 70, "connected": True}).encode()
    record = ConsumedRecord(CALLS_LOGGED.name, value, partition=2, offset=9, key=b"L1", headers=headers)
    letter = dead_letter_for(record, service="s", group="g", error_type="processing_error", error="boom")
    replayed = Letter(0, 1, datetime.now(UTC), "acme", letter.model_dump(mode="json"))
    assert replayed.payload() == value and replayed.key() == b"L1"
    assert replayed.headers()[:-1] == list(headers)
    again = CALLS_LOGGED.parse(structured_value(replayed.payload(), replayed.headers()))  # type: ignore[arg-type]
    assert (again.id, again.source, again.tenantid, again.type) == ("b-1", "/dialer", "acme", "calls.logged.v1")
