"""Kafka plumbing on FastStream: broker factory, safe subscriber defaults, topic creation."""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faststream import BaseMiddleware
from faststream.kafka import KafkaBroker, KafkaRouter
from faststream.kafka.security import parse_security
from faststream.middlewares import AckPolicy
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from telesales_contracts import Topic
from telesales_contracts.topics import DEAD_LETTERS, broker_config

from .observability import CONSUMER_LAG
from .settings import ServiceSettings

log = logging.getLogger(__name__)


def kafka_ssl_context(settings: ServiceSettings) -> ssl.SSLContext:
    """The TLS context of the settings: the broker's certificate is checked against kafka_ssl_ca_file (the
    system's CAs when unset) and, unless kafka_ssl_check_hostname is off, against the host name; a client
    certificate is presented when kafka_ssl_cert_file/kafka_ssl_key_file are set (mutual TLS)."""
    ca_file = settings.kafka_ssl_ca_file
    try:
        context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    except (ssl.SSLError, OSError) as error:
        raise ValueError(f"kafka_ssl_ca_file={ca_file}: not a readable PEM CA certificate ({error})") from error
    context.check_hostname = settings.kafka_ssl_check_hostname
    if settings.kafka_ssl_cert_file is not None:
        password = settings.kafka_ssl_key_password
        try:
            context.load_cert_chain(str(settings.kafka_ssl_cert_file), str(settings.kafka_ssl_key_file),
                                    password.get_secret_value() if password else None)
        except (ssl.SSLError, OSError) as error:
            raise ValueError(f"kafka_ssl_cert_file={settings.kafka_ssl_cert_file}, kafka_ssl_key_file="
                             f"{settings.kafka_ssl_key_file}: not a PEM certificate and its key, or the key "
                             f"password is wrong ({error})") from error
    return context


_SASL = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}


def kafka_security(settings: ServiceSettings) -> BaseSecurity | None:
    """The one place the settings' Kafka security (protocol, SASL mechanism and credentials, TLS) turns into
    a client configuration: FastStream's security object, given to the service's broker as it is and, as
    aiokafka keyword arguments (`client_security`), to every raw aiokafka client. None for PLAINTEXT."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = kafka_ssl_context(settings) if protocol in ("SSL", "SASL_SSL") else None
    if protocol == "SSL":
        return BaseSecurity(ssl_context=context)
    password = settings.kafka_sasl_password
    return _SASL[settings.kafka_sasl_mechanism](settings.kafka_sasl_username or "",
                                                password.get_secret_value() if password else "", ssl_context=context)


def client_security(settings: ServiceSettings) -> dict[str, Any]:
    """aiokafka keyword arguments (security_protocol, ssl_context, sasl_*) for a producer, consumer or admin
    client: the same configuration the service's FastStream broker gets (empty for PLAINTEXT)."""
    return parse_security(kafka_security(settings))


async def raw_decoder(msg: Any) -> Any:
    """Hand the handler the raw bytes: a consumer validates them itself, so that a payload that is not
    JSON or breaks its schema reaches the dead-letter topic instead of failing inside the framework."""
    return msg.body


def subscriber_options(settings: ServiceSettings, group_id: str) -> dict[str, Any]:
    """Options every subscriber on the platform uses.

    - the offset is committed only after the handler succeeded (NACK_ON_ERROR rewinds on error), so a
      crash or an unreachable database never loses a message;
    - `earliest`: a new group starts at the beginning of the topic, so a service deployed after the first
      events were published still processes them;
    - the session timeout and fetch wait of the settings (see ServiceSettings).
    """
    return {
        "group_id": group_id,
        "auto_offset_reset": "earliest",
        "ack_policy": AckPolicy.NACK_ON_ERROR,
        "decoder": raw_decoder,
        "session_timeout_ms": settings.kafka_session_timeout_ms,
        "heartbeat_interval_ms": settings.kafka_heartbeat_interval_ms,
        "fetch_max_wait_ms": settings.kafka_fetch_max_wait_ms,
    }


def declare_publishers(router: KafkaRouter, topics: Iterable[Topic]) -> None:
    """Declare what a service produces, once, for its AsyncAPI document (the relays and the dead-letter
    publisher send on these topics)."""
    for topic in topics:
        router.publisher(topic.name, title=f"{topic.name}:publish", description=topic.description,
                         schema=topic.event_model)


def consumed_description(topic: Topic) -> str:
    """What the AsyncAPI document says of a consumed topic."""
    # Handlers take raw bytes (so broken messages can be dead-lettered); the document names the contract.
    return (f"{topic.description} Each message is a CloudEvent (structured JSON) of type {topic.event_type}; "
            f"schema: contracts/schemas/{topic.name}.json. Invalid messages go to {DEAD_LETTERS.name}.")


# Producer settings of every service. acks="all": a publish counts only once every in-sync replica has
# it (an outbox row is deleted on that word). Idempotence: a batch the producer sends again after a lost
# answer or a broker restart is written once, not twice, and in order. Batches of 512 KB instead of
# aiokafka's 16 KB: relaying thousands of events costs the broker and this process several times less per
# event.
PRODUCER_OPTIONS: dict[str, Any] = {
    "acks": "all",
    "enable_idempotence": True,
    "max_request_size": 4 * 1024 * 1024,
    "max_batch_size": 512 * 1024,
    "linger_ms": 5,
}


def record_consumer_lag(service: str, consumer: Any, records: Sequence[Any]) -> None:
    """Set the consumer-lag gauge of every partition in `records` after they were handled: the partition's
    high watermark (from the consumer's last fetch) minus the offset after its last record here."""
    highwater = getattr(consumer, "highwater", None)
    if highwater is None:  # the in-memory test broker's consumer knows no watermarks
        return
    last: dict[tuple[str, int], int] = {}
    for record in records:
        key = (record.topic, record.partition)
        if record.offset >= last.get(key, -1):
            last[key] = record.offset
    for (topic, partition), offset in last.items():
        end = highwater(TopicPartition(topic, partition))
        if end is not None:
            CONSUMER_LAG.labels(service, topic, str(partition)).set(max(0, end - offset - 1))


def consumer_lag_middleware(service: str) -> Any:
    """A broker middleware recording the consumer lag of every partition a message (or batch) came from,
    once the handler has run."""

    class ConsumerLag(BaseMiddleware):  # type: ignore[type-arg]
        async def consume_scope(self, call_next: Any, msg: Any) -> Any:
            try:
                return await call_next(msg)
            finally:
                consumer = getattr(msg, "consumer", None)
                if consumer is not None:
                    record_consumer_lag(service, consumer, consumer_records(msg.raw_message))

    return ConsumerLag


def create_broker(settings: ServiceSettings, **options: Any) -> KafkaBroker:
    # FastStream's own logger has a handler of its own (coloured text at INFO, whatever the service's
    # level); this one goes through the service's logging: its format (JSON lines) and its level.
    return KafkaBroker(settings.kafka_bootstrap, client_id=settings.kafka_client_id or settings.service_name,
                       logger=logging.getLogger(f"{settings.service_name}.kafka"),
                       middlewares=[consumer_lag_middleware(settings.service_name)],
                       security=kafka_security(settings), **PRODUCER_OPTIONS, **options)


def create_producer(settings: ServiceSettings, purpose: str, **options: Any) -> AIOKafkaProducer:
    """A raw aiokafka producer with the platform's settings, for high-volume senders (the outbox relay);
    `options` override PRODUCER_OPTIONS."""
    return AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap,
                            client_id=f"{settings.kafka_client_id or settings.service_name}-{purpose}",
                            **{**PRODUCER_OPTIONS, **options}, **client_security(settings))


async def await_confirmations(pending: Iterable[Any]) -> None:
    """Wait until the broker acknowledged every `publish(..., no_confirm=True)` in `pending` (the
    in-memory test broker confirms at once and hands back nothing to wait for)."""
    futures = [p for p in pending if p is not None]
    if futures:
        await asyncio.gather(*futures)


async def topic_partitions(consumer: AIOKafkaConsumer, topics: Iterable[str]) -> list[TopicPartition]:
    """Every partition of `topics` as the cluster has them now (none of a topic that does not exist), for a
    consumer about to assign() them. `consumer.topics()` returns the metadata without keeping it, so
    `partitions_for_topic` knows only the topics the consumer asked about before: the cluster's full
    metadata is asked for instead."""
    metadata = await consumer._client.fetch_all_metadata()  # noqa: SLF001 - the public API has no fresh metadata
    return [TopicPartition(topic, p) for topic in dict.fromkeys(topics)
            for p in sorted(metadata.partitions_for_topic(topic) or ())]


def consumer_records(raw_message: Any) -> Sequence[Any]:
    """The ConsumerRecord(s) behind a FastStream Kafka message (a tuple on batch subscribers)."""
    return raw_message if isinstance(raw_message, tuple | list) else (raw_message,)


async def ensure_topics(bootstrap: str, names: Iterable[str], partitions: int, replication: int, *,
                        security: Mapping[str, Any] | None = None) -> None:
    """Create the topics a service uses when they are missing (in production they are declared by the
    deployment; this keeps a fresh local stack and test runs working). `security`: `client_security(settings)`."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **(security or {}))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in dict.fromkeys(names) if name not in existing]
        if missing:
            log.info("creating topics", extra={"topics": missing})
            await admin.create_topics([NewTopic(name, partitions, replication, topic_configs=broker_config(name))
                                       for name in missing])
    finally:
        await admin.close()



@asynccontextmanager
async def topped_up(message: Any, max_records: int, *, wait_ms: int,
                    stale_wait_ms: int | None = None) -> AsyncIterator[tuple[Any, ...]]:
    """The records of a batch (FastStream `message`), topped up to `max_records` with what has arrived since.

    aiokafka fetches a partition again as soon as its buffered records are handed out and then fetches
    nothing more for it until those are taken: so at a steady rate a batch is what that early fetch brought
    (the first few records after the previous batch started), while everything that arrived during the
    previous batch waits in the broker for a whole batch more. Measured on the ledger: the newest record of
    a batch was as old as the previous batch took to handle, so each record waited two batches before its
    own was handled. Here the fetch the hand-out started is awaited (at most `wait_ms`, when nothing new
    arrives) and its records join the batch, in their partitions' order.

    Offsets stay safe: the consumer commits its positions after a handled batch, which now include these
    records; when the handler fails, every partition they came from is rewound to its earliest one here
    (FastStream rewinds those of the original batch), so none is committed unprocessed. A consumer without
    getmany (the in-memory test broker's) hands the batch on as it is.

    `stale_wait_ms`: how long to wait at most when the batch as handed out is stale (see `top_up_wait_ms`);
    None: `wait_ms` always."""
    records = tuple(consumer_records(message.raw_message))
    consumer = getattr(message, "consumer", None)
    room = max_records - len(records)
    if room <= 0 or not callable(getattr(consumer, "getmany", None)):
        yield records
        return
    wait = top_up_wait_ms(records, wait_ms, stale_wait_ms, now_ms=time.time() * 1000)
    fetched = await consumer.getmany(timeout_ms=wait, max_records=room)
    extra = tuple(record for batch in fetched.values() for record in batch)
    try:
        yield records + extra
    except BaseException:
        rewind(consumer, extra)
        raise


def top_up_wait_ms(records: Sequence[Any], wait_ms: int, stale_wait_ms: int | None, *, now_ms: float) -> int:
    """How long a batch waits for the records that arrived since the ones it was handed.

    A batch handed out at once from aiokafka's buffer holds what the fetch made at the previous hand-out
    brought: a few records, which then waited there while the previous batch was handled, while everything
    that arrived meanwhile is still in the broker. The fetch the hand-out started brings it, one broker round
    trip later; when the broker is busy that is more than a few ms, a short wait misses it, and the few
    records are handled alone, paying a whole transaction's fixed cost for themselves. Measured on the ledger
    at half of saturation: batches of ~10 and ~200 requests took turns. So when the newest record in hand
    is older than `wait_ms`, the wait is as long as it is old, up to `stale_wait_ms`: getmany returns as
    soon as the fetch lands, so this costs one fetch, not the whole wait, whenever records are coming. A
    batch of fresh records (a consumer that was waiting for them) still waits `wait_ms`. The age comes from
    the records' timestamps: a producer whose clock is behind makes them look older, which costs at most
    `stale_wait_ms` per batch."""
    if stale_wait_ms is None or stale_wait_ms <= wait_ms:
        return wait_ms
    stamps = [t for t in (getattr(r, "timestamp", None) for r in records) if isinstance(t, int) and t > 0]
    if not stamps:
        return wait_ms
    age = now_ms - max(stamps)
    return int(min(stale_wait_ms, max(wait_ms, age)))


def rewind(consumer: Any, records: Iterable[Any]) -> None:
    """Seek each partition of `records` back to its earliest record among them (to be fetched again)."""
    earliest: dict[TopicPartition, int] = {}
    for record in records:
        tp = TopicPartition(record.topic, record.partition)
        earliest[tp] = min(record.offset, earliest.get(tp, record.offset))
    for tp, offset in earliest.items():
        consumer.seek(tp, offset)
