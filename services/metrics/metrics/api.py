"""HTTP API of metrics: the detail that does not belong on /metrics. Every route works within one tenant
(the token's; see ACCESS for who may call what) and answers JSON, or CSV with `Accept: text/csv` or `?format=csv`. Days are ISO
dates in the floor's time zone; a range defaults to the last 30 days up to today. Errors are
problem+json with a stable `code`."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from telesales_contracts.roster import Identifier
from telesales_runtime.auth import Caller
from telesales_runtime.errors import DomainError
from telesales_runtime.http import Problem, Tenant, domain_problem, from_app_state
from telesales_runtime.scope import Scope, scope_of

from . import queries
from .answers import answer
from .periods import request_days
from .queries import GROUPINGS
from .schemas import AgentIndicators
from .settings import MetricsSettings
from .store import MetricsStore

funnels_router = APIRouter(prefix="/v1/funnels", tags=["funnels"])
agents_router = APIRouter(prefix="/v1/agents", tags=["agents"])

# Who may call each route (admin: every route). Funnels are for the floor's managers and the platform's
# machine clients; an agent reads its own indicators, a supervisor those of its team.
_MANAGERS = ("supervisor", "operator", "service")
ACCESS = {
    "GET /v1/funnels/leads": _MANAGERS,
    "GET /v1/funnels/calls": _MANAGERS,
    "GET /v1/funnels/pool": _MANAGERS,
    "GET /v1/funnels/marketplace": _MANAGERS,
    "GET /v1/funnels/tips": _MANAGERS,
    "GET /v1/funnels/training": _MANAGERS,
    "GET /v1/agents/{agent_id}/indicators": ("agent", "supervisor", "operator", "service"),
}

# The store is handed to the queries (queries.py reads through it); the routes never call it.
Store = Annotated[MetricsStore, Depends(from_app_state("store"))]
Settings = Annotated[MetricsSettings, Depends(from_app_state("settings"))]
First = Annotated[date | None, Query(alias="from", description="First day (ISO date); default: 30 days before `to`.")]
Last = Annotated[date | None, Query(alias="to", description="Last day (ISO date); default: today.")]
Period = Annotated[Literal["day", "week", "range"], Query(description="Rows per day, per ISO week, or one for the "
                                                          "whole range.")]
Format = Annotated[Literal["json", "csv"] | None, Query(description="csv, or send Accept: text/csv.")]
By = Annotated[str | None, Query(description="Comma-separated labels to group by.")]

DEFAULT_DAYS = 30
_STATUS = {"bad_range": 422, "range_too_long": 422, "bad_grouping": 422}


def _range(settings: MetricsSettings, first: date | None, last: date | None, default_days: int = DEFAULT_DAYS
           ) -> tuple[str, str]:
    try:
        return request_days(first=first, last=last, default_days=default_days, tz=settings.tz,
                            max_days=settings.max_range_days)
    except DomainError as error:
        raise domain_problem(error, _STATUS) from error


async def get_scope(tenant: Tenant, store: Store, caller: Caller) -> Scope:
    """Whose indicators and which team's funnels the caller reads (telesales_runtime.scope): a
    supervisor's team is the token's, else the one the roster events gave metrics."""
    if caller.trusted or caller.has("operator") or not caller.has("supervisor") or caller.team:
        return scope_of(caller)
    return scope_of(caller, roster_teams=[await queries.team_of(store=store, tenant=tenant, agent_id=caller.sub)])


CallerScope = Annotated[Scope, Depends(get_scope)]


def _team_filter(scope: Scope, team: str | None) -> str | None:
    """The team a funnel counts: the requested one if the caller covers it (403 otherwise), else all for
    everyone's scope, else the supervisor's own team."""
    teams = scope.teams_to_show(team)
    if teams is None:
        return None
    if len(teams) != 1:  # a supervisor without a team (or, later, of several: ask for one at a time)
        raise scope.refusal("a funnel of every team", "not_your_team")
    [only] = teams
    return only


def _grouping(family: str, by: str | None) -> list[str]:
    wanted = [part.strip() for part in (by or "").split(",") if part.strip()]
    allowed = GROUPINGS[family]
    unknown = [name for name in wanted if name not in allowed]
    if unknown:
        raise Problem(422, "Bad grouping", f"group by any of {', '.join(allowed)}; not {', '.join(unknown)}",
                      code="bad_grouping")
    return [name for name in allowed if name in wanted]


@funnels_router.get("/leads", summary="The lead funnel: total -> valid -> intent -> agreed visit -> actual visit -> "
                    "plan -> paid, with step-to-step rates and rates over total")
async def lead_funnel(request: Request, tenant: Tenant, store: Store, settings: Settings, scope: CallerScope,
                      first: First = None, last: Last = None,
                      period: Period = "day", by: By = None, business_line: str | None = None,
                      channel: str | None = None, team: str | None = None, format: Format = None) -> Response:
    start, end = _range(settings, first, last)
    team = _team_filter(scope, team)
    groups = _grouping("funnel", by)
    rows = await queries.lead_funnel(store=store, tenant=tenant, first=start, last=end, period=period, by=groups,
                                     filters={"business_line": business_line, "channel": channel, "team": team})
    return answer(request, format, {"from": start, "to": end, "period": period, "by": groups, "rows": rows}, rows,
                  "lead-funnel")


@funnels_router.get("/calls", summary="Calls: placed, connected, effective (>= 60 s), deep (>= 180 s), leads with "
                    "several effective calls, talk time, time to first call; by team")
async def call_funnel(request: Request, tenant: Tenant, store: Store, settings: Settings, scope: CallerScope,
                      first: First = None, last: Last = None, period: Period = "day", by: By = None,
                      team: str | None = None, format: Format = None) -> Response:
    start, end = _range(settings, first, last)
    team = _team_filter(scope, team)
    groups = _grouping("calls", by)
    rows = await queries.call_funnel(store=store, tenant=tenant, first=start, last=end, period=period, by=groups,
                                     filters={"team": team})
    return answer(request, format, {"from": start, "to": end, "period": period, "by": groups, "rows": rows}, rows,
                  "calls")


@funnels_router.get("/pool", summary="Pool operations: received, assigned, claimed, returned, reclaimed (not "
                    "processed / not converted), closed, won; processing rate, first pass and repeat, holders "
                    "before a win")
async def pool_operations(request: Request, tenant: Tenant, store: Store, settings: Settings, scope: CallerScope,
                          first: First = None, last: Last = None, period: Period = "day", by: By = None,
                          business_line: str | None = None, team: str | None = None,
                          format: Format = None) -> Response:
    start, end = _range(settings, first, last)
    team = _team_filter(scope, team)
    groups = _grouping("pool", by)
    rows = await queries.pool_operations(store=store, tenant=tenant, first=start, last=end, period=period, by=groups,
                                         filters={"business_line": business_line, "team": team})
    return answer(request, format, {"from": start, "to": end, "period": period, "by": groups, "rows": rows}, rows,
                  "pool")


@funnels_router.get("/marketplace", summary="The marketplace's double funnel: users (visit -> buy -> learn -> rate "
                    "-> forward) and tips (review pass, purchase, learning, forward, rewatch rates); daily-active "
                    "and re-learn rates")
async def marketplace(request: Request, tenant: Tenant, store: Store, settings: Settings, first: First = None, last: Last = None,
                      period: Period = "day", format: Format = None) -> Response:
    start, end = _range(settings, first, last)
    body = await queries.marketplace(store=store, tenant=tenant, first=start, last=end, period=period)
    return answer(request, format, {"from": start, "to": end, "period": period, **body}, body["rows"], "marketplace")


@funnels_router.get("/tips", summary="Each tip's funnel (all time): review pass, purchase, learning, forward and "
                    "rewatch rates")
async def tip_funnel(request: Request, tenant: Tenant, store: Store, settings: Settings,
                     sort: Annotated[Literal["purchases", "visits", "learned", "forwards", "ratings"],
                                     Query()] = "purchases",
                     limit: Annotated[int, Query(ge=1, le=1000)] = 100, format: Format = None) -> Response:
    rows = await queries.tip_funnel(store=store, tenant=tenant, limit=limit, sort=sort)
    return answer(request, format, {"sort": sort, "rows": rows}, rows, "tips")


@funnels_router.get("/training", summary="Training effect: call and conversion indicators of deep learners, "
                    "learners and agents who did not learn")
async def training(request: Request, tenant: Tenant, store: Store, settings: Settings, first: First = None, last: Last = None,
                   format: Format = None) -> Response:
    start, end = _range(settings, first, last)
    rows = await queries.training_effect(store=store, tenant=tenant, first=start, last=end)
    return answer(request, format, {"from": start, "to": end, "rows": rows}, rows, "training")


# The model documents the JSON body in /openapi.json only: the route still returns its prebuilt Response (JSON,
# or CSV on request), which FastAPI sends as is, so the bytes stay what they were and the JSON is not validated
# and encoded a second time. The tests (unit test_indicators, integration test_scenario) hold the body to it.
@agents_router.get("/{agent_id}/indicators", summary="An agent's call and funnel indicators per day and in total, "
                   "with the rates the marketplace's struggle push compares (the agent's and its team's)",
                   response_model=AgentIndicators,
                   responses={200: {"description": "The indicators as JSON, or with `Accept: text/csv` or "
                                    "`?format=csv` the `days` as CSV: one row per day, a column per field.",
                                    "content": {"text/csv": {"schema": {"type": "string"}}}}})
async def indicators(agent_id: Identifier, request: Request, tenant: Tenant, store: Store, settings: Settings,
                     scope: CallerScope, first: First = None, last: Last = None, format: Format = None) -> Response:
    if not scope.everyone and not scope.supervisor:
        scope.require(agent_id, None, "not_your_agent")  # an agent reads its own
    start, end = _range(settings, first, last, settings.indicator_days)
    body = await queries.indicators(store=store, tenant=tenant, agent_id=agent_id, first=start, last=end)
    # A supervisor reads the agents of its scope (the team metrics learned from the roster events).
    scope.require(agent_id, body.get("team_id"), "not_your_agent")
    return answer(request, format, body, body["days"], f"indicators-{agent_id}")
