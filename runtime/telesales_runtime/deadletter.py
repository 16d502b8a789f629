"""Dead-letter publishing: a message that cannot be processed is kept whole, with the reason, on
`platform.dead-lettered.v1`, and the consumer moves on, so one bad message never blocks a partition."""

from __future__ import annotations

import base64
import logging
from typing import Any

from faststream.kafka import KafkaBroker

from telesales_contracts import CLOUDEVENTS_CONTENT_TYPE, DEFAULT_TENANT
from telesales_contracts.platform import DeadLetter
from telesales_contracts.topics import DEAD_LETTERS

from .observability import DEAD_LETTER_LOOPS
from .observability import DEAD_LETTERS as DEAD_LETTER_COUNT

log = logging.getLogger(__name__)


def _b64(value: bytes | None) -> str | None:
    return None if value is None else base64.b64encode(value).decode()


def dead_letter_for(record: Any, *, service: str, group: str, error_type: str, error: str) -> DeadLetter:
    payload: bytes = record.value or b""
    try:
        text: str | None = payload.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    headers = {}
    for name, value in record.headers or ():
        headers[str(name)] = _b64(value if isinstance(value, bytes) else str(value).encode()) or ""
    key = record.key if isinstance(record.key, bytes | None) else str(record.key).encode()
    return DeadLetter(
        original_topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key_b64=_b64(key),
        consumer_group=group,
        service=service,
        error_type=error_type,
        error=error[:10_000],
        payload_b64=_b64(payload) or "",
        payload_text=text[:100_000] if text is not None else None,
        headers=headers,
    )


class DeadLetterPublisher:
    def __init__(self, broker: KafkaBroker, *, service: str, group: str, source: str | None = None,
                 group_per_topic: bool = False) -> None:
        """`group`: the consumer group named in the dead letters; with `group_per_topic`, the service
        consumes each topic in a group of its own, `<group>.<topic>`, and that is the group named."""
        self.broker = broker
        self.source = source or f"/services/{service}"
        self.service = service
        self.group = group
        self.group_per_topic = group_per_topic

    def group_of(self, topic: str) -> str:
        """The consumer group that read `topic` (what a replay filters on)."""
        return f"{self.group}.{topic}" if self.group_per_topic else self.group

    async def send(self, record: Any, *, error_type: str, error: str, tenantid: str = DEFAULT_TENANT) -> None:
        if record.topic == DEAD_LETTERS.name:
            # A consumer of the dead-letter topic failed on a dead letter: dead-lettering it again would give
            # a dead letter of a dead letter, which this consumer could fail on the same way, without end.
            # The original dead letter stays on the topic (and can be replayed); this is logged and counted.
            DEAD_LETTER_LOOPS.labels(self.service, error_type).inc()
            log.error(
                "dead letter could not be processed; dropped instead of dead-lettered again",
                extra={"topic": record.topic, "partition": record.partition, "offset": record.offset,
                       "consumer_group": self.group_of(record.topic), "error_type": error_type,
                       "error": error[:500]},
            )
            return
        letter = dead_letter_for(record, service=self.service, group=self.group_of(record.topic),
                                 error_type=error_type, error=error)
        event = DEAD_LETTERS.event(
            letter, source=self.source, tenantid=tenantid, subject=f"{record.topic}/{record.partition}/{record.offset}"
        )
        # Published directly and awaited: if this fails the handler fails and the message is redelivered.
        await self.broker.publish(
            event.to_json_bytes(),
            topic=DEAD_LETTERS.name,
            key=record.key if isinstance(record.key, bytes) else None,
            headers={"content-type": CLOUDEVENTS_CONTENT_TYPE},
        )
        DEAD_LETTER_COUNT.labels(self.service, record.topic, error_type).inc()
        log.warning(
            "message dead-lettered",
            extra={"topic": record.topic, "partition": record.partition, "offset": record.offset,
                   "error_type": error_type, "error": error[:500]},
        )
