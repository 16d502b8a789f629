"""A small in-process cache with expiry, for configuration that changes rarely but is read on hot paths."""

from __future__ import annotations

import time
from typing import Any


class TtlCache:
    """Per-key values kept for a few seconds."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._values: dict[Any, tuple[float, Any]] = {}

    def get(self, key: Any) -> Any | None:
        hit = self._values.get(key)
        if hit is None or hit[0] < time.monotonic():
            return None
        return hit[1]

    def put(self, key: Any, value: Any) -> None:
        self._values[key] = (time.monotonic() + self.seconds, value)

    def drop(self, key: Any) -> None:
        self._values.pop(key, None)
