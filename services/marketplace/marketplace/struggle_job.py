"""The rolling window's struggle push: one replica at a time (a MongoDB lease) looks, every
STRUGGLE_JOB_INTERVAL_SECONDS, at each agent who logged a call within the last STRUGGLE_WINDOW_DAYS, asks
the metrics service for the agent's and its team's funnel over those days, and pushes the tip of the stage
where the agent's funnel leaks most (service/pushes.py: once a day per agent, within the daily cap)."""

from __future__ import annotations

import logging
from datetime import timedelta

import httpx

from telesales_runtime.errors import DomainError
from telesales_runtime.periodic import LeasedLoop

from .metrics_client import struggle_rates
from .service import MarketplaceService, pushes
from .service.context import utcnow

log = logging.getLogger(__name__)


class StruggleWindowJob(LeasedLoop):
    def __init__(self, market: MarketplaceService, metrics_http: httpx.AsyncClient) -> None:
        self.market = market
        self.metrics_http = metrics_http
        settings = market.settings
        # An overlap with another replica after a takeover is harmless: a push is made once per agent and day
        # (its id), checked in its transaction.
        super().__init__(market.store.leases, "marketplace-struggle-window",
                         interval_seconds=settings.struggle_job_interval_seconds, lease_seconds=settings.lease_seconds,
                         enabled=settings.struggle_job_enabled, task_name="marketplace-struggle-window")

    async def tick(self) -> None:
        results = await self.sweep()
        if results:
            log.info("struggle window", extra={"results": results})

    async def sweep(self) -> dict[str, int]:
        """One round over the agents who called within the window; how many ended how."""
        settings, now = self.market.settings, utcnow()
        today = now.astimezone(self.market.tz).date()
        first = today - timedelta(days=settings.struggle_window_days - 1)
        results: dict[str, int] = {}
        callers = await self.market.store.queries.agents_calling_since(now - timedelta(days=settings.struggle_window_days))
        for row in callers:
            tenant, agent_id = row["tenant_id"], row["agent_id"]
            if await pushes.window_pushed_today(market=self.market, tenant=tenant, agent_id=agent_id, day=today):
                continue
            try:
                rates = await struggle_rates(self.metrics_http, tenant, agent_id, first=first, last=today)
            except DomainError as error:  # metrics down or confused: this agent is looked at again next round
                log.warning("struggle window: no rates", extra={"agent_id": agent_id, "code": error.code})
                results["no_rates"] = results.get("no_rates", 0) + 1
                continue
            result = await pushes.push_from_window(market=self.market, tenant=tenant, agent_id=agent_id,
                                                   team_id=rates.team_id, agent=rates.agent, team=rates.team, day=today)
            results[result] = results.get(result, 0) + 1
        return results
