"""Dead letters: a consumer of the dead-letter topic never dead-letters a dead letter again (no loop), and a
dead letter names the group that read the record. The replay command's tests: tests/test_replay.py."""

from __future__ import annotations

import base64
import json
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest

from telesales_contracts.topics import CALLS_LOGGED, DEAD_LETTERS
from telesales_runtime.consumer import Delivery, consume_batch
from telesales_runtime.deadletter import DeadLetterPublisher
from telesales_runtime.observability import DEAD_LETTER_LOOPS
from telesales_runtime.observability import DEAD_LETTERS as DEAD_LETTER_COUNT
from telesales_testkit.kafka import ConsumedRecord


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


def test_a_dead_letter_names_the_group_that_read_the_record() -> None:
    """A service consuming each topic in a group of its own (`<group>.<topic>`) names that group, which is
    what `replay --group` matches; the others name their one group."""
    shared = DeadLetterPublisher(None, service="s", group="s")  # type: ignore[arg-type]
    per_topic = DeadLetterPublisher(None, service="s", group="s", group_per_topic=True)  # type: ignore[arg-type]
    assert shared.group_of("leads.received.v1") == "s"
    assert per_topic.group_of("leads.received.v1") == "s.leads.received.v1"
