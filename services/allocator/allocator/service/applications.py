"""轮询申领 (seed 004, for call centres): the agent's move. An agent applies for the next lead of a pool; the
applications of a pool are served in the order they were made (one pending application per agent, so
applicants take turns), each with the best pooled lead the applicant may take (not one it dropped, not a
resting one), pushed to it by the same conditional assign as every push (strategy `round_robin`, assigned
by the agent itself). An application nothing can serve now waits and is served when a lead arrives. The
holding cap and the refresh quota hold, as for claims: an applicant over either is refused."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from telesales_contracts.allocation import DistributionStrategy

from .. import domain
from ..domain import AllocationPolicy, DomainError
from ..store import Doc
from ..store.applications import REFUSED, SERVED
from ..store.lead_writes import lead_of
from ..store.roster import agent_of
from .distributing import Distributing

TRIES = 3  # a lead taken by someone else meanwhile: try the next one, this many times


class Applications(Distributing):
    async def apply(self, *, tenant: str, agent_id: str, pool_id: str) -> Doc:
        """The agent applies for the next lead of `pool_id`; served at once if a lead is there (and the
        applications before it are served), else it waits. Raises for an agent who may not hold more."""
        policy = await self.policy(tenant)
        agent = agent_of(await self.agent_doc(tenant, agent_id, fresh=True))
        if not agent.active or agent.role != "agent":
            raise DomainError("not_an_agent", f"{agent_id} is not an active agent; only agents apply for leads")
        if pool_id not in await self.pools_of_line(tenant, agent.business_line):
            raise DomainError("unknown_pool", f"pool {pool_id!r} is not a pool of line {agent.business_line}")
        await self._check_room(tenant, agent_id, agent.grade_under(policy), policy)
        application = await self.store.add_application(tenant, agent_id, pool_id, datetime.now(UTC))
        if application is None:
            raise DomainError("application_pending", f"agent {agent_id} has an application pending already")
        await self.serve_applications(tenant=tenant, pool_ids=[pool_id])
        return await self.store.get_application(tenant, application["_id"]) or application

    async def _check_room(self, tenant: str, agent_id: str, grade: str, policy: AllocationPolicy) -> None:
        """Refuse an application of an agent at its holding cap or out of quota (as a claim is refused)."""
        now = datetime.now(UTC)
        period, period_end = domain.quota_period(now, policy.refresh_period, self.tz)
        async with self.guard.claiming(tenant, agent_id, period, period_end) as ticket:
            held = await self.store.held_count(tenant, agent_id)
            domain.claim_grant(1, held=held, cap=policy.cap_for(grade), claimed_this_period=ticket.used,
                               quota=policy.quota_for(grade))

    async def serve_applications(self, *, tenant: str, pool_ids: Iterable[str]) -> int:
        """Serve the pending applications of these pools in turn; how many were served."""
        served = 0
        policy = await self.policy(tenant)
        for pool_id in sorted(set(pool_ids)):
            for application in await self.store.pending_applications(tenant, pool_id):
                try:
                    served += await self._serve(tenant, application, policy)
                except DomainError:  # agent_busy: its lock is held elsewhere; it keeps its turn
                    continue
        if served:
            self.notify_leads()
        return served

    async def _serve(self, tenant: str, application: Doc, policy: AllocationPolicy) -> int:
        """One application under its agent's lock: refused over cap or quota, else the next lead it may take."""
        now = datetime.now(UTC)
        agent_id, app_id = application["agent_id"], application["_id"]
        period, period_end = domain.quota_period(now, policy.refresh_period, self.tz)
        async with self.guard.claiming(tenant, agent_id, period, period_end) as ticket:
            doc, held = await self.store.agent_and_held_count(tenant, agent_id)
            agent = agent_of(doc) if doc is not None else None
            try:
                if agent is None or not agent.active:
                    raise DomainError("agent_inactive", f"agent {agent_id} is not active")
                grade = agent.grade_under(policy)
                domain.claim_grant(1, held=held, cap=policy.cap_for(grade), claimed_this_period=ticket.used,
                                   quota=policy.quota_for(grade))
            except DomainError as error:
                await self.store.decide_application(tenant, app_id, status=REFUSED, now=now, reason=error.code)
                return 0
            skip: list[str] = []
            for _ in range(TRIES):
                lead_doc = await self.store.next_pooled_lead(tenant, application["pool_id"], agent_id, now, skip)
                if lead_doc is None:
                    return 0
                done = await self.assign(tenant=tenant, lead=lead_of(lead_doc), agent=agent, policy=policy, now=now,
                                         strategy=DistributionStrategy.ROUND_ROBIN, assigned_by=agent_id)
                if done:
                    ticket.taken = 1
                    await self.store.decide_application(tenant, app_id, status=SERVED, now=now,
                                                        lead_id=lead_doc["_id"])
                    return 1
                skip.append(lead_doc["_id"])
        return 0
