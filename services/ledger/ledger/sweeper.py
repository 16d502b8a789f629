"""The background work only one replica may do at a time: voiding holds past their timeout, and taking
idle wallets back to the budget. Replicas compete for a MongoDB lease; the holder renews it every round,
and another replica takes over once it has expired."""

from __future__ import annotations

import logging
import time

from prometheus_client import Counter

from telesales_runtime.periodic import LeasedLoop

from .service import LedgerService

log = logging.getLogger(__name__)

SWEPT = Counter("ledger_sweep_total", "Holds voided at their timeout and wallets reclaimed by the sweeper.",
                ["action"])


class Sweeper(LeasedLoop):
    def __init__(self, ledger: LedgerService) -> None:
        self.ledger = ledger
        self.settings = ledger.settings
        # An overlap with another replica after a takeover is harmless: every change re-checks its
        # conditions in its transaction.
        super().__init__(ledger.store.leases, "ledger-sweep", interval_seconds=self.settings.sweep_interval_seconds,
                         lease_seconds=self.settings.lease_seconds, enabled=self.settings.sweep_enabled,
                         task_name="ledger-sweeper")
        self._last_reclaim: float | None = None

    async def sweep(self) -> dict[str, int]:
        """One sweep (run by `tick()`, so only while this replica holds the lease): void expired holds; reclaim idle wallets when the reclaim interval has passed."""
        totals = {"holds_voided": await self.ledger.expire_holds(), "wallets_reclaimed": 0}
        if self._last_reclaim is None or time.monotonic() - self._last_reclaim >= self.settings.reclaim_interval_seconds:
            totals["wallets_reclaimed"] = await self.ledger.reclaim_all()
            self._last_reclaim = time.monotonic()
        SWEPT.labels("hold_voided").inc(totals["holds_voided"])
        SWEPT.labels("wallet_reclaimed").inc(totals["wallets_reclaimed"])
        return totals

    async def tick(self) -> None:
        totals = await self.sweep()
        if any(totals.values()):
            log.info("ledger sweep", extra=totals)
