"""Print the events on a topic, from the beginning, without joining a consumer group.

    uv run python deploy/local/consume.py leads.qualified.v1
    uv run python deploy/local/consume.py platform.dead-lettered.v1 --last 1
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os

from aiokafka import AIOKafkaConsumer, TopicPartition


async def consume(topic: str, bootstrap: str, last: int | None, timeout: float) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = await consumer._client.fetch_all_metadata()  # noqa: SLF001 - no public way without a group
        ids = partitions.partitions_for_topic(topic)
        if not ids:
            print(f"topic {topic} does not exist (yet)")
            return 1
        tps = [TopicPartition(topic, p) for p in sorted(ids)]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        for tp in tps:
            start = max(0, ends[tp] - last) if last else 0
            consumer.seek(tp, start)
        events = []
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            positions = [await consumer.position(tp) for tp in tps]
            if all(pos >= ends[tp] for pos, tp in zip(positions, tps, strict=True)):
                break
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                events.extend(records)
        for record in sorted(events, key=lambda r: r.timestamp):
            try:
                print(json.dumps(json.loads(record.value), ensure_ascii=False, indent=2))
            except ValueError:
                print(record.value)
        print(f"-- {len(events)} event(s) on {topic}")
        return 0
    finally:
        await consumer.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("topic")
    parser.add_argument("--last", type=int, help="only the last N events of each partition")
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--bootstrap", default=os.environ.get("TELESALES_KAFKA_BOOTSTRAP", "127.0.0.1:19092"))
    args = parser.parse_args()
    return asyncio.run(consume(args.topic, args.bootstrap, args.last, args.timeout))


if __name__ == "__main__":
    raise SystemExit(main())
