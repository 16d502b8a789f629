"""Publish a CloudEvent from a JSON file (or stdin) to a topic, as an outside system would.

    uv run python deploy/local/publish.py leads.received.v1 examples/lead-received.json
    uv run python deploy/local/publish.py leads.received.v1 examples/lead-received.json --new-id

--new-id gives the event a fresh id (the same lead again, e.g. to see it merged); without it a second
publish of the same file is a redelivery, which the platform ignores. --raw sends the file's bytes as
they are (to see what happens to garbage).
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


async def publish(topic: str, payload: bytes, key: bytes | None, bootstrap: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        meta = await producer.send_and_wait(topic, payload, key=key,
                                            headers=[("content-type", b"application/cloudevents+json")])
    finally:
        await producer.stop()
    print(f"published to {meta.topic} partition {meta.partition} offset {meta.offset}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("topic")
    parser.add_argument("file", help="JSON file, or - for stdin")
    parser.add_argument("--new-id", action="store_true", help="replace the event id with a fresh one")
    parser.add_argument("--raw", action="store_true", help="send the bytes unchanged, even if not JSON")
    parser.add_argument("--key", help="message key (default: the lead's phone, if any)")
    parser.add_argument("--bootstrap", default=os.environ.get("TELESALES_KAFKA_BOOTSTRAP", "127.0.0.1:19092"))
    args = parser.parse_args()
    raw = sys.stdin.buffer.read() if args.file == "-" else open(args.file, "rb").read()
    key = args.key.encode() if args.key else None
    if not args.raw:
        event = json.loads(raw)
        if args.new_id:
            event["id"] = str(uuid.uuid4())
            event["time"] = datetime.now(UTC).isoformat()
        if key is None and isinstance(event.get("data"), dict) and event["data"].get("phone"):
            key = str(event["data"]["phone"]).encode()
        raw = json.dumps(event, ensure_ascii=False).encode()
        print(f"event id {event.get('id')}")
    asyncio.run(publish(args.topic, raw, key, args.bootstrap))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
