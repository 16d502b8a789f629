"""The background work only one replica may do at a time: the reclaim sweep and the weekly grading.
Replicas compete for a MongoDB lease; the holder renews it every round, and another replica takes
over once it has expired (the holder stopped or lost the database)."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from prometheus_client import Counter, Histogram

from telesales_runtime.periodic import LeasedLoop

from . import grading
from .roster import RosterService
from .service import LeadService
from .store import AllocatorStore

log = logging.getLogger(__name__)

SWEEP_SECONDS = Histogram("allocator_reclaim_sweep_duration_seconds", "Time one reclaim sweep of all tenants takes.",
                          buckets=(0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120))
SWEEP_LEADS = Counter("allocator_reclaim_sweep_leads_total", "Held leads the sweep reclaimed or warned about.",
                      ["action"])


class Sweeper(LeasedLoop):
    def __init__(self, leads: LeadService, roster: RosterService, store: AllocatorStore) -> None:
        self.leads = leads
        self.roster = roster
        self.store = store
        self.settings = leads.settings
        # A sweep that overlaps another replica's after a takeover is harmless: every write is conditional
        # on what it judged.
        super().__init__(store.leases, "allocator-sweep", interval_seconds=self.settings.sweep_interval_seconds,
                         lease_seconds=self.settings.lease_seconds, enabled=self.settings.sweep_enabled,
                         task_name="allocator-sweeper")

    async def sweep_all(self, now: datetime | None = None) -> dict[str, int]:
        """One reclaim sweep over every tenant that has held leads."""
        started = time.monotonic()
        totals = {"reclaimed": 0, "warned": 0, "examined": 0}
        for tenant in await self.store.tenants_with_held_leads():
            for key, n in (await self.leads.sweep_tenant(tenant, now)).items():
                totals[key] += n
        SWEEP_SECONDS.observe(time.monotonic() - started)
        SWEEP_LEADS.labels("reclaimed").inc(totals["reclaimed"])
        SWEEP_LEADS.labels("warned").inc(totals["warned"])
        return totals

    async def grade_due_weeks(self, now: datetime | None = None) -> list[dict]:
        """Grade last week for every tenant whose roster has agents, unless already done."""
        week = grading.previous_week((now or datetime.now(UTC)).astimezone(self.leads.tz))
        done = []
        for tenant in await self.store.agents.distinct("tenant_id"):
            last = await self.store.last_grading(tenant)
            if last is None or last["week"] < week:
                done.append(await self.roster.grade(tenant=tenant, week=week))
        return done

    async def tick(self) -> None:
        totals = await self.sweep_all()
        if totals["reclaimed"] or totals["warned"]:
            log.info("reclaim sweep", extra=totals)
        # calls without the number: a middle number stops connecting an agent to a lead it no longer holds
        await self.leads.end_outlived_bindings()
        if self.settings.grading_enabled:
            await self.grade_due_weeks()
