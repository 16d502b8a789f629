"""Replay dead letters: read `platform.dead-lettered.v1`, pick dead letters by original topic, service,
consumer group, error type, tenant and time, list them (the default: a dry run) or, with `--apply`,
publish each one's original payload bytes, key and headers again to its original topic.

    python -m telesales_tools.replay                                  # list every dead letter
    python -m telesales_tools.replay --topic leads.received.v1 --error-type processing_error \\
        --since 2026-11-24T00:00:00+08:00                               # list some
    python -m telesales_tools.replay --topic leads.received.v1 --since 2026-11-24T00:00:00+08:00 --apply

Replaying is safe to repeat: every consumer on the platform records the event ids it processed and ignores
an id it has seen (messages that never parsed have no id and fail again the same way: they are dead-lettered
again, nothing else happens). The broker address and its security come from the same variables as the
services' (TELESALES_KAFKA_BOOTSTRAP, TELESALES_KAFKA_SECURITY_PROTOCOL, ...). The dead-letter topic is
read without a consumer group: reading it changes nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pydantic import ValidationError

from telesales_contracts import WrongEventType
from telesales_contracts.topics import DEAD_LETTERS
from telesales_runtime.kafka import PRODUCER_OPTIONS, client_security, topic_partitions
from telesales_runtime.masking import mask_phones
from telesales_runtime.settings import ServiceSettings

REPLAYED_FROM_HEADER = "telesales-replayed-from"


@dataclass(frozen=True)
class Selection:
    """Which dead letters to take (every given condition must hold)."""

    original_topic: str | None = None
    service: str | None = None
    consumer_group: str | None = None
    error_type: str | None = None
    tenant: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    from_offset: int | None = None  # in every partition of the dead-letter topic
    partition: int | None = None

    def takes(self, letter: Letter) -> bool:
        data = letter.data
        return ((self.original_topic is None or data["original_topic"] == self.original_topic)
                and (self.service is None or data["service"] == self.service)
                and (self.consumer_group is None or data["consumer_group"] == self.consumer_group)
                and (self.error_type is None or data["error_type"] == self.error_type)
                and (self.tenant is None or letter.tenant == self.tenant)
                and (self.since is None or letter.time >= self.since)
                and (self.until is None or letter.time < self.until))


@dataclass(frozen=True)
class Letter:
    """One dead letter as read from the dead-letter topic."""

    partition: int
    offset: int
    time: datetime  # when it was dead-lettered
    tenant: str
    data: dict[str, Any]

    @property
    def where(self) -> str:
        return f"{DEAD_LETTERS.name}/{self.partition}/{self.offset}"

    @property
    def replayable(self) -> bool:
        # A dead letter about a dead letter (written before the runtime stopped making them) has nothing to
        # send back: its original is itself a dead letter, still on the topic.
        return self.data["original_topic"] != DEAD_LETTERS.name

    def payload(self) -> bytes:
        return base64.b64decode(self.data["payload_b64"])

    def key(self) -> bytes | None:
        key = self.data.get("key_b64")
        return None if key is None else base64.b64decode(key)

    def headers(self) -> list[tuple[str, bytes]]:
        """The original headers, and where the message was replayed from (consumers ignore that one)."""
        out = [(name, base64.b64decode(value)) for name, value in (self.data.get("headers") or {}).items()
               if name != REPLAYED_FROM_HEADER]
        return [*out, (REPLAYED_FROM_HEADER, self.where.encode())]

    def describe(self) -> str:
        data = self.data
        error = mask_phones(" ".join(str(data.get("error", "")).split()))
        original = f"{data['original_topic']}/{data.get('partition')}/{data.get('offset')}"
        return (f"{self.where}  {self.time.isoformat(timespec='seconds')}  tenant={self.tenant}  "
                f"service={data['service']}  group={data['consumer_group']}  from={original}  "
                f"{data['error_type']}: {error[:160]}")


@dataclass
class Outcome:
    selected: list[Letter] = field(default_factory=list)
    skipped_unreadable: list[str] = field(default_factory=list)  # dead-letter records that are not dead letters
    not_replayable: list[Letter] = field(default_factory=list)
    republished: int = 0


def parse_letter(record: Any) -> Letter | None:
    try:
        event = DEAD_LETTERS.parse(record.value or b"")
    except (ValidationError, WrongEventType, ValueError):
        return None
    return Letter(record.partition, record.offset, event.time.astimezone(UTC), event.tenantid,
                  event.data.model_dump(mode="json"))


async def read_dead_letters(consumer: AIOKafkaConsumer, selection: Selection, *, idle_ms: int = 1000,
                            timeout: float = 120.0) -> Outcome:
    """Every dead letter on the topic (from the selection's offset on) that the selection takes, read to the
    end as it was when reading began."""
    tps = await topic_partitions(consumer, [DEAD_LETTERS.name])
    if selection.partition is not None:
        tps = [tp for tp in tps if tp.partition == selection.partition]
    outcome = Outcome()
    if not tps:
        return outcome
    consumer.assign(tps)
    ends = await consumer.end_offsets(tps)
    # From the log start at least: retention and erasures (DeleteRecords) move it, and an offset before it
    # would send the consumer to its reset position (the end, by default) and read nothing.
    starts = await consumer.beginning_offsets(tps)
    for tp in tps:
        consumer.seek(tp, max(selection.from_offset or 0, starts[tp]))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        batch = await consumer.getmany(timeout_ms=idle_ms, max_records=10_000)
        for records in batch.values():
            for record in records:
                letter = parse_letter(record)
                if letter is None:
                    outcome.skipped_unreadable.append(f"{DEAD_LETTERS.name}/{record.partition}/{record.offset}")
                elif selection.takes(letter):
                    (outcome.selected if letter.replayable else outcome.not_replayable).append(letter)
        if all([await consumer.position(tp) >= ends[tp] for tp in tps]):
            break
        if loop.time() > deadline:
            raise TimeoutError(f"{DEAD_LETTERS.name} was not read to its end within {timeout:.0f}s")
    outcome.selected.sort(key=lambda letter: (letter.time, letter.partition, letter.offset))
    return outcome


async def republish(producer: AIOKafkaProducer, letters: Sequence[Letter]) -> int:
    """Send every letter's original message back to its original topic; returns once the broker has all."""
    pending = [await producer.send(letter.data["original_topic"], letter.payload(), key=letter.key(),
                                   headers=letter.headers()) for letter in letters]
    await asyncio.gather(*pending)
    return len(pending)


async def replay(settings: ServiceSettings, selection: Selection, *, apply: bool, timeout: float = 120.0) -> Outcome:
    security = client_security(settings)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False,
                                client_id=f"{settings.kafka_client_id or 'telesales'}-replay",
                                max_partition_fetch_bytes=8 * 1024 * 1024, **security)
    await consumer.start()
    try:
        outcome = await read_dead_letters(consumer, selection, timeout=timeout)
    finally:
        await consumer.stop()
    if apply and outcome.selected:
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap,
                                    client_id=f"{settings.kafka_client_id or 'telesales'}-replay",
                                    **PRODUCER_OPTIONS, **security)
        await producer.start()
        try:
            outcome.republished = await republish(producer, outcome.selected)
        finally:
            await producer.stop()
    return outcome


def _time(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {value!r} (e.g. 2026-11-24T09:30:00+08:00)") from error
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give the time zone: {value!r} (e.g. 2026-11-24T09:30:00+08:00)")
    return moment.astimezone(UTC)


def _offset(value: str) -> int:
    if not value.isdigit():
        raise argparse.ArgumentTypeError(f"not an offset: {value!r}")
    return int(value)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m telesales_tools.replay", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--topic", dest="original_topic", help="only dead letters of messages from this topic")
    p.add_argument("--service", help="only those this service dead-lettered (e.g. lead-intake)")
    p.add_argument("--group", dest="consumer_group", help="only those of this consumer group")
    p.add_argument("--error-type", help="only this error type (json_error, schema_error, processing_error, ...)")
    p.add_argument("--tenant", help="only this tenant's")
    p.add_argument("--since", type=_time, help="only those dead-lettered at or after this time (ISO 8601 with zone)")
    p.add_argument("--until", type=_time, help="only those dead-lettered before this time")
    p.add_argument("--from-offset", type=_offset, help="start at this offset of the dead-letter topic (default: 0)")
    p.add_argument("--partition", type=_offset, help="only this partition of the dead-letter topic")
    p.add_argument("--apply", action="store_true", help="republish them (without it: only list them)")
    p.add_argument("--json", action="store_true", help="list as JSON lines (the whole dead letter)")
    p.add_argument("--bootstrap", help="broker address (default: TELESALES_KAFKA_BOOTSTRAP)")
    p.add_argument("--timeout", type=float, default=120.0, help="longest time to read the topic (seconds)")
    return p


def run(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    args = parser().parse_args(argv)
    overrides = {"kafka_bootstrap": args.bootstrap} if args.bootstrap else {}
    try:
        settings = ServiceSettings(service_name="replay", **overrides)
    except ValidationError as error:
        print(f"replay: bad settings: {error}", file=sys.stderr)
        return 2
    selection = Selection(original_topic=args.original_topic, service=args.service,
                          consumer_group=args.consumer_group, error_type=args.error_type, tenant=args.tenant,
                          since=args.since, until=args.until, from_offset=args.from_offset, partition=args.partition)
    try:
        outcome = asyncio.run(replay(settings, selection, apply=args.apply, timeout=args.timeout))
    except Exception as error:  # the broker does not answer, refuses our credentials, ...
        print(f"replay: {type(error).__name__}: {error} (broker {settings.kafka_bootstrap})", file=sys.stderr)
        return 1
    for letter in outcome.selected:
        if args.json:
            print(json.dumps({"at": letter.where, "time": letter.time.isoformat(), "tenant": letter.tenant,
                              **letter.data}, ensure_ascii=False), file=out)
        else:
            print(letter.describe(), file=out)
    for letter in outcome.not_replayable:
        print(f"not replayable (a dead letter of a dead letter): {letter.where}", file=out)
    for where in outcome.skipped_unreadable:
        print(f"unreadable (not a dead letter): {where}", file=out)
    if args.apply:
        print(f"-- republished {outcome.republished} message(s) to their original topics", file=out)
    else:
        print(f"-- {len(outcome.selected)} dead letter(s) selected; dry run, nothing sent (add --apply to "
              "republish them)", file=out)
    return 0


def main() -> None:
    raise SystemExit(run())


if __name__ == "__main__":
    main()
