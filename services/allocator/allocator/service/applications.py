"""轮询申领 (seed 004, for call centres): the agent's move. An agent applies for the next lead of a pool; the
applications of a pool are served in the order they were made (one pending application per agent, so
applicants take turns), each with the best pooled lead the applicant may take: not one it dropped, not a
resting one, and only one its grade opens (a lead in a tier closed to the grade waits for the next applicant
whose grade opens it). Served by the same conditional assign as every push (strategy `round_robin`,
assigned by the agent itself), with the application's decision in the same transaction, so a crash or a
cancel in between can never give an extra lead. An application nothing can serve now waits and is served
when a lead arrives; the agent may cancel it meanwhile.

The holding cap and the refresh quota hold, as for claims. Applying needs the agent at work: one the dialer
reports off or on a break is refused at once (its application would be refused when served anyway); a
waiting application whose agent has since gone off, on a break or left is refused when its turn comes,
with the reason. An agent the dialer never reported counts as at work: applying is the act of being at work."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from telesales_contracts.allocation import DistributionStrategy

from .. import domain
from ..domain import AllocationPolicy, DomainError
from ..domain.agent import Agent
from ..domain.pushing import grade_filter, why_application_refused
from ..store import AlongsideChanged, Doc
from ..store.applications import PENDING, REFUSED, SERVED, application_cursor
from ..store.lead_writes import lead_of
from ..store.roster import agent_of
from .distributing import Distributing

TRIES = 3  # a lead taken by someone else meanwhile: try the next one, this many times


class Applications(Distributing):
    async def apply(self, *, tenant: str, agent_id: str, pool_id: str) -> Doc:
        """The agent applies for the next lead of `pool_id`; served at once if a lead is there (and the
        applications before it are served), else it waits. Raises for an agent who may not hold more, or
        whom the dialer reports away."""
        policy = await self.policy(tenant)
        agent = agent_of(await self.agent_doc(tenant, agent_id, fresh=True))
        why_not = why_application_refused(agent)
        if why_not is not None:
            raise DomainError(why_not.split(" ", 1)[0], f"{agent_id} may not apply for a lead now: {why_not}")
        if pool_id not in await self.pools_of_line(tenant, agent.business_line):
            raise DomainError("unknown_pool", f"pool {pool_id!r} is not a pool of line {agent.business_line}")
        await self._check_room(tenant, agent_id, agent.grade_under(policy), policy)
        application = await self.store.add_application(tenant, agent_id, pool_id, datetime.now(UTC))
        if application is None:
            raise DomainError("application_pending", f"agent {agent_id} has an application pending already")
        await self.serve_applications(tenant=tenant, pool_ids=[pool_id])
        return await self.with_place(tenant, await self.store.get_application(tenant, application["_id"])
                                     or application)

    async def cancel_application(self, *, tenant: str, agent_id: str, application_id: str) -> Doc:
        """Cancel the agent's pending application; raises for an unknown (or another agent's) one, and for
        one served or refused already."""
        cancelled = await self.store.cancel_application(tenant, agent_id, application_id, datetime.now(UTC))
        if cancelled is not None:
            return cancelled
        doc = await self.store.get_application(tenant, application_id)
        if doc is None or doc["agent_id"] != agent_id:
            raise DomainError("unknown_application", f"agent {agent_id} has no application {application_id!r}")
        raise DomainError("application_decided", f"application {application_id} is {doc['status']} already")

    async def applications_of(self, *, tenant: str, agent_id: str, statuses: Sequence[str] | None, limit: int,
                              cursor: str | None) -> tuple[list[Doc], str | None]:
        """The agent's applications newest first (a pending one with its place in turn), and the cursor
        of the next page (None on the last)."""
        try:
            docs = await self.store.applications_of(tenant, agent_id, statuses=statuses, limit=limit + 1,
                                                    cursor=cursor)
        except ValueError as error:
            raise DomainError("bad_cursor", "use the next_cursor of the previous page") from error
        more = len(docs) > limit
        docs = [await self.with_place(tenant, d) for d in docs[:limit]]
        return docs, application_cursor(docs[-1]) if more else None

    async def with_place(self, tenant: str, doc: Doc) -> Doc:
        """The application with `position`: its place in its pool's turn while pending, else None."""
        place = await self.store.place_in_turn(tenant, doc) if doc["status"] == PENDING else None
        return {**doc, "position": place}

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
        for pool_id in sorted(await self.store.pools_with_pending(tenant, set(pool_ids))):
            for application in await self.store.pending_applications(tenant, pool_id):
                try:
                    served += await self._serve(tenant, application, policy)
                except DomainError:  # agent_busy: its lock is held elsewhere; it keeps its turn
                    continue
        if served:
            self.notify_leads()
        return served

    async def _serve(self, tenant: str, application: Doc, policy: AllocationPolicy) -> int:
        """One application under its agent's lock: refused if its agent is away or gone, over cap or
        quota; else the next lead it may take, given with the application's decision in one transaction."""
        now = datetime.now(UTC)
        agent_id, app_id = application["agent_id"], application["_id"]
        period, period_end = domain.quota_period(now, policy.refresh_period, self.tz)
        async with self.guard.claiming(tenant, agent_id, period, period_end) as ticket:
            doc, held = await self.store.agent_and_held_count(tenant, agent_id)
            agent = agent_of(doc) if doc is not None else None
            try:
                why_not = "agent_inactive" if agent is None else why_application_refused(agent)
                if why_not is not None:
                    raise DomainError(why_not, f"agent {agent_id} may not be served: {why_not}")
                assert agent is not None
                grade = agent.grade_under(policy)
                domain.claim_grant(1, held=held, cap=policy.cap_for(grade), claimed_this_period=ticket.used,
                                   quota=policy.quota_for(grade))
            except DomainError as error:
                await self.store.decide_application(tenant, app_id, status=REFUSED, now=now, reason=error.code)
                return 0
            ticket.taken = await self._give_next(tenant, application, agent, policy, now)
        return ticket.taken

    async def _give_next(self, tenant: str, application: Doc, agent: Agent, policy: AllocationPolicy,
                         now: datetime) -> int:
        """Give the applicant the best lead of the pool it may take, deciding the application with it; 1 if
        it got one, 0 if none is there (it waits) or the application was cancelled meanwhile."""
        pool_id = application["pool_id"]
        opens = grade_filter(await self.tiers(tenant), pool_id, agent.grade_under(policy))
        skip: list[str] = []
        for _ in range(TRIES):
            lead_doc = await self.store.next_pooled_lead(tenant, pool_id, agent.agent_id, now, skip, opens)
            if lead_doc is None:
                return 0
            decision = self.store.decision(tenant, application["_id"], status=SERVED, now=now,
                                           lead_id=lead_doc["_id"])
            try:
                done = await self.assign(tenant=tenant, lead=lead_of(lead_doc), agent=agent, policy=policy, now=now,
                                         strategy=DistributionStrategy.ROUND_ROBIN, assigned_by=agent.agent_id,
                                         alongside=decision)
            except AlongsideChanged:  # cancelled (or decided) meanwhile: the lead stays pooled
                return 0
            if done:
                return 1
            skip.append(lead_doc["_id"])
        return 0
