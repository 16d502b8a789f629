"""The service layer of the roster: agents, teams, agent status (time worked) and weekly grading."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from telesales_contracts.roster import AgentGraded
from telesales_contracts.topics import AGENTS_GRADED
from telesales_runtime.consumer import Delivery
from telesales_runtime.outbox import outbox_row

from . import domain, grading
from .service import LeadService
from .store import AllocatorStore, Doc

log = logging.getLogger(__name__)

KEEP_DAYS = 14  # days of time-worked history kept on an agent


class RosterService:
    def __init__(self, leads: LeadService, store: AllocatorStore) -> None:
        self.leads = leads
        self.store = store
        self.settings = leads.settings
        self.tz = leads.tz

    def _keep_days(self, now: datetime) -> list[str]:
        today = now.astimezone(self.tz).date()
        return [(today - timedelta(days=n)).isoformat() for n in range(KEEP_DAYS)]

    async def upsert(self, *, tenant: str, records: Sequence[Doc], source_time: datetime | None = None) -> int:
        """Create or update roster records; an agent who becomes inactive gives every held lead back."""
        now = datetime.now(UTC)
        policy = await self.leads.policy(tenant)
        before = await self.store.upsert_agents(tenant, records, now, source_time=source_time,
                                                new_agent_grade=policy.new_agent_grade)
        was_active = {doc["agent_id"] for doc in before if doc.get("active", True)}
        # Judged on what was stored: an out-of-date HR record (skipped by source_time) takes nothing away.
        leaving = [r["agent_id"] for r in records if r.get("active") is False and r["agent_id"] in was_active]
        after = await self.store.get_agents(tenant, leaving) if leaving else {}
        released = 0
        for agent_id in dict.fromkeys(leaving):
            if not after.get(agent_id, {}).get("active", True):
                released += await self.leads.release_all(tenant=tenant, agent_id=agent_id, reason="agent_left")
        if released:
            log.info("leads released by departing agents", extra={"tenant": tenant, "leads": released})
        return len(records)

    async def override(self, *, tenant: str, agent_id: str, fields: Doc) -> Doc | None:
        """Set an agent's grade and/or ability by hand; the agent after, or None if unknown."""
        return await self.store.set_agent_fields(tenant, agent_id, fields | {"updated_at": datetime.now(UTC)})

    async def put_team(self, *, tenant: str, team: Doc) -> Doc:
        return await self.store.put_team(tenant, team, datetime.now(UTC))

    async def delete_team(self, *, tenant: str, team_id: str) -> bool:
        return await self.store.delete_team(tenant, team_id)

    async def handle_changed(self, deliveries: Sequence[Delivery]) -> None:
        for tenant, fresh in (await self.store.inbox.unprocessed_by_tenant(deliveries)).items():
            for delivery in fresh:
                record = delivery.event.data.model_dump(mode="json")
                record["role"] = delivery.event.data.role.value
                await self.upsert(tenant=tenant, records=[record], source_time=delivery.event.time)
                await self.store.inbox.record([self.store.inbox.entry(tenant, delivery.event.id, {"status": "roster_updated"})])

    async def handle_status(self, deliveries: Sequence[Delivery]) -> None:
        for tenant, fresh in (await self.store.inbox.unprocessed_by_tenant(deliveries)).items():
            for delivery in sorted(fresh, key=lambda d: d.event.data.at):
                change = delivery.event.data
                agent = await self.store.get_agent(tenant, change.agent_id)
                if agent is None:
                    await self.leads.dead_letters.send(delivery.record, error_type="unknown_agent",
                                                       error=f"agent {change.agent_id} is not on the roster",
                                                       tenantid=tenant)
                    continue
                add: dict[str, float] = {}
                since = agent.get("status_since")
                if agent.get("status") == "logged_in" and since is not None and since <= change.at:
                    add = domain.split_by_day(since, change.at, self.tz)
                if since is None or since <= change.at:
                    await self.store.record_status(tenant, change.agent_id, status=change.status.value, at=change.at,
                                                   add_logged=add, keep_days=self._keep_days(change.at))
                await self.store.inbox.record([self.store.inbox.entry(tenant, delivery.event.id, {"status": "status_recorded"})])

    # ---- weekly grading ------------------------------------------------------------------------------

    async def grading_policy(self, tenant: str) -> grading.GradingPolicy:
        value, _ = await self.store.get_config(tenant, "grading")
        return grading.GradingPolicy() if value is None else grading.GradingPolicy.model_validate(value)

    async def grade(self, *, tenant: str, week: str) -> dict[str, Any]:
        """Grade a week (once: a second run of the same week changes nothing)."""
        start, end = grading.week_bounds(week, self.tz)
        if end > datetime.now(UTC):
            raise domain.DomainError("week_not_over", f"week {week} is not over yet")
        policy = await self.grading_policy(tenant)
        agents = await self.store.list_agents(tenant, role="agent", active=True, limit=1_000_000)
        sales = {row["_id"]: row for row in await self.store.week_results(tenant, start, end)}
        results = [grading.WeekResult(agent_id=a["agent_id"], sales_fen=sales.get(a["agent_id"], {}).get("sales_fen", 0),
                                      deals=sales.get(a["agent_id"], {}).get("deals", 0), team_id=a.get("team_id"))
                   for a in agents]
        previous = {a["agent_id"]: a["grade"] for a in agents if a.get("grade")}
        decisions = grading.grade_week(results, policy, previous)
        now = datetime.now(UTC)
        rows = []
        for d in decisions:
            data = AgentGraded(agent_id=d.agent_id, week=week, grade=d.grade, previous_grade=d.previous_grade,  # type: ignore[arg-type]
                               rank=d.rank, agents_ranked=d.agents_ranked, sales_fen=d.sales_fen, deals=d.deals,
                               promoted_from_e=d.promoted_from_e, team_id=d.team_id)
            event = AGENTS_GRADED.event(data, source=self.settings.source, tenantid=tenant, subject=d.agent_id)
            rows.append(outbox_row(AGENTS_GRADED.name, event, d.agent_id))
        stored = await self.store.record_grading(tenant, week, [{"agent_id": d.agent_id, "grade": d.grade}
                                                                for d in decisions], rows, now)
        if stored:
            self.leads.notify_outbox()
            log.info("week graded", extra={"tenant": tenant, "week": week, "agents": len(decisions)})
        return {"week": week, "graded": stored, "agents": len(decisions),
                "grades": {g: sum(1 for d in decisions if d.grade == g) for g in "ABCDE"}}
