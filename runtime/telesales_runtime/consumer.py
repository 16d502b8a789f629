"""Idempotent consumption: validate each record against its topic's contract (dead-lettering the
ones that fail), drop repeats of an event id within the batch, and remember processed event ids in an
inbox collection written in the same transaction as the effects."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import PyMongoError

from telesales_contracts import DEFAULT_TENANT, CloudEvent, Topic, TopicReading, WrongEventType, is_tenant_id
from telesales_contracts.binding import HEADER_PREFIX, BindingError, structured_value

from .deadletter import DeadLetterPublisher
from .kafka import consumer_records
from .mongo import is_duplicate_key
from .observability import HANDLER_DURATION, HANDLER_ERRORS, MESSAGES_CONSUMED

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Delivery:
    """One valid event and the Kafka record it came in (slotted and not frozen: a consumer makes one per
    record, and a frozen dataclass costs three times as much to make)."""

    event: CloudEvent[Any]
    record: Any

    @property
    def key(self) -> tuple[str, str]:
        return (self.event.tenantid, self.event.id)


def describe_validation_error(error: ValidationError) -> str:
    parts = []
    for item in error.errors(include_url=False):
        where = ".".join(str(p) for p in item["loc"]) or "(root)"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def tenant_hint(payload: bytes | None, headers: Iterable[tuple[str, Any]] | None = None) -> str:
    """The tenant a broken message claims, if it can be read, so its dead letter stays with that tenant: its
    `ce_tenantid` header (binary mode), else the `tenantid` of its JSON value."""
    for name, value in headers or ():
        if name.lower() == f"{HEADER_PREFIX}tenantid" and isinstance(value, bytes | str):
            claimed = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
            return claimed if is_tenant_id(claimed) else DEFAULT_TENANT
    try:
        claimed = json.loads(payload or b"").get("tenantid")
    except (ValueError, AttributeError):
        return DEFAULT_TENANT
    return claimed if is_tenant_id(claimed) else DEFAULT_TENANT


def _tenant_of(record: Any) -> str:
    return tenant_hint(record.value, getattr(record, "headers", None))


async def parse_deliveries(
    records: Sequence[Any], topic: Topic | TopicReading, dead_letters: DeadLetterPublisher
) -> list[Delivery]:
    """Valid deliveries of one topic's records in arrival order, a repeat of an event id within them left out
    (counted as a duplicate); invalid records go to the dead-letter topic."""
    return await parse_together(records, (topic,), dead_letters)


async def parse_together(records: Iterable[Any], topics: Sequence[Topic | TopicReading],
                         dead_letters: DeadLetterPublisher, *, drop_repeats: bool = True) -> list[Delivery]:
    """Valid deliveries of records of several topics, in arrival order, each parsed by its own topic's contract
    (or reading); invalid records go to the dead-letter topic, and so does a record of a topic not in
    `topics`. A record in binary content mode is read as its structured equivalent (binding.py), for every
    consumer alike. `drop_repeats`: a repeat of an event id within the records is left out (counted as a
    duplicate); a consumer that recognises repeats itself (metrics) says False."""
    parsers = {topic.name: topic.parse for topic in topics}
    deliveries: list[Delivery] = []
    seen: set[tuple[str, str]] = set()
    for record in records:
        if record.value is None:  # a tombstone (a compacted topic's key deleted): no event, nothing to do
            MESSAGES_CONSUMED.labels(dead_letters.service, record.topic, "tombstone").inc()
            continue
        parse = parsers.get(record.topic)
        if parse is None:
            await dead_letters.send(record, error_type="schema_error", error=f"no consumer of topic {record.topic} here",
                                    tenantid=_tenant_of(record))
            continue
        try:
            event = parse(structured_value(record.value, getattr(record, "headers", None)) or b"")
        except ValidationError as error:
            kind = "json_error" if any(e["type"] == "json_invalid" for e in error.errors()) else "schema_error"
            await dead_letters.send(record, error_type=kind, error=describe_validation_error(error),
                                    tenantid=_tenant_of(record))
            continue
        except BindingError as error:
            await dead_letters.send(record, error_type=error.error_type, error=str(error), tenantid=_tenant_of(record))
            continue
        except (WrongEventType, json.JSONDecodeError, UnicodeDecodeError) as error:
            await dead_letters.send(record, error_type="schema_error", error=str(error), tenantid=_tenant_of(record))
            continue
        if drop_repeats:
            key = (event.tenantid, event.id)
            if key in seen:
                MESSAGES_CONSUMED.labels(dead_letters.service, record.topic, "duplicate").inc()
                continue
            seen.add(key)
        deliveries.append(Delivery(event, record))
    return deliveries


class Inbox:
    """Event ids a consumer has processed, per tenant, with what came of each. Look-ups go by `_id`
    (consumer, tenant, event id), so there is no secondary index to pay for on every insert."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]], consumer: str) -> None:
        self.collection = collection
        self.consumer = consumer

    def _id(self, tenant: str, event_id: str) -> str:
        return f"{self.consumer}|{tenant}|{event_id}"

    def id_of(self, tenant: str, event_id: str) -> str:
        """The `_id` of an event's entry (for a caller reading the inbox in a query of its own)."""
        return self._id(tenant, event_id)

    async def processed(self, keys: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        ids = [self._id(t, e) for t, e in keys]
        if not ids:
            return set()
        found = self.collection.find({"_id": {"$in": ids}}, {"tenant_id": 1, "event_id": 1})
        return {(doc["tenant_id"], doc["event_id"]) async for doc in found}

    async def unprocessed_by_tenant(self, deliveries: Sequence[Delivery]) -> dict[str, list[Delivery]]:
        """The deliveries not processed before, grouped by tenant in arrival order (one look-up per tenant)."""
        grouped: dict[str, list[Delivery]] = {}
        for delivery in deliveries:
            grouped.setdefault(delivery.event.tenantid, []).append(delivery)
        out: dict[str, list[Delivery]] = {}
        for tenant, items in grouped.items():
            done = await self.processed(d.key for d in items)
            fresh = [d for d in items if d.key not in done]
            if fresh:
                out[tenant] = fresh
        return out

    def entry(self, tenant: str, event_id: str, outcome: dict[str, Any]) -> dict[str, Any]:
        return {
            "_id": self._id(tenant, event_id),
            "tenant_id": tenant,
            "event_id": event_id,
            "consumer": self.consumer,
            "processed_at": datetime.now(UTC),
            "outcome": outcome,
        }

    async def record(self, entries: list[dict[str, Any]], session: AsyncClientSession | None = None) -> None:
        if entries:
            await self.collection.insert_many(entries, ordered=False, session=session)

    async def outcome(self, tenant: str, event_id: str) -> dict[str, Any] | None:
        doc = await self.collection.find_one({"_id": self._id(tenant, event_id)})
        return None if doc is None else doc["outcome"] | {"processed_at": doc["processed_at"]}


async def consume_batch(
    topic: Topic,
    raw_message: Any,
    dead_letters: DeadLetterPublisher,
    handle: Callable[[list[Delivery]], Awaitable[Any]],
    *,
    retry_delay: float = 1.0,
) -> None:
    """The body of every batch subscriber: time it, parse (dead-lettering what is invalid), hand the
    valid deliveries to the service layer.

    - The database is unreachable: wait a little and fail, so the batch is redelivered, not lost.
    - Anything else failed (a unique index refusing a write included: retrying cannot help): a poison
      message is hiding in the batch. Redo the deliveries one by one
      (processed ones are skipped by their idempotency) and dead-letter those that still fail, so
      one bad message never blocks its partition."""
    with HANDLER_DURATION.labels(dead_letters.service, topic.name).time():
        deliveries = await parse_deliveries(consumer_records(raw_message), topic, dead_letters)
        await _handle_or_isolate(handle, deliveries, topic.name, dead_letters, retry_delay)


ALL_TOPICS_LABEL = "*"  # the topic label of a consumer timing one call for a batch of several topics


def _records_by_topic(records: Iterable[Any]) -> dict[str, list[Any]]:
    by_topic: dict[str, list[Any]] = {}
    for record in records:
        by_topic.setdefault(record.topic, []).append(record)
    return by_topic


async def consume_by_topic(
    raw_message: Any,
    topics: Sequence[Topic],
    dead_letters: DeadLetterPublisher,
    handler_of: Callable[[str], Callable[[list[Delivery]], Awaitable[Any]]],
) -> None:
    """The body of a batch subscriber of several topics (one consumer group for all of them): each topic's
    records go through `consume_batch` to `handler_of(topic name)`, in the order of `topics`."""
    by_topic = _records_by_topic(consumer_records(raw_message))
    for topic in topics:
        if topic.name in by_topic:
            await consume_batch(topic, tuple(by_topic[topic.name]), dead_letters, handler_of(topic.name))


async def _handle_or_isolate(handle: Callable[[list[Delivery]], Awaitable[Any]], deliveries: list[Delivery],
                             label: str, dead_letters: DeadLetterPublisher, retry_delay: float) -> None:
    service = dead_letters.service
    try:
        await _handle_or_retry_later(handle, deliveries, label, service, retry_delay)
    except PyMongoError as error:
        if not is_duplicate_key(error):
            raise
        await _isolate(handle, deliveries, label, service, retry_delay, dead_letters)
    except Exception:
        await _isolate(handle, deliveries, label, service, retry_delay, dead_letters)


async def _isolate(handle: Callable[[list[Delivery]], Awaitable[Any]], deliveries: list[Delivery], label: str,
                   service: str, retry_delay: float, dead_letters: DeadLetterPublisher) -> None:
    log.exception("batch failed; isolating the failing messages", extra={"topic": label})
    for delivery in deliveries:
        try:
            await _handle_or_retry_later(handle, [delivery], label, service, retry_delay)
        except PyMongoError as error:
            if not is_duplicate_key(error):
                raise
            await dead_letters.send(delivery.record, error_type="processing_error",
                                    error=f"{type(error).__name__}: {error}"[:2000], tenantid=delivery.event.tenantid)
        except Exception as error:
            await dead_letters.send(delivery.record, error_type="processing_error",
                                    error=f"{type(error).__name__}: {error}", tenantid=delivery.event.tenantid)


async def _handle_or_retry_later(handle: Callable[[list[Delivery]], Awaitable[Any]], deliveries: list[Delivery],
                                 label: str, service: str, retry_delay: float) -> None:
    try:
        await handle(deliveries)
    except PyMongoError as error:
        if is_duplicate_key(error):
            raise
        HANDLER_ERRORS.labels(service, label).inc()
        log.warning("handler failed, batch will be redelivered", extra={"topic": label, "error": str(error)})
        await asyncio.sleep(retry_delay)
        raise
