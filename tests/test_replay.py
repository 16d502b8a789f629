"""The dead-letter replay (telesales_tools.replay, `make replay-dead-letters`): it lists and republishes
dead letters on a real (private) broker, and a replayed binary-mode record reads as the same event."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

from telesales_contracts.binding import structured_value
from telesales_contracts.topics import CALLS_LOGGED, DEAD_LETTERS
from telesales_runtime.deadletter import DeadLetterPublisher, dead_letter_for
from telesales_runtime.kafka import create_broker, ensure_topics, topic_partitions
from telesales_runtime.settings import ServiceSettings
from telesales_testkit.kafka import ConsumedRecord
from telesales_tools.replay import REPLAYED_FROM_HEADER, Letter, Selection, replay, run


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


def test_a_binary_mode_dead_letter_replays_as_the_same_event() -> None:
    """A binary-mode record's attributes are its headers: its dead letter keeps them (and the value) whole, so the
    replayed record reads as the same event."""
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
