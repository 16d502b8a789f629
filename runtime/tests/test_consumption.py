"""The runtime's consumption pieces without infrastructure: records of several topics parsed each by its own
contract (`parse_together`), a failing message isolated and dead-lettered (`consume_batch`), and the
consumer-lag gauge every service exposes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiokafka import TopicPartition

from telesales_contracts.topics import CALLS_LOGGED, LEADS_STAGE_CHANGED
from telesales_runtime.consumer import Delivery, consume_batch, parse_together
from telesales_runtime.kafka import consumer_lag_middleware, record_consumer_lag
from telesales_runtime.observability import CONSUMER_LAG, HANDLER_DURATION
from telesales_testkit.kafka import ConsumedRecord


class Letters:
    """Stands in for the dead-letter publisher: keeps what it is given."""

    service = "test-svc"

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.details: list[tuple[str, str]] = []  # (tenant, error)

    async def send(self, record: Any, *, error_type: str, error: str, tenantid: str = "default") -> None:
        self.sent.append((record.topic, error_type))
        self.details.append((tenantid, error))


def event(topic: str, data: dict[str, Any], event_id: str) -> bytes:
    return json.dumps({"specversion": "1.0", "id": event_id, "source": "/t", "type": f"telesales.{topic}",
                       "time": "2026-11-24T10:00:00+08:00", "tenantid": "t", "data": data}).encode()


CALL = {"agent_id": "a1", "lead_id": "L1", "started_at": "2026-11-24T10:00:00+08:00", "duration_seconds": 70,
        "connected": True}


async def test_records_of_several_topics_are_parsed_each_by_its_own_contract() -> None:
    records = (ConsumedRecord(CALLS_LOGGED.name, event(CALLS_LOGGED.name, CALL, "c1")),
               ConsumedRecord(LEADS_STAGE_CHANGED.name, event(LEADS_STAGE_CHANGED.name, {"lead_id": "L1", "stage_percent": 20,
                                                                                "funnel_step": "valid"}, "s1")),
               ConsumedRecord(CALLS_LOGGED.name, b"not json"),
               ConsumedRecord(CALLS_LOGGED.name, event(LEADS_STAGE_CHANGED.name, {"lead_id": "L1", "stage_percent": 20},
                                                       "wrong-topic")),
               ConsumedRecord("nobody.reads.v1", event(CALLS_LOGGED.name, CALL, "stray")),
               ConsumedRecord(CALLS_LOGGED.name, event(CALLS_LOGGED.name, CALL, "c1")))  # a repeat within the batch
    letters = Letters()
    parsed = await parse_together(records, (LEADS_STAGE_CHANGED, CALLS_LOGGED), letters)  # type: ignore[arg-type]
    assert [(d.event.id, d.record.topic) for d in parsed] == [("c1", CALLS_LOGGED.name), ("s1", LEADS_STAGE_CHANGED.name)]
    assert letters.sent == [(CALLS_LOGGED.name, "json_error"), (CALLS_LOGGED.name, "schema_error"),
                            ("nobody.reads.v1", "schema_error")]
    # a consumer that recognises repeats itself gets them all
    again = await parse_together(records, (LEADS_STAGE_CHANGED, CALLS_LOGGED), Letters(), drop_repeats=False)  # type: ignore[arg-type]
    assert [d.event.id for d in again] == ["c1", "s1", "c1"]


def binary(topic: str, data: dict[str, Any], event_id: str | None, **more: bytes) -> ConsumedRecord:
    """The event in binary content mode: attributes in ce_ headers, the data as the value."""
    headers = {"ce_specversion": b"1.0", "ce_id": (event_id or "").encode(), "ce_source": b"/dialer",
               "ce_type": f"telesales.{topic}".encode(), "ce_tenantid": b"t", "content-type": b"application/json",
               **more}
    if event_id is None:
        del headers["ce_id"]
    return ConsumedRecord(topic, json.dumps(data).encode(), headers=tuple(headers.items()))


async def test_a_binary_mode_record_is_read_as_its_structured_equivalent() -> None:
    letters = Letters()
    parsed = await parse_together([binary(CALLS_LOGGED.name, CALL, "b1"),
                                   ConsumedRecord(CALLS_LOGGED.name, event(CALLS_LOGGED.name, CALL, "s1"))],
                                  (CALLS_LOGGED,), letters)  # type: ignore[arg-type]
    assert [(d.event.id, d.event.source, d.event.tenantid) for d in parsed] == [("b1", "/dialer", "t"),
                                                                                ("s1", "/t", "t")]
    assert parsed[0].event.data == parsed[1].event.data and letters.sent == []
    # the same through a reading (metrics' way)
    reading = CALLS_LOGGED.reading(frozenset({"lead_id", "duration_seconds"}))
    [read] = await parse_together([binary(CALLS_LOGGED.name, CALL, "b2")], (reading,), letters)  # type: ignore[arg-type]
    assert (read.event.id, read.event.data.duration_seconds) == ("b2", 70)


async def test_a_binary_record_that_cannot_be_read_is_dead_lettered_in_its_tenant_with_the_reason() -> None:
    letters = Letters()
    records = [binary(CALLS_LOGGED.name, CALL, None, ce_tenantid=b"acme"),
               binary(CALLS_LOGGED.name, CALL, "x", **{"content-type": b"text/csv"}),
               ConsumedRecord(CALLS_LOGGED.name, b"oops", headers=(("ce_id", b"1"), ("ce_tenantid", b"acme")))]
    assert await parse_together(records, (CALLS_LOGGED,), letters) == []  # type: ignore[arg-type]
    assert letters.sent == [(CALLS_LOGGED.name, "schema_error"), (CALLS_LOGGED.name, "schema_error"),
                            (CALLS_LOGGED.name, "json_error")]
    assert [tenant for tenant, _ in letters.details] == ["acme", "t", "acme"]
    assert letters.details[0][1] == "id: Field required"
    assert "text/csv" in letters.details[1][1]


async def test_a_failing_message_is_isolated_and_dead_lettered() -> None:
    records = (ConsumedRecord(CALLS_LOGGED.name, event(CALLS_LOGGED.name, CALL, "good")),
               ConsumedRecord(CALLS_LOGGED.name, event(CALLS_LOGGED.name, CALL | {"lead_id": "poison"}, "bad")))
    handled: list[str] = []

    async def handle(deliveries: list[Delivery]) -> None:
        if any(d.event.data.lead_id == "poison" for d in deliveries):
            raise ValueError("cannot count this")
        handled.extend(d.event.id for d in deliveries)

    letters = Letters()
    await consume_batch(CALLS_LOGGED, records, letters, handle)  # type: ignore[arg-type]
    assert handled == ["good"]
    assert letters.sent == [(CALLS_LOGGED.name, "processing_error")]
    assert HANDLER_DURATION.labels("test-svc", CALLS_LOGGED.name)._sum.get() > 0  # noqa: SLF001


class Consumer:
    def __init__(self, ends: dict[tuple[str, int], int]) -> None:
        self.ends = ends

    def highwater(self, tp: TopicPartition) -> int | None:
        return self.ends.get((tp.topic, tp.partition))


def lag(topic: str, partition: int, service: str = "lag-svc") -> float:
    return CONSUMER_LAG.labels(service, topic, str(partition))._value.get()  # noqa: SLF001


def test_the_consumer_lag_is_the_high_watermark_less_the_next_offset() -> None:
    records = [ConsumedRecord("a.v1", b"", 0, 10), ConsumedRecord("a.v1", b"", 0, 12), ConsumedRecord("a.v1", b"", 1, 5)]
    record_consumer_lag("lag-svc", Consumer({("a.v1", 0): 100, ("a.v1", 1): 6}), records)
    assert (lag("a.v1", 0), lag("a.v1", 1)) == (87, 0)
    record_consumer_lag("lag-svc", object(), records)  # a consumer without watermarks changes nothing
    assert lag("a.v1", 0) == 87


async def test_the_broker_middleware_records_the_lag_after_the_handler() -> None:
    @dataclass
    class Message:
        raw_message: Any
        consumer: Any

    middleware = consumer_lag_middleware("mw-svc")(None, context=None)
    message = Message((ConsumedRecord("b.v1", b"", 2, 41),), Consumer({("b.v1", 2): 50}))

    async def handler(msg: Any) -> str:
        return "done"

    assert await middleware.consume_scope(handler, message) == "done"
    assert lag("b.v1", 2, "mw-svc") == 8


async def test_a_tombstone_is_no_event_and_no_dead_letter() -> None:
    # a compacted topic's deleted key (the do-not-call migration writes them for keys that named a number): a
    # dead letter of it would copy the key onto another topic
    records = (ConsumedRecord(CALLS_LOGGED.name, None, key=b"t/+8613924681357"),  # type: ignore[arg-type]
               ConsumedRecord(CALLS_LOGGED.name, event(CALLS_LOGGED.name, CALL, "c1")))
    letters = Letters()
    parsed = await parse_together(records, (CALLS_LOGGED,), letters)  # type: ignore[arg-type]
    assert [d.event.id for d in parsed] == ["c1"] and letters.sent == []
