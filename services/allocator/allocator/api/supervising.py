"""Routes of a supervisor's team view: the deal-in-progress marks of the team's leads (the requests waiting
for the supervisor, the marks in force), read from the allocator's own leads so every supervisor of the team
sees the same list, however old a request."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from telesales_contracts.roster import Identifier
from telesales_runtime.http import Problem, Tenant

from ..deal_mark_views import DealMarkPage, MarkState
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
