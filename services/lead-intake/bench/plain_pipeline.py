#!/usr/bin/env python3
"""The plain pipeline: the floor lead-intake's throughput is compared with (`make bench-intake`).

Written deliberately the obvious way, with no design of its own: a FastStream batch subscriber, pydantic
parsing of the CloudEvent, phonenumbers to E.164, a bulk upsert of a small document per lead, a batch
publish of a small event per lead. It commits offsets after the work (NACK_ON_ERROR, as the platform's
consumers do), so it does not win by risking loss. It does none of what lead-intake does beyond that: no
de-duplication by email, no junk or do-not-call checks, no enrichment or scoring, no inbox, no outbox, no
encryption.

Run by the benchmark as a subprocess; its settings come from the environment:
PLAIN_BOOTSTRAP, PLAIN_MONGO_URI, PLAIN_DB, PLAIN_IN_TOPIC, PLAIN_OUT_TOPIC, PLAIN_GROUP.
"""

from __future__ import annotations

import asyncio
import logging
import os
import unicodedata
from datetime import UTC, datetime
from typing import Any

import phonenumbers
from faststream import FastStream
from faststream.kafka import KafkaBroker
from faststream.middlewares import AckPolicy
from pydantic import BaseModel
from pymongo import ASCENDING, AsyncMongoClient, IndexModel, UpdateOne

MAX_RECORDS = 500
MAX_BATCH_BYTES = 1 << 20


class LeadData(BaseModel):
    phone: str
    name: str | None = None
    email: str | None = None
    channel: str | None = None
    business_line: str | None = None


class LeadEvent(BaseModel):
    id: str
    source: str
    type: str
    time: datetime
    tenantid: str
    data: LeadData


class Qualified(BaseModel):
    event_id: str
    tenant_id: str
    phone_e164: str


def to_e164(typed: str) -> str | None:
    try:
        number = phonenumbers.parse(unicodedata.normalize("NFKC", typed), "CN")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def create_app() -> FastStream:
    env = os.environ
    # A batch publish is one producer batch: it must hold a whole subscriber batch of small events. Logs at
    # WARNING, as the service under test runs.
    broker = KafkaBroker(env["PLAIN_BOOTSTRAP"], max_batch_size=MAX_BATCH_BYTES, log_level=logging.WARNING)
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(env["PLAIN_MONGO_URI"], tz_aware=True)
    leads = mongo[env["PLAIN_DB"]]["leads"]
    out_topic = env["PLAIN_OUT_TOPIC"]

    @broker.subscriber(env["PLAIN_IN_TOPIC"], batch=True, max_records=MAX_RECORDS, group_id=env["PLAIN_GROUP"],
                       auto_offset_reset="earliest", ack_policy=AckPolicy.NACK_ON_ERROR)
    async def on_leads(events: list[LeadEvent]) -> None:
        now = datetime.now(UTC)
        ops, qualified = [], []
        for event in events:
            e164 = to_e164(event.data.phone)
            if e164 is None:
                continue
            ops.append(UpdateOne({"tenant_id": event.tenantid, "phone_e164": e164},
                                 {"$set": {"name": event.data.name, "email": event.data.email,
                                           "channel": event.data.channel, "business_line": event.data.business_line,
                                           "updated_at": now}},
                                 upsert=True))
            qualified.append(Qualified(event_id=event.id, tenant_id=event.tenantid, phone_e164=e164))
        if ops:
            await leads.bulk_write(ops, ordered=False)
            await broker.publish_batch(*(q.model_dump_json().encode() for q in qualified), topic=out_topic)

    app = FastStream(broker)

    @app.on_startup
    async def indexes() -> None:
        await leads.create_indexes([IndexModel([("tenant_id", ASCENDING), ("phone_e164", ASCENDING)], unique=True)])

    @app.after_shutdown
    async def close() -> None:
        await mongo.close()

    return app


if __name__ == "__main__":
    asyncio.run(create_app().run())
