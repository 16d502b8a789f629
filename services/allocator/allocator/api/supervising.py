"""Routes of a supervisor's team view: the deal-in-progress marks of the team's leads (the requests waiting
for the supervisor, the marks in force), read from the allocator's own leads so every supervisor of the team
sees the same list, however old a request; and the leads pushed to the team on arrival that found nobody."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from telesales_contracts.roster import Identifier
from telesales_runtime.http import Problem, Tenant

from ..team_views import DealMarkPage, MarkState, UnplacedPage
from .access import CallerScope, Queries

supervising_router = APIRouter(prefix="/v1", tags=["supervising"])


def _after(cursor: str | None) -> tuple[datetime, str] | None:
    if not cursor:
        return None
    try:
        at, lead_id = cursor.split("|", 1)
        return datetime.fromisoformat(at), lead_id
    except ValueError as error:
        raise Problem(400, "Bad cursor", "Use the next_cursor of the previous page.") from error


@supervising_router.get("/teams/{team_id}/deal-marks", response_model=DealMarkPage,
                        summary="The team's deal-in-progress requests waiting for approval (or marks in force)")
async def team_deal_marks(team_id: Identifier, tenant: Tenant, queries: Queries, scope: CallerScope,
                          state: MarkState = "requested", limit: Annotated[int, Query(ge=1, le=200)] = 50,
                          cursor: Annotated[str | None, Query(max_length=200)] = None) -> DealMarkPage:
    scope.require_team(team_id)
    return await queries.deal_marks(tenant=tenant, team_id=team_id, state=state, limit=limit, after=_after(cursor))


@supervising_router.get("/teams/{team_id}/unplaced-leads", response_model=UnplacedPage,
                        summary="Leads the push on arrival to this team could not place (they wait in the pool)")
async def team_unplaced_leads(team_id: Identifier, tenant: Tenant, queries: Queries, scope: CallerScope,
                              limit: Annotated[int, Query(ge=1, le=200)] = 50,
                              cursor: Annotated[str | None, Query(max_length=200)] = None) -> UnplacedPage:
    scope.require_team(team_id)
    return await queries.unplaced(tenant=tenant, team_id=team_id, limit=limit, after=_after(cursor))
