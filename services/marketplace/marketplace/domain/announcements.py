"""What the aggregates' decisions announce: an event of the contracts, its topic and its Kafka key. The
store writes them to the outbox in the transaction that makes the change."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from telesales_contracts import Topic


@dataclass(frozen=True)
class Announcement:
    topic: Topic
    data: BaseModel
    key: str
