"""The allocator's outbox embedded in the lead documents: a claim (or any change of one lead) and the events
it causes are written by one atomic single-document update, with no transaction and no second write, and
a relay publishes them from there. The general outbox (a collection of rows) is the runtime's."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic_core import to_json

from telesales_runtime.outbox import OutboxRelay, RelayBatch

# Field names of the outbox embedded in the documents its events are about.
EMBEDDED_OUTBOX = "outbox"
EMBEDDED_OUTBOX_SINCE = "outbox_at"


def embedded_event(event_id: str, topic: str, payload: bytes, key: str | None) -> dict[str, Any]:
    """An event to `$push` onto a document's embedded outbox (with `$set` of `outbox_at`), in the same
    single-document update as the change it announces: atomic without a transaction."""
    return {"id": event_id, "topic": topic, "key": key, "payload": payload}


def _embedded_payload(entry: dict[str, Any]) -> bytes:
    # An event is stored either serialized (`payload`) or, when an update pipeline built it from the
    # document's own fields on the server, as the CloudEvent's fields (`envelope`).
    if "payload" in entry:
        return bytes(entry["payload"])
    return to_json(entry["envelope"])


def with_embedded_events(update: dict[str, Any] | list[dict[str, Any]], events: list[dict[str, Any]],
                         now: datetime) -> dict[str, Any] | list[dict[str, Any]]:
    """`update` (an update document or an update pipeline) extended to append `events` to the embedded
    outbox."""
    if not events:
        return update
    if isinstance(update, list):
        literal = [{key: {"$literal": value} for key, value in event.items()} for event in events]
        return [*update, {"$set": {EMBEDDED_OUTBOX: {"$concatArrays": [{"$ifNull": [f"${EMBEDDED_OUTBOX}", []]},
                                                                         literal]},
                                   EMBEDDED_OUTBOX_SINCE: now}}]
    merged = {op: dict(fields) for op, fields in update.items()}
    merged.setdefault("$push", {})[EMBEDDED_OUTBOX] = {"$each": events}
    merged.setdefault("$set", {})[EMBEDDED_OUTBOX_SINCE] = now
    return merged


class EmbeddedOutboxRelay(OutboxRelay):
    """Relays events kept inside the documents they are about (array `outbox`, flagged by `outbox_at`,
    which a sparse index finds). A change to one document and its event are then written by one atomic
    single-document update, with no transaction and no second write: the allocator's claims rely on it.
    A document's events go out in the order they were appended, keyed as given."""

    async def ensure_index(self) -> None:
        await self.outbox.create_index(EMBEDDED_OUTBOX_SINCE, sparse=True, name="embedded_outbox_pending")

    async def _next_batch(self) -> RelayBatch:
        docs = await self.outbox.find({EMBEDDED_OUTBOX_SINCE: {"$exists": True}},
                                      {EMBEDDED_OUTBOX: 1, EMBEDDED_OUTBOX_SINCE: 1}, sort=[(EMBEDDED_OUTBOX_SINCE, 1)],
                                      limit=max(1, self.batch_size // 4)).to_list()
        events: list[tuple[str, str | None, bytes]] = []
        acks: list[tuple[Any, list[str]]] = []
        for doc in docs:
            queued = doc.get(EMBEDDED_OUTBOX) or []
            events.extend((e["topic"], e.get("key"), _embedded_payload(e)) for e in queued)
            acks.append((doc["_id"], [e["id"] for e in queued]))
        # `outbox_at` moves to the last event appended to a document: the age is that of the document whose
        # events were appended longest ago, a lower bound of the oldest event's.
        return RelayBatch(events, acks, full=len(docs) == max(1, self.batch_size // 4),
                      oldest=docs[0].get(EMBEDDED_OUTBOX_SINCE) if docs else None)

    async def _acknowledge(self, batch: RelayBatch) -> None:
        # Remove exactly the events sent: one appended meanwhile stays, and keeps the document flagged. One
        # statement for the whole batch (event ids are unique, so each document loses only its own sent
        # events): a claim's event then costs the server part of one update, not a statement of its own.
        if not batch.acks:
            return
        sent = [event_id for _, ids in batch.acks for event_id in ids]
        await self._acks.update_many({"_id": {"$in": [doc_id for doc_id, _ in batch.acks]}}, [
            {"$set": {EMBEDDED_OUTBOX: {"$filter": {"input": f"${EMBEDDED_OUTBOX}",
                                                      "cond": {"$not": [{"$in": ["$$this.id", {"$literal": sent}]}]}}}}},
            {"$set": {EMBEDDED_OUTBOX_SINCE: {"$cond": [{"$eq": [{"$size": f"${EMBEDDED_OUTBOX}"}, 0]},
                                                        "$$REMOVE", f"${EMBEDDED_OUTBOX_SINCE}"]}}},
        ])

    async def _backlog(self) -> int:
        return await self.outbox.count_documents({EMBEDDED_OUTBOX_SINCE: {"$exists": True}})
