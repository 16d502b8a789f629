"""HTTP API of the allocator. Every route works within one tenant (the token's) and needs a role of
ACCESS. The caller is the token's sub: an agent acts only for itself and sees only the leads it holds; a
supervisor acts for the agents of its team (the token's team, else its roster team); operators run the
roster, the configuration and the sweeps; admin does everything."""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, TypeAdapter, ValidationError

from telesales_contracts.activity import LeadStageChanged
from telesales_contracts.roster import Identifier
from telesales_runtime.auth import Caller, Principal, forbidden
from telesales_runtime.consumer import describe_validation_error
from telesales_runtime.http import (
    IfMatch,
    Problem,
    Tenant,
    decode_upload,
    domain_problem,
    from_app_state,
    if_match_version,
)

from . import domain
from .domain import AgentFacts, AllocationPolicy, DomainError, RoutingRule, Tier
from .grading import GradingPolicy
from .lead_views import history_view, lead_view
from .roster import RosterService
from .schemas import (
    AgentIn,
    AgentPage,
    AgentPatch,
    AgentView,
    ClaimIn,
    ClaimResult,
    CloseIn,
    ConfigView,
    DistributionIn,
    DistributionResult,
    FairnessReport,
    FairnessRow,
    GradingResult,
    ImportResult,
    LeadHistory,
    LeadPage,
    LeadView,
    ReturnIn,
    RowError,
    StageIn,
    SweepResult,
    TeamIn,
    TeamView,
    TierView,
    WinIn,
)
from .service import LeadService, agent_facts
from .settings import AllocatorSettings
from .store import HELD, LEAN_LEAD, Doc, tier_query

roster_router = APIRouter(prefix="/v1", tags=["roster"])
pools_router = APIRouter(prefix="/v1", tags=["pools and leads"])
config_router = APIRouter(prefix="/v1/config", tags=["configuration"])
ops_router = APIRouter(prefix="/v1", tags=["operations"])

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
    "POST /v1/leads/{lead_id}/stage": _FLOOR,
    "POST /v1/distributions": ("supervisor",),
    "POST /v1/reclaim-sweeps": ("operator",),
    "POST /v1/gradings/{week}": ("operator",),
    "GET /v1/reports/fairness": _MANAGERS,
}

# DomainError codes and the HTTP status each is answered with.
_STATUS = {"unknown_agent": 404, "unknown_lead": 404, "unknown_tier": 404, "unknown_team": 404,
           "agent_busy": 409, "not_held": 409, "changed_meanwhile": 409, "holding_cap_reached": 409,
           "refresh_quota_used": 429, "week_not_over": 409,
           "grade_not_allowed": 403, "not_enough_time_worked": 403, "agent_inactive": 403, "not_an_agent": 403}


def problem_of(error: DomainError) -> Problem:
    return domain_problem(error, _STATUS)


Leads = Annotated[LeadService, Depends(from_app_state("leads"))]
Roster = Annotated[RosterService, Depends(from_app_state("roster"))]
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


async def require_acting_for(actor: AgentFacts, agent_id: str, leads: LeadService, tenant: str) -> None:
    """An agent acts for itself; a supervisor for the agents of its team (one without a team, e.g. a line
    manager, for the agents of its business line); admin and service for anyone."""
    if actor.agent_id == agent_id or actor.role == "manager" and actor.business_line == "*":
        return
    if actor.role in ("supervisor", "manager"):
        doc = await leads.store.get_agent(tenant, agent_id)
        if doc is not None and (doc.get("team_id") == actor.team_id if actor.team_id is not None
                                else doc.get("business_line", "default") == actor.business_line):
            return
    raise forbidden("not_your_agent", f"{actor.agent_id} may not act for {agent_id}.")


def require_supervisor(actor: AgentFacts) -> None:
    if actor.role not in ("supervisor", "manager"):
        raise forbidden("not_a_supervisor", "Only supervisors and managers distribute leads.")


# ---- views ----------------------------------------------------------------------------------------------


def agent_view(doc: Doc, leads: LeadService, *, holding: int | None = None) -> AgentView:
    now = datetime.now(UTC)
    return AgentView(agent_id=doc["agent_id"], name=doc.get("name", ""), role=doc.get("role", "agent"),
                     team_id=doc.get("team_id"), business_line=doc.get("business_line", "default"),
                     active=doc.get("active", True), supervisor_id=doc.get("supervisor_id"), grade=doc.get("grade"),
                     ability=float(doc.get("ability") or 1.0), status=doc.get("status"),
                     status_since=doc.get("status_since"),
                     worked_minutes_today=round(leads.worked_minutes_today(doc, now), 1), holding=holding)


# ---- roster ---------------------------------------------------------------------------------------------


@roster_router.put("/agents/{agent_id}", response_model=AgentView, summary="Create or update an agent")
async def put_agent(agent_id: Identifier, body: AgentIn, tenant: Tenant, roster: Roster, leads: Leads) -> AgentView:
    await roster.upsert(tenant, [{"agent_id": agent_id, **body.model_dump(mode="json")}])
    doc = await leads.agent_doc(tenant, agent_id, fresh=True)
    return agent_view(doc, leads, holding=await leads.store.held_count(tenant, agent_id))


@roster_router.patch("/agents/{agent_id}", response_model=AgentView, summary="Override grade or ability")
async def patch_agent(agent_id: Identifier, body: AgentPatch, tenant: Tenant, leads: Leads,
                      caller: Caller) -> AgentView:
    fields = body.model_dump(exclude_none=True)
    if not fields:
        raise Problem(422, "Nothing to change", "Send grade and/or ability.")
    if not (caller.trusted or caller.has("operator")):  # a supervisor grades the agents of its team
        known = await leads.store.get_agent(tenant, agent_id)
        if known is None:
            raise Problem(404, "Unknown agent", f"There is no agent {agent_id!r}.")
        _team_rule(caller, agent_id, known.get("team_id"))
    doc = await leads.store.set_agent_fields(tenant, agent_id, fields | {"updated_at": datetime.now(UTC)})
    if doc is None:
        raise Problem(404, "Unknown agent", f"There is no agent {agent_id!r}.")
    return agent_view(doc, leads, holding=await leads.store.held_count(tenant, agent_id))


@roster_router.get("/agents/{agent_id}", response_model=AgentView)
async def get_agent(agent_id: Identifier, tenant: Tenant, leads: Leads, caller: Caller) -> AgentView:
    if not caller.has("supervisor", "operator") and not caller.trusted and caller.sub != agent_id:
        raise forbidden("not_your_agent", f"{caller.sub} may read only its own record.")
    doc = await leads.store.get_agent(tenant, agent_id)
    if doc is None:
        raise Problem(404, "Unknown agent", f"There is no agent {agent_id!r}.")
    _team_rule(caller, agent_id, doc.get("team_id"))
    return agent_view(doc, leads, holding=await leads.store.held_count(tenant, agent_id))


def _team_rule(caller: Principal, agent_id: str, team_id: str | None) -> None:
    """A supervisor (who is not also an operator) reads the agents of its team only."""
    if caller.trusted or caller.has("operator") or caller.sub == agent_id:
        return
    if caller.team is None or caller.team != team_id:
        raise forbidden("not_your_team", f"{agent_id} is not in {caller.sub}'s team.")


@roster_router.get("/agents", response_model=AgentPage, summary="The roster (a supervisor's: its team)")
async def list_agents(tenant: Tenant, leads: Leads, caller: Caller, team_id: Identifier | None = None,
                      role: str | None = None, active: bool | None = None,
                      limit: Annotated[int, Query(ge=1, le=1000)] = 100, cursor: str | None = None) -> AgentPage:
    if not (caller.trusted or caller.has("operator")):
        if caller.team is None or team_id not in (None, caller.team):
            raise forbidden("not_your_team", "A supervisor lists the agents of its own team (the token's team).")
        team_id = caller.team
    docs = await leads.store.list_agents(tenant, team_id=team_id, role=role, active=active, limit=limit + 1,
                                         after=cursor)
    more = len(docs) > limit
    docs = docs[:limit]
    return AgentPage(items=[agent_view(d, leads) for d in docs], next_cursor=docs[-1]["agent_id"] if more else None)


_AGENT_COLUMNS = {"agent_id", *AgentIn.model_fields}
_AGENT_ID = TypeAdapter(Identifier)


@roster_router.post("/agents:import", response_model=ImportResult, summary="Import agents from CSV",
                    openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}}})
async def import_agents(request: Request, tenant: Tenant, roster: Roster, settings: Settings) -> ImportResult:
    """A header row with agent_id, name and any of role, team_id, business_line, active, supervisor_id;
    UTF-8 or GB18030. Valid rows are imported even when others are invalid (those are listed)."""
    if request.headers.get("content-type", "").split(";")[0].strip() not in ("text/csv", "application/csv"):
        raise Problem(415, "Unsupported Media Type", "Send text/csv with a header row.")
    body = await request.body()
    if len(body) > settings.import_max_bytes:
        raise Problem(413, "Payload Too Large", f"An import may be at most {settings.import_max_bytes} bytes.")
    reader = csv.DictReader(io.StringIO(decode_upload(body)))
    if not reader.fieldnames or not {"agent_id", "name"} <= {f.strip() for f in reader.fieldnames}:
        raise Problem(400, "Bad header", "The CSV needs a header row with at least agent_id and name.")
    unknown = {f.strip() for f in reader.fieldnames} - _AGENT_COLUMNS
    if unknown:
        raise Problem(400, "Unknown columns", f"Unknown columns: {', '.join(sorted(unknown))}. "
                      f"Known: {', '.join(sorted(_AGENT_COLUMNS))}.")
    records: list[Doc] = []
    errors: list[RowError] = []
    rows = 0
    seen: set[str] = set()
    for number, raw in enumerate(reader, start=1):
        rows = number
        if number > settings.import_max_rows:
            raise Problem(413, "Too many rows", f"An import may have at most {settings.import_max_rows} rows.")
        cells = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None and (v or "").strip()}
        try:
            agent_id = _AGENT_ID.validate_python(cells.pop("agent_id", ""))
            if "active" in cells:  # true/false, yes/no, 1/0 (pydantic) or 是/否; anything else is an invalid row
                cells["active"] = {"是": "true", "否": "false"}.get(cells["active"], cells["active"])
            record = AgentIn.model_validate(cells)
        except ValidationError as error:
            errors.append(RowError(row=number, error=describe_validation_error(error)))
            continue
        if agent_id in seen:
            errors.append(RowError(row=number, error=f"agent {agent_id} appears twice"))
            continue
        seen.add(agent_id)
        records.append({"agent_id": agent_id, **record.model_dump(mode="json")})
    if rows == 0:
        raise Problem(422, "Empty import", "The file has no data rows.")
    for start in range(0, len(records), 500):
        await roster.upsert(tenant, records[start:start + 500])
    return ImportResult(rows=rows, imported=len(records), invalid=len(errors), errors=errors[:100])


@roster_router.put("/teams/{team_id}", response_model=TeamView, summary="Create or update a team")
async def put_team(team_id: Identifier, body: TeamIn, tenant: Tenant, leads: Leads) -> TeamView:
    doc = await leads.store.put_team(tenant, {"team_id": team_id, **body.model_dump(mode="json")}, datetime.now(UTC))
    return TeamView.model_validate(doc)


@roster_router.get("/teams", response_model=list[TeamView])
async def list_teams(tenant: Tenant, leads: Leads) -> list[TeamView]:
    return [TeamView.model_validate(t) for t in await leads.store.list_teams(tenant)]


@roster_router.get("/teams/{team_id}", response_model=TeamView)
async def get_team(team_id: Identifier, tenant: Tenant, leads: Leads) -> TeamView:
    doc = await leads.store.get_team(tenant, team_id)
    if doc is None:
        raise Problem(404, "Unknown team", f"There is no team {team_id!r}.")
    return TeamView.model_validate(doc)


@roster_router.delete("/teams/{team_id}", status_code=204)
async def delete_team(team_id: Identifier, tenant: Tenant, leads: Leads) -> Response:
    if not await leads.store.delete_team(tenant, team_id):
        raise Problem(404, "Unknown team", f"There is no team {team_id!r}.")
    return Response(status_code=204)


# ---- configuration --------------------------------------------------------------------------------------

_CONFIG: dict[str, tuple[Any, Any]] = {
    # kind: (validator of the stored value, default when none is stored)
    "policy": (TypeAdapter(AllocationPolicy), lambda: AllocationPolicy()),
    "tiers": (TypeAdapter(list[Tier]), None),
    "routing": (TypeAdapter(list[RoutingRule]), lambda: []),
    "grading": (TypeAdapter(GradingPolicy), lambda: GradingPolicy()),
}


def _dump(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [_dump(v) for v in value]
    return value


@config_router.get("/{kind}", response_model=ConfigView, summary="Read policy, tiers, routing or grading")
async def get_config(kind: str, tenant: Tenant, leads: Leads, response: Response) -> ConfigView:
    if kind not in _CONFIG:
        raise Problem(404, "Unknown configuration", f"Configurations: {', '.join(_CONFIG)}.")
    value, version = await leads.store.get_config(tenant, kind)
    if value is None:
        if kind == "tiers":
            policy = await leads.policy(tenant)
            value = _dump(domain.default_tiers(policy.high_intent_score))
        else:
            value = _dump(_CONFIG[kind][1]())
    response.headers["ETag"] = f'"{version}"'
    return ConfigView(version=version, value=value)


@config_router.put("/{kind}", response_model=ConfigView, summary="Replace policy, tiers, routing or grading")
async def put_config(kind: str, request: Request, tenant: Tenant, leads: Leads, response: Response,
                     if_match: IfMatch = None) -> ConfigView:
    if kind not in _CONFIG:
        raise Problem(404, "Unknown configuration", f"Configurations: {', '.join(_CONFIG)}.")
    try:
        value = _CONFIG[kind][0].validate_json(await request.body())
    except ValidationError as error:
        raise Problem(422, "Invalid configuration", describe_validation_error(error)) from error
    if kind == "tiers":
        ids = [t.tier_id for t in value]
        if len(set(ids)) != len(ids):
            raise Problem(422, "Invalid configuration", "tier ids must be unique")
    expected = if_match_version(if_match)
    version = await leads.store.put_config(tenant, kind, _dump(value), expected, datetime.now(UTC))
    if version is None:
        raise Problem(412, "Precondition Failed", f"The {kind} changed since version {expected}; read it again.")
    leads.forget_config(tenant)
    response.headers["ETag"] = f'"{version}"'
    return ConfigView(version=version, value=_dump(value))


# ---- tiers, pools, claims -------------------------------------------------------------------------------


@pools_router.get("/tiers", response_model=list[TierView], summary="Tiered pools (and whether an agent may open each)")
async def list_tiers(tenant: Tenant, leads: Leads, actor: Actor, agent_id: Identifier | None = None) -> list[TierView]:
    facts, minutes = None, 0.0
    if agent_id is not None:
        await require_acting_for(actor, agent_id, leads, tenant)
        try:
            doc = await leads.agent_doc(tenant, agent_id, fresh=True)
        except DomainError as error:
            raise problem_of(error) from error
        facts = agent_facts(doc, await leads.policy(tenant))
        minutes = leads.worked_minutes_today(doc, datetime.now(UTC))
    views = []
    for tier in await leads.tiers(tenant):
        may_open, why_not = None, None
        if facts is not None:
            try:
                domain.check_may_open(tier, facts, minutes)
                may_open = True
            except DomainError as error:
                may_open, why_not = False, error.message
        views.append(TierView(tier_id=tier.tier_id, name=tier.name, filter=tier.filter.model_dump(exclude_none=True),
                              grades=list(tier.grades), min_worked_minutes=tier.min_worked_minutes,
                              pool_ids=list(tier.pool_ids), may_open=may_open, why_not=why_not))
    return views


@pools_router.get("/pools/{pool_id}/leads", response_model=LeadPage, summary="Browse a public pool (numbers masked)")
async def browse_pool(pool_id: Identifier, tenant: Tenant, leads: Leads, tier: Identifier | None = None,
                      limit: Annotated[int, Query(ge=1, le=500)] = 50, cursor: str | None = None) -> LeadPage:
    extra: Doc = {}
    if tier is not None:
        try:
            extra = tier_query((await leads.tier(tenant, tier)).filter)
        except DomainError as error:
            raise problem_of(error) from error
    after = None
    if cursor:
        try:
            score, lead_id = cursor.split(":", 1)
            after = (int(score), lead_id)
        except ValueError as error:
            raise Problem(400, "Bad cursor", "Use the next_cursor of the previous page.") from error
    docs = await leads.store.browse_pool(tenant, [pool_id], extra, limit + 1, after)
    more = len(docs) > limit
    docs = docs[:limit]
    return LeadPage(items=[lead_view(d, None) for d in docs],
                    next_cursor=f"{docs[-1]['score']}:{docs[-1]['_id']}" if more else None)


@pools_router.post("/agents/{agent_id}/claims", response_model=ClaimResult,
                   summary="Claim up to `count` of the best leads of a tier (捞取)")
async def claim(agent_id: Identifier, body: ClaimIn, tenant: Tenant, leads: Leads, actor: Actor) -> ClaimResult:
    await require_acting_for(actor, agent_id, leads, tenant)
    try:
        result = await leads.claim(tenant, agent_id, body.tier_id, body.count)
    except DomainError as error:
        raise problem_of(error) from error
    holder = AgentFacts(agent_id=agent_id, active=True, role="agent", grade="", business_line="", team_id=None)
    policy = await leads.policy(tenant)
    return ClaimResult(requested=result.requested, granted=result.granted, claimed=len(result.leads),
                       holding=result.held_after, holding_cap=result.cap, quota_left=result.quota_left,
                       leads=[lead_view(d, holder, policy) for d in result.leads])


@pools_router.get("/agents/{agent_id}/leads", response_model=LeadPage, summary="The leads an agent holds")
async def held_leads(agent_id: Identifier, tenant: Tenant, leads: Leads, actor: Actor,
                     limit: Annotated[int, Query(ge=1, le=1000)] = 200, cursor: str | None = None) -> LeadPage:
    await require_acting_for(actor, agent_id, leads, tenant)
    docs = await leads.store.held_by(tenant, agent_id, limit + 1, cursor)
    more = len(docs) > limit
    docs = docs[:limit]
    policy = await leads.policy(tenant)
    return LeadPage(items=[lead_view(d, actor, policy) for d in docs], next_cursor=docs[-1]["_id"] if more else None)


@pools_router.get("/leads/{lead_id}", response_model=LeadView)
async def get_lead(lead_id: str, tenant: Tenant, leads: Leads, actor: Actor) -> LeadView:
    doc = await leads.store.get_lead(tenant, lead_id, LEAN_LEAD)
    if doc is None:
        raise Problem(404, "Unknown lead", f"There is no lead {lead_id!r}.")
    if actor.role == "agent" and doc.get("holder") not in (None, actor.agent_id):
        # a pooled lead an agent may see (masked) as in the pool; one another agent holds it may not
        raise forbidden("not_your_lead", f"{actor.agent_id} does not hold lead {lead_id}.")
    return lead_view(doc, actor, await leads.policy(tenant))


@pools_router.get("/leads/{lead_id}/history", response_model=LeadHistory,
                  summary="What the allocator knows happened to a lead, in time order")
async def lead_history(lead_id: str, tenant: Tenant, leads: Leads, actor: Actor) -> LeadHistory:
    doc = await leads.store.get_lead(tenant, lead_id, {"history": 1, "status": 1, "holder": 1})
    if doc is None:
        raise Problem(404, "Unknown lead", f"There is no lead {lead_id!r}.")
    if actor.role == "agent" and (doc.get("status") != HELD or doc.get("holder") != actor.agent_id):
        # who held it before and why they let it go is for its holder and the floor's managers
        raise forbidden("not_your_lead", f"{actor.agent_id} does not hold lead {lead_id}.")
    return history_view(doc)


async def _act(actor: AgentFacts, agent_id: str, action: Callable[[], Awaitable[Doc]], leads: LeadService,
               tenant: str) -> LeadView:
    await require_acting_for(actor, agent_id, leads, tenant)
    try:
        doc = await action()
    except DomainError as error:
        raise problem_of(error) from error
    return lead_view(doc, actor, await leads.policy(tenant))


@pools_router.post("/leads/{lead_id}/return", response_model=LeadView, summary="Return a lead to the pool (退回)")
async def return_lead(lead_id: str, body: ReturnIn, tenant: Tenant, leads: Leads, actor: Actor) -> LeadView:
    return await _act(actor, body.agent_id,
                      lambda: leads.return_lead(tenant, lead_id, body.agent_id, body.reason), leads, tenant)


@pools_router.post("/leads/{lead_id}/close", response_model=LeadView, summary="Close a lead without a sale (关单)")
async def close_lead(lead_id: str, body: CloseIn, tenant: Tenant, leads: Leads, actor: Actor) -> LeadView:
    return await _act(actor, body.agent_id, lambda: leads.close_lead(tenant, lead_id, body.agent_id, body.reason),
                      leads, tenant)


@pools_router.post("/leads/{lead_id}/win", response_model=LeadView, summary="Win a lead (成单)")
async def win_lead(lead_id: str, body: WinIn, tenant: Tenant, leads: Leads, actor: Actor) -> LeadView:
    return await _act(actor, body.agent_id, lambda: leads.win_lead(tenant, lead_id, body.agent_id, body.amount_fen),
                      leads, tenant)


@pools_router.post("/leads/{lead_id}/stage", response_model=LeadView, summary="Set the development stage")
async def change_stage(lead_id: str, body: StageIn, tenant: Tenant, leads: Leads, actor: Actor) -> LeadView:
    agent_id = body.agent_id or actor.agent_id
    # An agent changes only the leads it holds; a supervisor or manager may change any (they coach).
    holder = agent_id if body.agent_id is not None or actor.role == "agent" else None
    change = LeadStageChanged(lead_id=lead_id, stage_percent=body.stage_percent, funnel_step=body.funnel_step,
                              agent_id=holder, deal_in_progress=body.deal_in_progress, note=body.note)
    return await _act(actor, agent_id, lambda: leads.change_stage(tenant, lead_id, change), leads, tenant)


@pools_router.post("/distributions", response_model=DistributionResult,
                   summary="Push leads: to a team by need, then to an agent by strategy (分配)")
async def distribute(body: DistributionIn, tenant: Tenant, leads: Leads, actor: Actor) -> DistributionResult:
    require_supervisor(actor)
    try:
        outcome = await leads.distribute(tenant, body.lead_ids, actor=actor.agent_id, team_id=body.team_id,
                                         strategy=body.strategy, target_agent=body.target_agent)
    except DomainError as error:
        raise problem_of(error) from error
    return DistributionResult.model_validate({"placed": outcome.placements, "unplaced": outcome.unplaced})


# ---- operations -----------------------------------------------------------------------------------------


@ops_router.post("/reclaim-sweeps", response_model=SweepResult, summary="Run a reclaim sweep of this tenant now")
async def run_sweep(tenant: Tenant, leads: Leads) -> SweepResult:
    return SweepResult.model_validate(await leads.sweep_tenant(tenant))


@ops_router.post("/gradings/{week}", response_model=GradingResult, summary="Grade a finished ISO week (e.g. 2026-W47)")
async def grade_week(week: str, tenant: Tenant, roster: Roster) -> GradingResult:
    try:
        return GradingResult.model_validate(await roster.grade(tenant, week))
    except DomainError as error:
        raise problem_of(error) from error
    except ValueError as error:  # a malformed or impossible ISO week
        raise Problem(422, "Invalid week", str(error)) from error


@ops_router.get("/reports/fairness", response_model=FairnessReport,
                summary="Leads received, mean score and conversions per agent grade")
async def fairness(tenant: Tenant, leads: Leads, since: datetime | None = None,
                   until: datetime | None = None) -> FairnessReport:
    until = until or datetime.now(UTC)
    since = since or until - timedelta(days=7)
    for value, name in ((since, "since"), (until, "until")):
        if value.tzinfo is None:
            raise Problem(422, "Invalid time", f"{name} needs a time zone offset, e.g. 2026-11-24T00:00:00+08:00")
    if since >= until:
        raise Problem(422, "Invalid range", "since must be before until")
    rows = []
    for row in await leads.store.fairness(tenant, since, until):
        received = row["received"]
        rows.append(FairnessRow(agent_grade=row["_id"], agents=len(row["agents"]), leads_received=received,
                                leads_claimed=row["claimed"], mean_score=round(row["score_sum"] / received, 2),
                                conversions=row["conversions"], conversion_rate=round(row["conversions"] / received, 4)))
    return FairnessReport(since=since, until=until, rows=rows)
