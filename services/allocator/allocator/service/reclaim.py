"""Leads going back to their pools without their agent asking: the reclaim sweep (回收) of overdue held
leads (and its warnings), and every lead of an agent who left."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from .. import reclaim_clock
from ..domain import AllocationPolicy
from ..domain.changes import Decision, LeadChange, Release
from ..domain.lead import Lead
from ..store import Doc
from ..store.lead_writes import lead_of
from .arrival import Arrival

Write = tuple[Lead, LeadChange, list[Doc]]


class Reclaim(Arrival):
    async def release_all(self, *, tenant: str, agent_id: str, reason: str) -> int:
        """Every lead an agent holds goes back to its pool (the agent left); not counted as a drop."""
        now = datetime.now(UTC)
        released = 0
        while True:
            docs = await self.store.held_by(tenant, agent_id, 500, None)
            if not docs:
                return released
            writes = [self._write(lead, lead.leave_with_agent(reason=reason, at=now)) for lead in map(lead_of, docs)]
            moved = await self.store.commit(writes, now)
            if moved == 0:  # all changed meanwhile and are still held: leave them to the next pass
                return released
            released += moved
            self.notify_leads()

    def _write(self, lead: Lead, decision: Decision) -> Write:
        return lead, decision.change, self.embedded(lead.tenant_id, lead.lead_id, decision.events)

    async def sweep_tenant(self, tenant: str, now: datetime | None = None) -> dict[str, int]:
        """Warn about and reclaim overdue held leads of one tenant. Idempotent: every write is conditional
        on the hold it judged, and warnings are remembered per deadline. A batch is written while the next
        one is read and judged (the read and the writes no longer take turns)."""
        now = now or datetime.now(UTC)
        policy, _ = await self.store.policy(tenant)  # fresh, not cached: the sweep acts on the current rules
        totals = {"reclaimed": 0, "warned": 0, "examined": 0}
        days = [d for r in policy.reclaim_rules for d in (r.not_processed_days, r.not_converted_days) if d is not None]
        if policy.dial_streak_days is not None:  # dialled on N consecutive days: held N - 1 days at least
            days.append(policy.dial_streak_days - 1)
        if not days:
            return totals
        # The earliest any rule can make a lead due (or warned): nothing held more recently is looked at.
        horizon = now - timedelta(days=min(days)) + timedelta(hours=policy.reclaim_warning_hours)
        batch: list[Write] = []
        writing: asyncio.Task[None] | None = None  # the previous batch's write, while the next is read and judged
        try:
            async for doc in self.store.held_before_sealed(tenant, horizon, batch_size=self.settings.sweep_batch_size):
                totals["examined"] += 1
                judged = self._judge(tenant, doc, policy, now)
                if judged is None:
                    continue
                kind, write = judged
                totals[kind] += 1
                batch.append(write)
                if len(batch) >= self.settings.sweep_batch_size:
                    if writing is not None:
                        await writing
                    writing = asyncio.get_running_loop().create_task(self._commit_sweep(tenant, batch, now))
                    batch = []
            if writing is not None:
                await writing
                writing = None
            if batch:
                await self._commit_sweep(tenant, batch, now)
        finally:
            if writing is not None and not writing.done():  # the read failed: the write in flight still ends
                await asyncio.gather(writing, return_exceptions=True)
        return totals

    async def _commit_sweep(self, tenant: str, batch: list[Write], now: datetime) -> None:
        """Write a batch of the sweep; reclaimed leads in a push-on-arrival pool are pushed again at once."""
        await self.store.commit(batch, now)
        self.notify_leads()
        await self.push_back(tenant=tenant, lead_ids=[lead.lead_id for lead, change, _ in batch
                                                      if isinstance(change, Release)])

    def _judge(self, tenant: str, doc: Doc, policy: AllocationPolicy, now: datetime) -> tuple[str, Write] | None:
        schedule = reclaim_clock.schedule_of(doc, policy)  # the same judgement the leads' views show
        if schedule is None or not schedule.due(now):  # most held leads: no need to read (or open) the rest
            return None
        lead = lead_of(self.store.sealing.open(doc, tenant))  # type: ignore[arg-type] # a document is given
        decision = lead.judge_overdue(schedule, at=now)
        if decision is None:
            return None
        return ("reclaimed" if isinstance(decision.change, Release) else "warned"), self._write(lead, decision)

