"""Helpers for tests of an outbox relay: a broker that can refuse, and the relay's backlog gauges as read
from the process's Prometheus registry."""

from __future__ import annotations

from typing import Any

from aiokafka.errors import KafkaConnectionError

from telesales_runtime.observability import OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE


class RefusingBroker:
    """Stands in for a service's broker: takes what is published (its topics kept in `sent`), or refuses it
    the way an unreachable Kafka does while `down`."""

    def __init__(self) -> None:
        self.down = False
        self.sent: list[str] = []

    async def publish(self, payload: bytes, *, topic: str, **_: Any) -> None:
        if self.down:
            raise KafkaConnectionError()
        self.sent.append(topic)


def outbox_gauges(service: str, outbox: str) -> tuple[float | None, float | None]:
    """(events waiting, age of the oldest in seconds) as the relay last said them; None where it says nothing."""
    def value(gauge: Any) -> float | None:
        return next((s.value for m in gauge.collect() for s in m.samples
                     if s.labels == {"service": service, "outbox": outbox}), None)
    return value(OUTBOX_BACKLOG), value(OUTBOX_OLDEST_AGE)
