"""Routes of the roster: agents (one by one or imported from CSV) and teams."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import TypeAdapter, ValidationError

from telesales_contracts.roster import Identifier
from telesales_runtime.consumer import describe_validation_error
from telesales_runtime.http import Problem, Tenant, decode_upload

from ..schemas import AgentIn, AgentPage, AgentPatch, AgentView, ImportResult, RowError, TeamIn, TeamView
from .access import CallerScope, Leads, Queries, Roster, Settings

roster_router = APIRouter(prefix="/v1", tags=["roster"])


@roster_router.put("/agents/{agent_id}", response_model=AgentView, summary="Create or update an agent")
async def put_agent(agent_id: Identifier, body: AgentIn, tenant: Tenant, roster: Roster, leads: Leads,
                    queries: Queries) -> AgentView:
    await roster.upsert(tenant=tenant, records=[{"agent_id": agent_id, **body.model_dump(mode="json")}])
    doc = await leads.agent_doc(tenant, agent_id, fresh=True)
    return await queries.agent_with_holding(tenant=tenant, doc=doc)


@roster_router.patch("/agents/{agent_id}", response_model=AgentView, summary="Override grade or ability")
async def patch_agent(agent_id: Identifier, body: AgentPatch, tenant: Tenant, roster: Roster, queries: Queries,
                      scope: CallerScope) -> AgentView:
    fields = body.model_dump(exclude_none=True)
    if not fields:
        raise Problem(422, "Nothing to change", "Send grade and/or ability.")
    if not scope.everyone:  # a supervisor grades the agents of its scope
        known = await queries.agent(tenant=tenant, agent_id=agent_id)
        if known is None:
            raise Problem(404, "Unknown agent", f"There is no agent {agent_id!r}.")
        scope.require(agent_id, known.get("team_id"), "not_your_team")
    doc = await roster.override(tenant=tenant, agent_id=agent_id, fields=fields)
    if doc is None:
        raise Problem(404, "Unknown agent", f"There is no agent {agent_id!r}.")
    return await queries.agent_with_holding(tenant=tenant, doc=doc)


@roster_router.get("/agents/{agent_id}", response_model=AgentView)
async def get_agent(agent_id: Identifier, tenant: Tenant, queries: Queries, scope: CallerScope) -> AgentView:
    if not scope.supervisor and not scope.covers(agent_id, None):
        raise scope.refusal(agent_id, "not_your_agent")  # an agent reads only its own record
    doc = await queries.agent(tenant=tenant, agent_id=agent_id)
    if doc is None:
        raise Problem(404, "Unknown agent", f"There is no agent {agent_id!r}.")
    scope.require(agent_id, doc.get("team_id"), "not_your_team")
    return await queries.agent_with_holding(tenant=tenant, doc=doc)


@roster_router.get("/agents", response_model=AgentPage, summary="The roster (a supervisor's: its team)")
async def list_agents(tenant: Tenant, queries: Queries, scope: CallerScope, team_id: Identifier | None = None,
                      role: str | None = None, active: bool | None = None,
                      limit: Annotated[int, Query(ge=1, le=1000)] = 100, cursor: str | None = None) -> AgentPage:
    teams = scope.teams_to_show(team_id)
    return await queries.agents(tenant=tenant, teams=teams, role=role, active=active, limit=limit, cursor=cursor)


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
    rows, records, errors = _read_rows(reader, settings.import_max_rows)
    if rows == 0:
        raise Problem(422, "Empty import", "The file has no data rows.")
    for start in range(0, len(records), 500):
        await roster.upsert(tenant=tenant, records=records[start:start + 500])
    return ImportResult(rows=rows, imported=len(records), invalid=len(errors), errors=errors[:100])


def _read_rows(reader: csv.DictReader[str], max_rows: int) -> tuple[int, list[dict[str, Any]], list[RowError]]:
    """(rows read, valid records, errors of the invalid rows) of an agents' CSV."""
    records: list[dict[str, Any]] = []
    errors: list[RowError] = []
    rows = 0
    seen: set[str] = set()
    for number, raw in enumerate(reader, start=1):
        rows = number
        if number > max_rows:
            raise Problem(413, "Too many rows", f"An import may have at most {max_rows} rows.")
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
    return rows, records, errors


@roster_router.put("/teams/{team_id}", response_model=TeamView, summary="Create or update a team")
async def put_team(team_id: Identifier, body: TeamIn, tenant: Tenant, roster: Roster) -> TeamView:
    doc = await roster.put_team(tenant=tenant, team={"team_id": team_id, **body.model_dump(mode="json")})
    return TeamView.model_validate(doc)


@roster_router.get("/teams", response_model=list[TeamView], summary="The teams (a supervisor's: its own)")
async def list_teams(tenant: Tenant, queries: Queries, scope: CallerScope) -> list[TeamView]:
    return await queries.teams(tenant=tenant, only=scope.teams_to_show(None))


@roster_router.get("/teams/{team_id}", response_model=TeamView)
async def get_team(team_id: Identifier, tenant: Tenant, queries: Queries, scope: CallerScope) -> TeamView:
    scope.require_team(team_id)
    team = await queries.team(tenant=tenant, team_id=team_id)
    if team is None:
        raise Problem(404, "Unknown team", f"There is no team {team_id!r}.")
    return team


@roster_router.delete("/teams/{team_id}", status_code=204)
async def delete_team(team_id: Identifier, tenant: Tenant, roster: Roster) -> Response:
    if not await roster.delete_team(tenant=tenant, team_id=team_id):
        raise Problem(404, "Unknown team", f"There is no team {team_id!r}.")
    return Response(status_code=204)
