"""Routes of the floor running itself: an agent applies for the next lead (轮询申领), and a supervisor sees
the measured weights the 能力+平均 strategy gives its team's agents."""

from __future__ import annotations

from fastapi import APIRouter

from telesales_contracts.roster import Identifier
from telesales_runtime.http import Tenant

from ..domain import DomainError
from ..schemas_floor import AbilityWeights, AbilityWeightView, ApplicationIn, ApplicationView
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
    return ApplicationView(application_id=doc["_id"], **{k: v for k, v in doc.items() if k != "_id"})


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
