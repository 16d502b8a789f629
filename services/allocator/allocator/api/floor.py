"""Routes of the floor running itself: an agent applies for the next lead (轮询申领), sees and cancels its
applications (its team's supervisor sees them too), and a supervisor sees the measured weights the 能力+平均
strategy gives its team's agents."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from telesales_contracts.roster import Identifier
from telesales_runtime.http import Tenant

from ..domain import DomainError
from ..schemas_floor import (
    AbilityWeights,
    AbilityWeightView,
    ApplicationIn,
    ApplicationPage,
    ApplicationStatus,
    ApplicationView,
)
from ..store import Doc
from .access import CallerScope, Leads, Queries, problem_of, require_acting_for

floor_router = APIRouter(prefix="/v1", tags=["pools and leads"])


@floor_router.post("/agents/{agent_id}/applications", response_model=ApplicationView, status_code=201,
                   summary="Apply for the next lead of a pool (轮询申领): served now or in turn")
async def apply(agent_id: Identifier, body: ApplicationIn, tenant: Tenant, leads: Leads, queries: Queries,
                scope: CallerScope) -> ApplicationView:
    await require_acting_for(scope, agent_id, queries, tenant)
    try:
        doc = await leads.apply(tenant=tenant, agent_id=agent_id, pool_id=body.pool_id)
    except DomainError as error:
        raise problem_of(error) from error
    return application_view(doc)


def application_view(doc: Doc) -> ApplicationView:
    return ApplicationView(application_id=doc["_id"], **{k: v for k, v in doc.items() if k not in ("_id", "tenant_id")})


@floor_router.get("/agents/{agent_id}/applications", response_model=ApplicationPage,
                  summary="An agent's applications for leads, newest first (the agent, or its team's supervisor)")
async def list_applications(agent_id: Identifier, tenant: Tenant, leads: Leads, queries: Queries, scope: CallerScope,
                            status: Annotated[list[ApplicationStatus] | None, Query()] = None,
                            limit: Annotated[int, Query(ge=1, le=200)] = 20,
                            cursor: str | None = None) -> ApplicationPage:
    await require_acting_for(scope, agent_id, queries, tenant)
    try:
        docs, next_cursor = await leads.applications_of(tenant=tenant, agent_id=agent_id, statuses=status,
                                                        limit=limit, cursor=cursor)
        agent = await leads.agent_doc(tenant, agent_id)
    except DomainError as error:
        raise problem_of(error) from error
    return ApplicationPage(items=[application_view(d) for d in docs], next_cursor=next_cursor,
                           pools=await leads.pools_of_line(tenant, agent.get("business_line", "default")))


@floor_router.delete("/agents/{agent_id}/applications/{application_id}", response_model=ApplicationView,
                     summary="Cancel the agent's pending application (409 once served or refused)")
async def cancel_application(agent_id: Identifier, application_id: Identifier, tenant: Tenant, leads: Leads,
                             queries: Queries, scope: CallerScope) -> ApplicationView:
    await require_acting_for(scope, agent_id, queries, tenant)
    try:
        doc = await leads.cancel_application(tenant=tenant, agent_id=agent_id, application_id=application_id)
    except DomainError as error:
        raise problem_of(error) from error
    return application_view({**doc, "position": None})


@floor_router.get("/teams/{team_id}/ability-weights", response_model=AbilityWeights,
                  summary="The measured weights 能力+平均 gives the team's agents (conversion over the window)")
async def ability_weights(team_id: Identifier, tenant: Tenant, leads: Leads, scope: CallerScope) -> AbilityWeights:
    scope.require_team(team_id)
    policy = await leads.policy(tenant)
    weights = await leads.team_ability_weights(tenant=tenant, team_id=team_id)
    return AbilityWeights(team_id=team_id, window_days=policy.ability_window_days, min_leads=policy.ability_min_leads,
                          floor=policy.ability_floor,
                          agents=[AbilityWeightView(agent_id=w.agent_id, received=w.received, won=w.won,
                                                    conversion=w.conversion, weight=w.weight,
                                                    floor_applied=w.floor_applied) for w in weights])
