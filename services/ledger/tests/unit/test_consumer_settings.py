"""The ledger's consumer settings that its latency at half of saturation depends on (bench/README.md)."""

from __future__ import annotations

import pytest

from ledger.settings import LedgerSettings
from telesales_runtime.kafka import subscriber_options
from telesales_runtime.settings import ServiceSettings


def test_a_fetch_of_idle_partitions_holds_the_next_batch_back_briefly(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LEDGER_KAFKA_FETCH_MAX_WAIT_MS", "TELESALES_KAFKA_FETCH_MAX_WAIT_MS",
                 "LEDGER_BATCH_TOP_UP_MS", "LEDGER_BATCH_TOP_UP_STALE_MS"):
        monkeypatch.delenv(name, raising=False)
    settings = LedgerSettings()
    assert subscriber_options(settings, "ledger")["fetch_max_wait_ms"] == 20 < ServiceSettings().kafka_fetch_max_wait_ms
    # a stale batch waits for the fetch its hand-out started longer than an idle fetch can block it
    assert settings.batch_top_up_ms < settings.kafka_fetch_max_wait_ms < settings.batch_top_up_stale_ms
    monkeypatch.setenv("LEDGER_KAFKA_FETCH_MAX_WAIT_MS", "100")
    assert LedgerSettings().kafka_fetch_max_wait_ms == 100
