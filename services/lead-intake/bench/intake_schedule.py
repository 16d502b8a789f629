"""The fixed-schedule phase of `make bench-intake` (issue 20): leads published at a fixed rate (half of the
saturation the same run measured), never all at once, so the latency is the service's and not a queue's.

  send_on_schedule  lead i is due at start + i / rate; every tick the sender hands every due lead to the
                    producer and notes the moment (the lead's timestamp). The schedule does not slip when
                    the sender is late: late leads go out at once and their lateness is reported.
  LATENCY_READER    a reader of the output that asks for every record as soon as the broker has it (the
                    throughput phase's reader waits for a megabyte or half a second, which would be the
                    latency measured).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from telesales_testkit.bench import BenchError

TICK_S = 0.002
# Small batches, sent at once: an outside system publishing one lead at a time (the load producer's 10 ms
# linger would be part of the latency measured).
SCHEDULE_PRODUCER_OPTIONS: dict[str, Any] = {"acks": 1, "linger_ms": 0, "max_batch_size": 64 * 1024,
                                             "enable_idempotence": False}
LATENCY_READER_OPTIONS: dict[str, Any] = {"enable_auto_commit": False, "fetch_min_bytes": 1, "fetch_max_wait_ms": 20,
                                          "max_partition_fetch_bytes": 8 * 1024 * 1024}


@dataclass
class Scheduled:
    """When each lead was handed to the producer, and how late against its slot."""

    rate_per_s: float
    first_send: float
    last_send: float
    send_times: list[float]
    late_p99_ms: float
    late_max_ms: float


async def send_on_schedule(producer: Any, topic: str, payloads: Sequence[bytes], keys: Sequence[bytes],
                           rate_per_s: float) -> Scheduled:
    """Publish lead i at start + i / rate (see the module); waits until the broker acknowledged all."""
    if rate_per_s <= 0:
        raise BenchError(f"fixed schedule: a rate of {rate_per_s} leads/s")
    futures: list[Any] = []
    send_times: list[float] = []
    lateness: list[float] = []
    start = time.perf_counter()
    i, n = 0, len(payloads)
    while i < n:
        now = time.perf_counter()
        due = min(n, int((now - start) * rate_per_s) + 1)
        while i < due:
            sent = time.perf_counter()
            send_times.append(sent)
            lateness.append(max(0.0, sent - (start + i / rate_per_s)))
            futures.append(await producer.send(topic, payloads[i], key=keys[i]))
            i += 1
        if i < n:
            await asyncio.sleep(max(0.0, min(TICK_S, start + i / rate_per_s - time.perf_counter())))
    await asyncio.gather(*futures)
    lateness.sort()
    return Scheduled(rate_per_s, send_times[0], send_times[-1], send_times,
                     1000 * lateness[min(n - 1, int(0.99 * n))], 1000 * lateness[-1])
