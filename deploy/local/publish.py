"""Publish a CloudEvent from a JSON file (or stdin) to a topic, as an outside system would.

    uv run python deploy/local/publish.py leads.received.v1 examples/lead-received.json
    uv run python deploy/local/publish.py leads.received.v1 examples/lead-received.json --new-id

--new-id gives the event a fresh id (the same lead again, e.g. to see it merged); without it a second
publish of the same file is a redelivery, which the platform ignores. --raw sends the file's bytes as
they are (to see what happens to garbage). --binary sends the event in the CloudEvents Kafka binding's
binary content mode: every attribute as a `ce_<name>` header, datacontenttype as `content-type`, the data
as the value.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer

from telesales_contracts.leads import EXTERNAL_ID_NAMES

STRUCTURED = [("content-type", b"application/cloudevents+json")]


def binary_mode(event: dict) -> tuple[bytes, list[tuple[str, bytes]]]:
    """(value, headers) of the event in binary content mode (header values are UTF-8 text)."""
    headers = [("content-type", str(event.get("datacontenttype", "application/json")).encode())]
    for name, value in event.items():
        if name not in ("data", "datacontenttype"):
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            headers.append((f"ce_{name}", text.encode()))
    return json.dumps(event.get("data"), ensure_ascii=False).encode(), headers


async def publish(topic: str, payload: bytes, key: bytes | None, bootstrap: str,
                  headers: list[tuple[str, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        meta = await producer.send_and_wait(topic, payload, key=key, headers=headers)
    finally:
        await producer.stop()
    print(f"published to {meta.topic} partition {meta.partition} offset {meta.offset}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("topic")
    parser.add_argument("file", help="JSON file, or - for stdin")
    parser.add_argument("--new-id", action="store_true", help="replace the event id with a fresh one")
    parser.add_argument("--raw", action="store_true", help="send the bytes unchanged, even if not JSON")
    parser.add_argument("--binary", action="store_true", help="binary content mode: attributes as ce_ headers")
    parser.add_argument("--key", help="message key (default: the source's own id of the lead, else the event id; "
                                      "never a phone number or another personal value)")
    parser.add_argument("--bootstrap", default=os.environ.get("TELESALES_KAFKA_BOOTSTRAP", "127.0.0.1:19092"))
    args = parser.parse_args()
    raw = sys.stdin.buffer.read() if args.file == "-" else open(args.file, "rb").read()
    key = args.key.encode() if args.key else None
    headers = STRUCTURED
    if not args.raw:
        event = json.loads(raw)
        if args.new_id:
            event["id"] = str(uuid.uuid4())
            event["time"] = datetime.now(UTC).isoformat()
        data = event.get("data") if isinstance(event.get("data"), dict) else {}
        # the source's own reference of the lead (README "Send a lead"): a key is stored and shown unencrypted
        names = ("external_id", *EXTERNAL_ID_NAMES, "lead_id")
        reference = next((data[k] for name in names for k in data if k.lower() == name and data[k]), None)
        if key is None and (reference or event.get("id")):
            key = str(reference or event["id"]).encode()
        raw = json.dumps(event, ensure_ascii=False).encode()
        if args.binary:
            raw, headers = binary_mode(event)
        print(f"event id {event.get('id')}")
    asyncio.run(publish(args.topic, raw, key, args.bootstrap, headers))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
