"""Answers that show a lead's number and name in full: counted against the caller's hourly unmasking
budget, recorded in the access log, and masked (with the reason) past the budget. The rules of who may see
a number are lead_views.sees_contact's; the mechanics are telesales_runtime.access_log's."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from fastapi import Request, Response

from telesales_contracts.platform import UnmaskBudgetExceeded
from telesales_contracts.topics import SECURITY_UNMASK_BUDGET_EXCEEDED
from telesales_runtime.access_log import (
    MASKED_REASON_HEADER,
    AccessRecord,
    BudgetVerdict,
    FullReason,
    UnmaskBudget,
    Viewer,
)
from telesales_runtime.auth import Principal
from telesales_runtime.observability import UNMASK_BUDGET_CROSSED, UNMASK_REFUSED
from telesales_runtime.outbox import outbox_row

from .domain import AllocationPolicy
from .lead_views import masked_copy
from .schemas import LeadView
from .settings import AllocatorSettings
from .store import AllocatorStore

log = logging.getLogger(__name__)
# Platform principals: recorded in the log, not held to a budget (a dialer or a tool reads numbers by design).
UNBUDGETED = ("admin", "service")


def reason_of(caller: Principal, actor_role: str) -> FullReason:
    """Why the caller sees numbers in full (the allocator's sees_contact): its own held leads, the floor's
    managers, or the platform."""
    if caller.has("service"):
        return "service"
    if caller.has("admin"):
        return "admin"
    return "holder" if actor_role == "agent" else "supervisor"


def route_of(request: Request) -> tuple[str, str]:
    route = request.scope.get("route")
    return request.method, getattr(route, "path", request.url.path)


class Disclosure:
    def __init__(self, settings: AllocatorSettings, store: AllocatorStore, budget: UnmaskBudget,
                 notify_outbox: Callable[[], None],
                 supervisors_of: Callable[[str, str, str | None], Awaitable[list[str]]],
                 policy_of: Callable[[str], Awaitable[AllocationPolicy]]) -> None:
        self.supervisors_of = supervisors_of
        self.policy_of = policy_of
        self.settings = settings
        self.store = store
        self.budget = budget
        self.notify_outbox = notify_outbox

    async def answer(self, views: Sequence[LeadView], *, caller: Principal, actor_role: str,
                     actor_team: str | None, request: Request, response: Response) -> list[LeadView]:
        """`views` as the caller may see them now: within the budget, as they are (and the answer logged
        once, naming every lead shown in full); past it, masked, with the reason in each view and a header."""
        full = [v.lead_id for v in views if v.contact_full]
        if not full:
            return list(views)
        method, route = route_of(request)
        team = caller.team or actor_team
        if not caller.has(*UNBUDGETED):
            verdict = await self.budget.take(tenant=caller.tenant, user=caller.sub, count=len(full),
                                             budget=await self.budget_of(caller.tenant))
            if not verdict.allowed:
                await self._refused(verdict, caller, f"{method} {route}", team)
                response.headers[MASKED_REASON_HEADER] = verdict.reason or ""
                return [masked_copy(v, verdict.reason) if v.contact_full else v for v in views]
        viewer = Viewer(sub=caller.sub, roles=tuple(sorted(caller.roles)), tenant=caller.tenant, team=team)
        await self.store.access_log.record(AccessRecord(viewer=viewer, method=method, route=route,
                                                        lead_ids=tuple(dict.fromkeys(full)),
                                                        reason=reason_of(caller, actor_role)))
        return list(views)

    async def budget_of(self, tenant: str) -> int:
        """The tenant's budget (its policy, cached), else the service's setting."""
        budget = (await self.policy_of(tenant)).unmask_budget_per_hour
        return self.settings.unmask_budget_per_hour if budget is None else budget

    async def _refused(self, verdict: BudgetVerdict, caller: Principal, route: str, team: str | None) -> None:
        UNMASK_REFUSED.labels(self.settings.service_name, verdict.reason).inc()
        if not verdict.crossed:
            return
        UNMASK_BUDGET_CROSSED.labels(self.settings.service_name).inc()
        supervisors = [s for s in await self.supervisors_of(caller.tenant, caller.sub, team) if s != caller.sub]
        data = UnmaskBudgetExceeded(user_id=caller.sub, team_id=team, supervisors=supervisors, roles=sorted(caller.roles),
                                    hour=verdict.hour, count=verdict.used, budget=verdict.budget,
                                    service=self.settings.service_name, route=route)
        event = SECURITY_UNMASK_BUDGET_EXCEEDED.event(data, source=self.settings.source, tenantid=caller.tenant,
                                                      subject=caller.sub)
        await self.store.write_events([outbox_row(SECURITY_UNMASK_BUDGET_EXCEEDED.name, event, caller.sub)])
        self.notify_outbox()
        log.warning("unmask budget exceeded", extra={"tenant": caller.tenant, "user": caller.sub,
                                                     "hour": verdict.hour, "count": verdict.used})
