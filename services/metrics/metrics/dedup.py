"""The event ids metrics has counted, as 64-bit digests kept in memory for the inbox retention: a repeat of
an id (a relay publishing an event twice, a replayed dead letter) is recognised and not counted again.

Redeliveries after a crash or a take-over never get here: the consumer resumes from the offsets stored with
the counts. What is left is the same event published twice, which this window catches for
`METRICS_INBOX_RETENTION_DAYS`. Digests added since the last day change are in a set; older ones are sealed
into a sorted numpy array per day (8 bytes a digest), dropped when their day leaves the retention. Each
checkpoint stores the digests it counted, packed, in one document (store.MetricsStore.write), and a replica
taking over loads them back."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

DIGEST_DTYPE = np.dtype("<u8")


class Digests:
    """64 bits naming an event of a tenant: the first 8 bytes of the 96-bit blake2b digest of `tenant|event id`
    (the digest earlier versions kept). The hash of each tenant's prefix is kept and copied: a consumer
    digests every event."""

    def __init__(self) -> None:
        self._prefixes: dict[str, Any] = {}

    def __call__(self, tenant: str, event_id: str) -> int:
        prefix = self._prefixes.get(tenant)
        if prefix is None:
            prefix = self._prefixes[tenant] = hashlib.blake2b(f"{tenant}|".encode(), digest_size=12)
        h = prefix.copy()
        h.update(event_id.encode())
        return int.from_bytes(h.digest()[:8], "little")


event_digest = Digests()


def pack(digests: Iterable[int]) -> bytes:
    return np.fromiter(digests, dtype=DIGEST_DTYPE).tobytes()


def unpack(packed: bytes) -> np.ndarray:
    return np.frombuffer(packed, dtype=DIGEST_DTYPE)


def legacy_digest(digest96: bytes) -> int:
    """A 96-bit digest stored by an earlier version (inbox `ids`) as the 64-bit digest of this one."""
    return int.from_bytes(bytes(digest96)[:8], "little")


class DigestWindow:
    def __init__(self, retention_days: int) -> None:
        self.retention_days = retention_days
        self.recent: set[int] = set()
        self.recent_day = datetime.now(UTC).date()
        self.sealed: dict[date, np.ndarray] = {}  # day -> sorted unique digests counted that day

    def __len__(self) -> int:
        return len(self.recent) + sum(len(a) for a in self.sealed.values())

    def clear(self) -> None:
        self.recent.clear()
        self.sealed.clear()
        self.recent_day = datetime.now(UTC).date()

    def load(self, day: date, digests: np.ndarray) -> None:
        """Digests stored on `day` (a checkpoint's document), loaded when a replica takes over."""
        if day >= self.recent_day:
            self.recent.update(digests.tolist())
        else:
            self._seal(day, digests)

    def _seal(self, day: date, digests: np.ndarray) -> None:
        if not len(digests):
            return
        known = self.sealed.get(day)
        self.sealed[day] = np.unique(digests if known is None else np.concatenate((known, digests)))

    def new(self, digests: list[int]) -> list[bool] | None:
        """For each digest, whether it is new: not in the window, and not earlier in `digests` (it is added,
        so the next call knows it). None when all are new (the usual case, found with set operations)."""
        self._roll()
        recent = self.recent
        batch = set(digests)
        if not self.sealed and len(batch) == len(digests) and recent.isdisjoint(batch):
            recent |= batch
            return None
        fresh = [d not in recent for d in digests]
        if self.sealed and any(fresh):
            candidates = np.fromiter((d for d, f in zip(digests, fresh, strict=True) if f), dtype=DIGEST_DTYPE)
            known = np.zeros(len(candidates), dtype=bool)
            for day_digests in self.sealed.values():
                at = np.searchsorted(day_digests, candidates)
                at[at == len(day_digests)] = 0
                known |= day_digests[at] == candidates
            known_iter = iter(known.tolist())
            fresh = [f and not next(known_iter) for f in fresh]
        out = []
        for digest, is_fresh in zip(digests, fresh, strict=True):
            is_fresh = is_fresh and digest not in recent  # a repeat within `digests`
            out.append(is_fresh)
            if is_fresh:
                recent.add(digest)
        return out

    def _roll(self) -> None:
        """At a day change: seal the set into the day it was filled on, and drop days past the retention."""
        today = datetime.now(UTC).date()
        if today == self.recent_day:
            return
        if self.recent:
            self._seal(self.recent_day, np.fromiter(self.recent, dtype=DIGEST_DTYPE))
            self.recent = set()
        self.recent_day = today
        oldest = today - timedelta(days=self.retention_days)
        for day in [d for d in self.sealed if d < oldest]:
            del self.sealed[day]
