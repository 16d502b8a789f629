"""Who may call the allocator's routes, and who the caller is to its rules. Every route works within one
tenant (the token's) and needs a role of ACCESS. The caller is the token's sub: an agent acts only for
itself and sees only the leads it holds; a supervisor acts on and reads the agents, teams and held leads of
its scope (telesales_runtime.scope: the token's team, else its roster team; a line manager without a team:
the teams of its business line), resolved once here by `get_scope` and applied by every route through the
checks below; operators run the roster, the configuration and the sweeps; admin does everything."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response

from telesales_runtime.access_log_api import ACCESS_LOG_PATH
from telesales_runtime.auth import Caller, Principal, forbidden
from telesales_runtime.http import Problem, Tenant, domain_problem, from_app_state
from telesales_runtime.scope import OUTSIDE_YOUR_TEAM, Scope, scope_of

from ..disclosure import Disclosure
from ..domain import AgentFacts, DomainError
from ..queries import LeadQueries, NotVisible
from ..roster import RosterService
from ..schemas import LeadView
from ..service import LeadService, agent_facts
from ..settings import AllocatorSettings

# Who may call each route (admin: every route).
_FLOOR = ("agent", "supervisor")
_MANAGERS = ("supervisor", "operator")
ACCESS = {
    "PUT /v1/agents/{agent_id}": ("operator",),
    "PATCH /v1/agents/{agent_id}": _MANAGERS,
    "GET /v1/agents/{agent_id}": ("agent", "supervisor", "operator", "service"),
    "GET /v1/agents": _MANAGERS,
    "POST /v1/agents:import": ("operator",),
    "PUT /v1/teams/{team_id}": ("operator",),
    "GET /v1/teams": _MANAGERS,
    "GET /v1/teams/{team_id}": _MANAGERS,
    "DELETE /v1/teams/{team_id}": ("operator",),
    "GET /v1/config/{kind}": _MANAGERS,
    "PUT /v1/config/{kind}": ("operator",),
    "GET /v1/tiers": ("agent", "supervisor", "operator"),
    "GET /v1/pools/{pool_id}/leads": ("agent", "supervisor", "operator"),
    "POST /v1/agents/{agent_id}/claims": _FLOOR,
    "GET /v1/agents/{agent_id}/leads": _FLOOR,
    "GET /v1/leads/{lead_id}": ("agent", "supervisor", "operator"),
    "GET /v1/leads/{lead_id}/history": ("agent", "supervisor", "operator"),
    "POST /v1/leads/{lead_id}/return": _FLOOR,
    "POST /v1/leads/{lead_id}/close": _FLOOR,
    "POST /v1/leads/{lead_id}/win": _FLOOR,
    "POST /v1/leads/{lead_id}/win/confirmation": ("supervisor",),
    "POST /v1/leads/{lead_id}/win/rejection": ("supervisor",),
    "POST /v1/leads/{lead_id}/stage": _FLOOR,
    "POST /v1/leads/{lead_id}/deal-mark": _FLOOR,
    "POST /v1/leads/{lead_id}/deal-mark/decision": ("supervisor",),
    "POST /v1/leads/{lead_id}/dial": ("agent", "supervisor", "service"),
    "POST /v1/distributions": ("supervisor",),
    "POST /v1/reclaim-sweeps": ("operator",),
    "POST /v1/gradings/{week}": ("operator",),
    "GET /v1/reports/fairness": _MANAGERS,
    "POST /v1/agents/{agent_id}/applications": ("agent",),
    "GET /v1/agents/{agent_id}/applications": _FLOOR,
    "DELETE /v1/agents/{agent_id}/applications/{application_id}": ("agent",),
    "GET /v1/teams/{team_id}/ability-weights": _MANAGERS,
    "GET /v1/teams/{team_id}/deal-marks": _MANAGERS,
    "GET /v1/teams/{team_id}/unplaced-leads": _MANAGERS,
    # Who saw which number: operators and auditors only; supervisors not even for their team (the log names
    # every caller's reads, their own included, and checking supervisors is what it is for).
    f"GET {ACCESS_LOG_PATH}": ("operator", "auditor"),
}

# DomainError codes and the HTTP status each is answered with.
_STATUS = {"unknown_agent": 404, "unknown_lead": 404, "unknown_tier": 404, "unknown_team": 404,
           "agent_busy": 409, "not_held": 409, "changed_meanwhile": 409, "holding_cap_reached": 409,
           "refresh_quota_used": 429, "week_not_over": 409, "deal_mark_pending": 409, "deal_mark_in_force": 409,
           "no_pending_request": 409, "own_request": 403,
           "application_pending": 409, "unknown_pool": 404, "unknown_application": 404,
           "application_decided": 409, "not_working": 409, "bad_cursor": 400,
           "not_won": 409, "already_confirmed": 409, "own_win": 403,
           "grade_not_allowed": 403, "not_enough_time_worked": 403, "agent_inactive": 403, "not_an_agent": 403,
           OUTSIDE_YOUR_TEAM: 403}


def problem_of(error: DomainError) -> Problem:
    return domain_problem(error, _STATUS)


def not_visible(error: NotVisible) -> Exception:
    return forbidden(error.code, error.message)


Leads = Annotated[LeadService, Depends(from_app_state("leads"))]
Roster = Annotated[RosterService, Depends(from_app_state("roster"))]
Queries = Annotated[LeadQueries, Depends(from_app_state("queries"))]
Settings = Annotated[AllocatorSettings, Depends(from_app_state("settings"))]


async def get_actor(tenant: Tenant, leads: Leads, caller: Caller) -> AgentFacts:
    """The caller as the allocator's rules see it. Agents and supervisors must be active on the roster (it
    gives their business line and team); admin and service act as managers of every line, operators as
    viewers of every line (they see numbers masked)."""
    if caller.trusted or caller.has("operator"):
        role = "manager" if caller.trusted else "operator"
        return AgentFacts(agent_id=caller.sub, active=True, role=role, grade="", business_line="*", team_id=None)
    try:
        doc = await leads.agent_doc(tenant, caller.sub)
    except DomainError as error:
        raise forbidden("unknown_actor", f"{caller.sub} is not on the roster.") from error
    facts = agent_facts(doc, await leads.policy(tenant))
    if not facts.active:
        raise forbidden("inactive_actor", f"{caller.sub} is not active.")
    if caller.has("supervisor"):
        role = facts.role if facts.role in ("supervisor", "manager") else "supervisor"
    else:
        role = "agent"
    return AgentFacts(agent_id=facts.agent_id, active=True, role=role, grade=facts.grade,
                      business_line=facts.business_line, team_id=caller.team or facts.team_id)


Actor = Annotated[AgentFacts, Depends(get_actor)]


async def get_scope(tenant: Tenant, queries: Queries, caller: Caller) -> Scope:
    """The caller's scope. A supervisor's team is the token's, else its roster team; a line manager on the
    roster without a team covers the teams of its business line (its subtree, until the organisation exists)."""
    if caller.trusted or caller.has("operator") or not caller.has("supervisor") or caller.team:
        return scope_of(caller)
    doc = await queries.agent(tenant=tenant, agent_id=caller.sub) or {}
    teams: list[str | None] = [doc.get("team_id")]
    if doc.get("team_id") is None and doc.get("role") == "manager":
        teams = list(await queries.teams_of_line(tenant=tenant, business_line=doc.get("business_line", "default")))
    return scope_of(caller, roster_teams=teams)


CallerScope = Annotated[Scope, Depends(get_scope)]


async def require_acting_for(scope: Scope, agent_id: str, queries: LeadQueries, tenant: str,
                             code: str = "not_your_agent") -> None:
    """An agent acts for itself; a supervisor for the agents of its scope; admin and service for anyone."""
    if agent_id == scope.sub or scope.everyone:
        return
    doc = await queries.agent(tenant=tenant, agent_id=agent_id) if scope.supervisor else None
    scope.require(agent_id, (doc or {}).get("team_id"), code)


async def require_lead_in_scope(scope: Scope, lead_id: str, queries: LeadQueries, tenant: str) -> None:
    """A supervisor reaches a lead held by an agent of its scope; pooled leads are the tenant's (every
    supervisor browses the pools). Agents are held to the leads they hold by the queries and the domain."""
    if scope.everyone or not scope.supervisor:
        return
    holder = await queries.holder(tenant=tenant, lead_id=lead_id)
    if holder is not None:
        await require_acting_for(scope, holder, queries, tenant)


async def require_supervisor_of(actor: AgentFacts, scope: Scope, agent_id: str | None, queries: LeadQueries,
                                tenant: str, *, refusal: str) -> None:
    """Only a supervisor (or manager) whose scope holds `agent_id` (a lead's holder, its winner) acts for it;
    `refusal` says to anyone else what they may not do."""
    require_supervisor(actor, refusal=refusal)
    if agent_id is not None:
        await require_acting_for(scope, agent_id, queries, tenant)


def require_supervisor(actor: AgentFacts, *, refusal: str = "Only supervisors and managers distribute leads.") -> None:
    if actor.role not in ("supervisor", "manager"):
        raise forbidden("not_a_supervisor", refusal)


Disclose = Annotated[Disclosure, Depends(from_app_state("disclosure"))]


@dataclass
class Shown:
    """What one answer shows of leads, through the access log and the unmasking budget (disclosure.py)."""

    disclosure: Disclosure
    caller: Principal
    request: Request
    response: Response

    async def views(self, views: list[LeadView], actor: AgentFacts) -> list[LeadView]:
        return await self.disclosure.answer(views, caller=self.caller, actor_role=actor.role,
                                            actor_team=actor.team_id, request=self.request, response=self.response)

    async def view(self, view: LeadView, actor: AgentFacts) -> LeadView:
        return (await self.views([view], actor))[0]


async def get_shown(request: Request, response: Response, caller: Caller, disclosure: Disclose) -> Shown:
    return Shown(disclosure, caller, request, response)


Show = Annotated[Shown, Depends(get_shown)]
