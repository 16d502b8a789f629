"""The window of event ids counted (dedup.py): a repeat is recognised within a batch, across batches, after
the day it was counted on was sealed, and after a reload; days past the retention are forgotten."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from metrics import dedup
from metrics.dedup import Digests, DigestWindow, event_digest, legacy_digest, pack, unpack


def test_the_fast_digest_is_the_digest() -> None:
    """The kept-prefix digest equals its definition: the first 8 bytes of blake2b-96 of `tenant|event id`."""
    digest = Digests()
    for tenant, event_id in [("acme", "e-1"), ("acme", "e-2"), ("globex", "e-1"), ("t", "客户-1"), ("t", ""), ("acme", "e-1")]:
        defined = hashlib.blake2b(f"{tenant}|{event_id}".encode(), digest_size=12).digest()[:8]
        assert digest(tenant, event_id) == int.from_bytes(defined, "little")
    assert digest("acme", "e-1") != digest("globex", "e-1")


def test_an_earlier_versions_digest_reads_as_the_same_event() -> None:
    """Earlier versions kept 96-bit digests of tenant|id in `inbox`: their first 64 bits are this digest."""
    old = hashlib.blake2b(b"acme|e-1", digest_size=12).digest()
    assert legacy_digest(old) == event_digest("acme", "e-1")


def test_digests_pack_and_unpack() -> None:
    digests = [0, 1, 2**64 - 1, event_digest("acme", "e-1")]
    assert unpack(pack(digests)).tolist() == digests


def test_repeats_are_found_within_a_batch_and_across_batches() -> None:
    window = DigestWindow(30)
    assert window.new([1, 2, 3]) is None  # all new
    assert window.new([4, 4, 2, 5]) == [True, False, False, True]
    assert window.new([6]) is None
    assert len(window) == 6


def test_a_sealed_day_still_recognises_its_events(monkeypatch: pytest.MonkeyPatch) -> None:
    window = DigestWindow(30)
    window.new([10, 11])
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    monkeypatch.setattr(dedup, "datetime", _Clock(tomorrow))
    assert window.new([11, 12]) == [False, True]  # 11 from the sealed day, 12 new today
    assert window.sealed and 11 in window.sealed[min(window.sealed)].tolist()
    assert window.new([12, 13]) == [False, True]


def test_days_past_the_retention_are_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    window = DigestWindow(2)
    window.load(datetime.now(UTC).date() - timedelta(days=1), np.array([20], dtype=np.uint64))
    window.load(datetime.now(UTC).date() - timedelta(days=5), np.array([21], dtype=np.uint64))
    monkeypatch.setattr(dedup, "datetime", _Clock(datetime.now(UTC) + timedelta(days=1)))
    assert window.new([20, 21]) == [False, True]  # the day 5 days back is beyond the 2 days kept


@given(st.lists(st.lists(st.integers(0, 40), max_size=20), max_size=10), st.integers(0, 9))
def test_a_digest_is_new_once_whatever_the_batches(batches: list[list[int]], seal_after: int) -> None:
    window, seen = DigestWindow(30), set()
    for n, batch in enumerate(batches):
        if n == seal_after:  # some of them sealed into an earlier day
            window.load(date(2000, 1, 1), np.fromiter(window.recent, dtype=np.uint64))
            window.recent.clear()
        fresh = window.new(batch)
        expected = []
        for digest in batch:
            expected.append(digest not in seen)
            seen.add(digest)
        assert (fresh if fresh is not None else [True] * len(batch)) == expected


class _Clock:
    """Stands in for datetime in dedup: now() is `at`."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self, tz: object = None) -> datetime:
        return self.at
