"""The garbage collector's young threshold comes from the settings."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from telesales_runtime.memory import tune_garbage_collector
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
