"""Garbage-collector settings of a service process.

CPython's cyclic collector runs a young-generation pass every 700 container allocations by default, and
each pass walks every young object still alive. A consumer holding a batch of tens of thousands of parsed
events keeps them all alive, so the passes cost more than the parsing itself: in the metrics benchmark,
parsing an event took 19 µs with the default threshold and 7 µs with 50,000. Almost nothing here builds
reference cycles (reference counting frees the rest at once), so collecting less often costs little memory.
"""

from __future__ import annotations

import gc
import logging
import time

log = logging.getLogger(__name__)


def tune_garbage_collector(young_threshold: int) -> None:
    """Collect the young generation every `young_threshold` allocations (0 leaves Python's default)."""
    if young_threshold <= 0:
        return
    _, middle, old = gc.get_threshold()
    gc.set_threshold(young_threshold, middle, old)
    log.debug("garbage collector tuned", extra={"young_threshold": young_threshold})


class LongLivedObjects:
    """Moves every object alive now out of the cyclic collector's reach (gc.freeze), for a process that holds
    a large state of its own between batches (metrics: the leads, agents and counts in memory, and the
    checkpoint being written). A collection walks every tracked object of its generation; once frozen, these
    are never walked again, and they are still freed by reference counting when let go. Reference cycles
    frozen with them would be kept, so every `full_collection_seconds` everything is thawed and collected
    once in full first (a pause of a fraction of a second)."""

    def __init__(self, full_collection_seconds: float = 600.0) -> None:
        self.full_collection_seconds = full_collection_seconds
        self._last_full = time.monotonic()

    def freeze(self) -> None:
        now = time.monotonic()
        if now - self._last_full >= self.full_collection_seconds:
            gc.unfreeze()
            started = time.monotonic()
            collected = gc.collect()
            log.info("full garbage collection", extra={"collected": collected,
                                                       "seconds": round(time.monotonic() - started, 3)})
            self._last_full = now
        gc.freeze()
