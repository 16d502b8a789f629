"""The garbage collector: its young threshold comes from the settings; long-lived objects can be frozen out of
its reach, with a full collection now and then."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from telesales_runtime.memory import LongLivedObjects, tune_garbage_collector
from telesales_runtime.settings import ServiceSettings


@pytest.fixture
def restore_thresholds() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)


def test_the_young_threshold_is_set(restore_thresholds: None) -> None:
    _, middle, old = gc.get_threshold()
    tune_garbage_collector(12_345)
    assert gc.get_threshold() == (12_345, middle, old)


def test_zero_leaves_the_thresholds_alone(restore_thresholds: None) -> None:
    gc.set_threshold(700, 10, 10)
    tune_garbage_collector(0)
    assert gc.get_threshold() == (700, 10, 10)


def test_the_setting_defaults_to_collecting_less_often(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ServiceSettings().gc_young_threshold == 50_000
    monkeypatch.setenv("TELESALES_GC_YOUNG_THRESHOLD", "0")
    assert ServiceSettings().gc_young_threshold == 0


@pytest.fixture
def thawed() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector frees it


def test_long_lived_objects_leave_the_collectors_reach(thawed: None) -> None:
    held = [{"state": n} for n in range(1000)]
    LongLivedObjects(full_collection_seconds=3600).freeze()
    assert gc.get_freeze_count() >= len(held)
    before = gc.get_freeze_count()
    gc.collect()  # a collection walks nothing frozen
    assert gc.get_freeze_count() == before


def test_a_full_collection_now_and_then_frees_the_cycles_frozen(thawed: None) -> None:
    import weakref

    node = _Node()
    gone = weakref.ref(node)
    long_lived = LongLivedObjects(full_collection_seconds=0)
    del node
    long_lived._last_full = float("-inf")  # noqa: SLF001 - due now
    long_lived.freeze()  # thaws, collects everything once, freezes what is left
    assert gone() is None
