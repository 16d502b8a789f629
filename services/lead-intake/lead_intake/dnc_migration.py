"""One-time migration of leads.do-not-call.v1 to blind-index keys: `python -m lead_intake.dnc_migration`
(with lead-intake's settings, e.g. LEAD_INTAKE_KAFKA_BOOTSTRAP and the PII keyring; `--tenant` to migrate one
tenant, `--dry-run` to only count).

lead-intake used to key the compacted topic by `<tenant>/<E.164>` with the number in the value. Compaction keeps
the last record of every key for ever, so those numbers would stay on the broker however the producer changed.
The migration reads the topic to its end and, for every key that names a number and still has a value:
republishes the number's last word as it is published now (key `<tenant>/<blind index>`, the number masked),
unless a later change of the number is there already, and then writes a tombstone (a null value) for the old key,
so compaction removes every record of it (after `delete.retention.ms`, the tombstone too). Consumers skip
tombstones (telesales_runtime.consumer); an old record they meet meanwhile is still read. Run it once the
consumers and lead-intake run the version that publishes blind indexes; run again, it finds nothing to do (a
republished event keeps an id derived from the old one, so a consumer takes it once however often it runs)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from telesales_contracts import CLOUDEVENTS_CONTENT_TYPE
from telesales_contracts.activity import DoNotCallChanged, DoNotCallSource
from telesales_contracts.topics import LEADS_DO_NOT_CALL
from telesales_runtime.kafka import client_security, topic_partitions
from telesales_runtime.masking import mask_phone, mask_phones

from .domain import do_not_call_key

_REPUBLISHED_IDS = uuid.UUID("0c6f3f0e-4b8f-4f7e-9d0a-5a8f2e6d1c37")  # namespace of the republished events' ids
_IDLE_ROUNDS = 30  # one-second polls without a record before the end offsets: the broker is not answering
Index = Callable[[str, str], str]  # (tenant, E.164) -> the number's blind index


@dataclass(frozen=True)
class Record:
    """What the migration reads of a record: its key, its value (None: a tombstone) and where it is."""

    key: str
    value: bytes | None
    partition: int
    offset: int


@dataclass
class Plan:
    """What the migration writes: events to republish (key, payload) and old keys to tombstone."""

    republish: list[tuple[str, bytes]] = field(default_factory=list)
    tombstones: list[str] = field(default_factory=list)
    superseded: int = 0  # old keys whose number has a later change under its blind index key already
    unreadable: int = 0  # old keys whose last value was no event (tombstoned all the same)


def _old_number(key: str) -> tuple[str, str] | None:
    """(tenant, number) of a key from before (`<tenant>/<E.164>`); None for a blind index key."""
    tenant, _, rest = key.rpartition("/")
    return (tenant, rest) if tenant and rest.startswith("+") and rest[1:].isdigit() else None


def _changed_at(value: bytes | None) -> datetime | None:
    try:
        return datetime.fromisoformat(json.loads(value or b"")["data"]["changed_at"])
    except (ValueError, KeyError, TypeError):
        return None


def _republished(tenant: str, phone: str, value: bytes, index: Index) -> tuple[str, bytes]:
    """The old record's event as lead-intake publishes it now (same time, source and change), keyed by index."""
    old = json.loads(value)
    data = old["data"]
    reason = data.get("reason")
    change = DoNotCallChanged(phone_bidx=index(tenant, phone), phone_masked=mask_phone(phone), listed=data["listed"],
                              source=DoNotCallSource(data["source"]), reason=mask_phones(reason) if reason else None,
                              lead_id=data.get("lead_id"), changed_at=data["changed_at"])
    event = LEADS_DO_NOT_CALL.event(change, source=old.get("source") or "/lead-intake", tenantid=tenant,
                                    id=str(uuid.uuid5(_REPUBLISHED_IDS, f"{tenant}|{old.get('id')}")),
                                    subject=change.phone_bidx, **({"time": old["time"]} if old.get("time") else {}))
    return do_not_call_key(tenant, change.phone_bidx), event.to_json_bytes()


def _later(current: Record | None, old: Record) -> bool:
    """Whether the number's record under its blind index key is a later change than the old key's."""
    if current is None or current.value is None:
        return False
    now, before = _changed_at(current.value), _changed_at(old.value)
    return now is not None and (before is None or now >= before)


def plan(records: Iterable[Record], index: Index, tenants: set[str] | None = None) -> Plan:
    """What to write, from the topic's records in offset order per partition (pure: no I/O)."""
    last: dict[str, Record] = {}
    for record in records:
        last[record.key] = record  # a key lives on one partition: its last record is its word
    out = Plan()
    for key, record in last.items():
        named = _old_number(key)
        if named is None or record.value is None or (tenants is not None and named[0] not in tenants):
            continue
        tenant, phone = named
        try:
            new_key, payload = _republished(tenant, phone, record.value, index)
        except (ValueError, KeyError, TypeError):
            out.unreadable += 1
            out.tombstones.append(key)
            continue
        if _later(last.get(new_key), record):
            out.superseded += 1
        else:
            out.republish.append((new_key, payload))
        out.tombstones.append(key)
    return out


async def read_topic(bootstrap: str, security: dict[str, Any] | None = None) -> list[Record]:
    """Every record of leads.do-not-call.v1 up to its end now (no consumer group: nothing is committed)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **(security or {}))
    await consumer.start()
    try:
        partitions = await topic_partitions(consumer, [LEADS_DO_NOT_CALL.name])
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = {tp: end for tp, end in (await consumer.end_offsets(partitions)).items() if end > 0}
        records: list[Record] = []
        idle = 0
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            batch = await consumer.getmany(*ends, timeout_ms=1000)
            idle = 0 if batch else idle + 1
            if idle >= _IDLE_ROUNDS:
                raise TimeoutError(f"{LEADS_DO_NOT_CALL.name}: no records for {idle} s before its end offsets")
            records += [Record(r.key.decode() if r.key else "", r.value, r.partition, r.offset)
                        for tp, rs in batch.items() for r in rs if r.offset < ends[tp]]
        return sorted(records, key=lambda r: (r.partition, r.offset))
    finally:
        await consumer.stop()


async def write(bootstrap: str, migration: Plan, security: dict[str, Any] | None = None) -> None:
    """The republished events first (each number's word is on its new key before its old one goes), then the
    tombstones; every write confirmed by the broker (acks=all)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, **(security or {}))
    await producer.start()
    try:
        headers = [("content-type", CLOUDEVENTS_CONTENT_TYPE.encode())]
        sent = [await producer.send(LEADS_DO_NOT_CALL.name, payload, key=key.encode(), headers=headers)
                for key, payload in migration.republish]
        await asyncio.gather(*sent)
        gone = [await producer.send(LEADS_DO_NOT_CALL.name, None, key=key.encode()) for key in migration.tombstones]
        await asyncio.gather(*gone)
    finally:
        await producer.stop()


async def migrate(bootstrap: str, index: Index, *, tenants: set[str] | None = None, dry_run: bool = False,
                  security: dict[str, Any] | None = None) -> dict[str, int]:
    """Read, plan and (unless `dry_run`) write; the counts."""
    records = await read_topic(bootstrap, security)
    migration = plan(records, index, tenants)
    if not dry_run:
        await write(bootstrap, migration, security)
    return {"records_read": len(records), "republished": len(migration.republish),
            "tombstoned": len(migration.tombstones), "superseded": migration.superseded,
            "unreadable": migration.unreadable}


def main(argv: list[str]) -> int:
    from .settings import LeadIntakeSettings

    parser = argparse.ArgumentParser(prog="python -m lead_intake.dnc_migration", description=__doc__.split("\n")[0])
    parser.add_argument("--tenant", action="append", help="only this tenant's keys (repeatable)")
    parser.add_argument("--dry-run", action="store_true", help="count what would be written, write nothing")
    args = parser.parse_args(argv)
    settings = LeadIntakeSettings()
    keyring = settings.pii_keyring_loaded()
    counts = asyncio.run(migrate(settings.kafka_bootstrap, lambda t, p: keyring.blind_index(t, "phone", p),
                                 tenants=set(args.tenant) if args.tenant else None, dry_run=args.dry_run,
                                 security=client_security(settings)))
    print(json.dumps(counts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
