"""Erasure of a person's data, the part every service shares: clearing personal fields by name wherever they
sit in a document (nested, in arrays, inside serialized events of an outbox), and the consumer of
privacy.erasure-requested.v1 that runs a service's own erasure, remembers the request and announces its
completion, all in one transaction.

A field is personal by its name (PERSONAL_FIELDS), or as a sibling an encryption layer keeps next to one
(`<field>_bidx`, `<field>_enc`, ...): clearing by name keeps working when the values are ciphertext. Strings
and numbers become None, objects {} and lists []: readers of an erased document find the types they expect."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from faststream import Context
from faststream.kafka import KafkaRouter
from faststream.kafka.annotations import KafkaMessage
from prometheus_client import Counter, Gauge
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.mongo_client import AsyncMongoClient
from pymongo.errors import DuplicateKeyError

from telesales_contracts.privacy import ErasureCompleted
from telesales_contracts.topics import LEADS_DO_NOT_CALL, PRIVACY_ERASURE_COMPLETED, PRIVACY_ERASURE_REQUESTED

from .consumer import Delivery, consume_batch
from .deadletter import DeadLetterPublisher
from .erasure_contract import kept_valid
from .kafka import consumed_description, subscriber_options
from .mongo import ensure_collections, in_transaction
from .outbox import outbox_row, write_outbox

log = logging.getLogger(__name__)

Doc = dict[str, Any]
# A service's own erasure: (tenant, lead ids, session) -> documents changed per collection.
Eraser = Callable[[str, list[str], AsyncClientSession], Awaitable[dict[str, int]]]
# What a service notes of a request before its erasure, in the same transaction: (tenant, the request's event,
# session). lead-intake: whom a retention erasure's topic step looks for, read before the leads are cleared.
Preparer = Callable[[str, Any, AsyncClientSession], Awaitable[None]]

ERASURES = Counter("telesales_erasures_total", "Erasure requests a service finished its part of (reason: request "
                   "or retention).", ["service", "reason"])
OLDEST_INCOMPLETE = Gauge("telesales_erasure_oldest_incomplete_seconds", "Age of the oldest erasure request not "
                          "yet answered by every expected service (0: none waits); lead-intake keeps the requests.",
                          ["service"])
ERASED_DOCUMENTS = Counter("telesales_erased_documents_total", "Documents anonymised or removed by erasures.",
                           ["service", "collection"])

# Names of fields that hold a person's data, wherever they appear in a document about an erased lead. Free
# text (notes, reasons, details, raw extras) is cleared too: an agent writes the person's name in it.
PERSONAL_FIELDS = frozenset({
    "phone", "phone_e164", "phone_raw", "phone_national", "backup_phone", "mobile", "telephone", "tel",
    "name", "contact_name", "first_name", "last_name", "full_name", "email", "wechat", "qq", "address",
    "id_number", "notes", "note", "comment", "remark", "detail", "reason", "complaint", "extra", "extras",
    "attributes", "raw", "payload_text", "company", "statement", "evidence",
})
# Siblings an encryption layer keeps of a personal field (ciphertext, blind index): cleared with it.
SIBLING_SUFFIXES = ("_bidx", "_enc", "_cipher", "_hash", "_key_id")
ERASED_MARK = "erased_at"
NOTICE = "erasure_notice"  # an outbox row's flag: written by the erasure, about it, without personal data
# The topics every service's erasure consumer reads and writes (for the topics a service makes sure exist).
ERASURE_TOPIC_NAMES = (PRIVACY_ERASURE_REQUESTED.name, PRIVACY_ERASURE_COMPLETED.name)


# Free text under a qualified name (close_reason, decision_note, ...): cleared like the plain one.
FREE_TEXT = frozenset({"reason", "note", "notes", "comment", "remark", "detail", "name"})


def is_personal(key: str) -> bool:
    if key in PERSONAL_FIELDS or key.rpartition("_")[2] in FREE_TEXT:
        return True
    return any(key.endswith(suffix) and key[: -len(suffix)] in PERSONAL_FIELDS for suffix in SIBLING_SUFFIXES)


def _cleared(value: Any) -> Any:
    if isinstance(value, dict):
        return {}
    if isinstance(value, list):
        return []
    return None


def scrub(value: Any) -> tuple[Any, bool]:
    """`value` with every personal field cleared (recursively), and whether anything changed. A serialized
    JSON object (an outbox's event payload) is read, scrubbed and written again."""
    if isinstance(value, dict):
        changed = False
        out: Doc = {}
        for key, item in value.items():
            if isinstance(key, str) and is_personal(key):
                cleared = _cleared(item)
                changed |= cleared != item
                out[key] = cleared
            else:
                out[key], was = scrub(item)
                changed |= was
        return out, changed
    if isinstance(value, list):
        items = [scrub(item) for item in value]
        return [item for item, _ in items], any(was for _, was in items)
    if isinstance(value, bytes | bytearray) and value[:1] == b"{":
        try:
            parsed = json.loads(value)
        except (ValueError, UnicodeDecodeError):
            return value, False
        scrubbed, changed = scrub(parsed)
        return (json.dumps(scrubbed, separators=(",", ":"), ensure_ascii=False).encode() if changed else value,
                changed)
    return value, False


async def scrub_documents(collection: AsyncCollection[Doc], query: Doc, session: AsyncClientSession, *,
                          mark: Doc | None = None) -> int:
    """Clear the personal fields of every document `query` finds (adding `mark` to each); how many changed."""
    changed = 0
    async for doc in collection.find(query, session=session):
        scrubbed, was = scrub(doc)
        if mark:
            scrubbed.update(mark)
        if was or mark:
            await collection.replace_one({"_id": doc["_id"]}, scrubbed, session=session)
            changed += was
    return changed


def notice_row(topic: str, event: Any, key: str | None) -> Doc:
    """An outbox row a service's erasure writes about the erasure itself (a holder told its lead is gone): it
    carries no personal data, and the scrub of the outbox in the same transaction leaves it as it is."""
    return {**outbox_row(topic, event, key), NOTICE: True}


# Fields of an event's data that go out through an erasure: a do-not-call listing names the number by its blind
# index and masked display only (never the number), and the objection of an erased person must still reach every
# service (its free-text reason is cleared like any other).
KEPT_THROUGH_ERASURE: dict[str, tuple[str, ...]] = {LEADS_DO_NOT_CALL.name: ("phone_bidx", "phone_masked")}


def _kept(original: bytes, scrubbed: bytes, fields: tuple[str, ...]) -> bytes:
    data = json.loads(original).get("data") or {}
    event = json.loads(scrubbed)
    event["data"] = {**(event.get("data") or {}), **{name: data[name] for name in fields if name in data}}
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()


async def scrub_outbox(outbox: AsyncCollection[Doc], tenant: str, lead_ids: Sequence[str],
                       session: AsyncClientSession) -> int:
    """Events still waiting in an outbox that name one of the leads keep going out, their personal fields
    cleared. Outboxes hold only unrelayed rows, so reading the tenant's is cheap."""
    needles = [lead_id.encode() for lead_id in lead_ids]
    changed = 0
    # The erasure events themselves name the leads and nobody in them, and so do the notices a service's erasure
    # writes about it (notice_row): they go out as they are.
    query = {"tenant_id": tenant, "topic": {"$nin": [PRIVACY_ERASURE_REQUESTED.name, PRIVACY_ERASURE_COMPLETED.name]},
             NOTICE: {"$ne": True}}
    async for row in outbox.find(query, {"payload": 1, "topic": 1}, session=session):
        payload = bytes(row.get("payload") or b"")
        if not any(needle in payload for needle in needles):
            continue
        scrubbed, was = scrub(payload)
        if was and row.get("topic") in KEPT_THROUGH_ERASURE:
            scrubbed = _kept(payload, scrubbed, KEPT_THROUGH_ERASURE[row["topic"]])
        if was:
            scrubbed = kept_valid(row.get("topic"), scrubbed)
            await outbox.update_one({"_id": row["_id"]}, {"$set": {"payload": scrubbed}}, session=session)
            changed += 1
    return changed


class ErasureWorker:
    """The consumer of privacy.erasure-requested.v1 in one service: for each request not handled before
    (collection `erasures`, by tenant and event id), the service's `erase`, the outbox's pending events
    scrubbed, the request remembered (ids and counts only) and privacy.erasure-completed.v1 written to the
    outbox, in one transaction. A redelivered request changes nothing and is answered again."""

    def __init__(self, *, client: AsyncMongoClient[Doc], erasures: AsyncCollection[Doc],
                 outbox: AsyncCollection[Doc], service: str, source: str, erase: Eraser,
                 dead_letters: DeadLetterPublisher, notify: Callable[[], None] = lambda: None,
                 prepare: Preparer | None = None) -> None:
        self.client = client
        self.prepare = prepare
        self.dead_letters = dead_letters
        self.erasures = erasures
        self.outbox = outbox
        self.service = service
        self.source = source
        self.erase = erase
        self.notify = notify

    async def ensure_collections(self) -> None:
        await ensure_collections(self.erasures.database, [self.erasures.name, self.outbox.name])

    async def handle(self, deliveries: Sequence[Delivery]) -> None:
        for delivery in deliveries:
            await self.handle_one(delivery)
        if deliveries:
            self.notify()

    async def handle_one(self, delivery: Delivery) -> None:
        tenant, event = delivery.event.tenantid, delivery.event
        data = event.data
        record_id = f"{tenant}|{event.id}"

        async def work(session: AsyncClientSession) -> dict[str, int] | None:
            if await self.erasures.find_one({"_id": record_id}, {"_id": 1}, session=session) is not None:
                return None
            if self.prepare is not None:
                await self.prepare(tenant, event, session)
            counts = await self.erase(tenant, list(data.lead_ids), session) if data.lead_ids else {}
            counts["outbox"] = counts.get("outbox", 0) + await scrub_outbox(self.outbox, tenant, data.lead_ids,
                                                                            session)
            await self.erasures.insert_one({"_id": record_id, "tenant_id": tenant, "event_id": event.id,
                                            "request_id": data.request_id, "reason": data.reason,
                                            "lead_ids": list(data.lead_ids), "counts": counts,
                                            "done_at": datetime.now(UTC)}, session=session)
            completed = PRIVACY_ERASURE_COMPLETED.event(
                ErasureCompleted(request_id=data.request_id, service=self.service, counts=counts),
                source=self.source, tenantid=tenant)
            await write_outbox(self.outbox, [outbox_row(PRIVACY_ERASURE_COMPLETED.name, completed,
                                                        data.request_id)], session)
            return counts

        try:
            counts = await in_transaction(self.client, work)
        except DuplicateKeyError:
            # Another consumer handled the same request meanwhile (a rebalance), or a document this one
            # inserted (a tombstone) appeared meanwhile: done in the first case, once more in the second.
            if await self.erasures.find_one({"_id": record_id}, {"_id": 1}) is not None:
                return
            counts = await in_transaction(self.client, work)
        if counts is not None:
            ERASURES.labels(self.service, data.reason).inc()
            for collection, count in counts.items():
                ERASED_DOCUMENTS.labels(self.service, collection).inc(count)
            log.info("erasure done", extra={"request_id": data.request_id, "leads": len(data.lead_ids),
                                            "counts": counts})



def erasure_group(group: str) -> str:
    """The consumer group of a service's erasure consumer: one of its own, so a slow topic never delays it."""
    return f"{group}.{PRIVACY_ERASURE_REQUESTED.name}"


def subscribe_erasures(router: KafkaRouter, settings: Any, group: str) -> None:
    """Add the erasure consumer to a service's router (the service lists PRIVACY_ERASURE_COMPLETED among the
    topics it produces); it finds its ErasureWorker in the broker's context
    under "erasure" (set by main.py). Acknowledged after the work; a poison request is dead-lettered."""
    topic = PRIVACY_ERASURE_REQUESTED

    @router.subscriber(topic.name, batch=True, max_records=20, title=f"{topic.name}:consume",
                       description=consumed_description(topic), **subscriber_options(settings, erasure_group(group)))
    async def on_erasure_requested(body: list[bytes], message: KafkaMessage,
                                   erasure: ErasureWorker = Context("erasure")) -> None:  # noqa: B008
        await consume_batch(topic, message.raw_message, erasure.dead_letters, erasure.handle)


def wire_erasure(base: Any, database: str, erase: Eraser, *, notify: Callable[[], None],
                 prepare: Preparer | None = None) -> ErasureWorker:
    """The service's ErasureWorker on its database (collections `erasures` and `outbox`), put where the
    subscriber finds it. `base`: the service's ServiceBase."""
    db = base.mongo[database]
    worker = ErasureWorker(client=base.mongo, erasures=db["erasures"], outbox=db["outbox"],
                           service=base.settings.service_name, source=base.settings.source, erase=erase,
                           dead_letters=base.dead_letters, notify=notify, prepare=prepare)
    base.broker.context.set_global("erasure", worker)
    return worker


async def nothing_personal(tenant: str, lead_ids: list[str], session: AsyncClientSession) -> dict[str, int]:
    """The erasure of a service that keeps nothing about a lead's person (its outbox is still scrubbed)."""
    return {}
