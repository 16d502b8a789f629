"""Routes of pools and leads: tiers, browsing a pool, claims (捞取), an agent's leads, a lead and its
history, the agent's acts on a lead (return, close, win, stage) and push distribution (分配)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query

from telesales_contracts.activity import LeadStageChanged
from telesales_contracts.roster import Identifier
from telesales_runtime.access_log_api import MASKED_REASON_RESPONSE
from telesales_runtime.http import Problem, Tenant
from telesales_runtime.scope import Scope

from ..domain import AgentFacts, DomainError
from ..lead_views import lead_view
from ..queries import LeadQueries, NotVisible
from ..schemas import (
    ClaimIn,
    ClaimResult,
    CloseIn,
    DealMarkDecisionIn,
    DealMarkIn,
    DistributionIn,
    DistributionResult,
    LeadHistory,
    LeadPage,
    LeadView,
    ReturnIn,
    StageIn,
    TierView,
    WinIn,
)
from ..win_views import WinConfirmIn, WinRejectIn
from .access import (
    Actor,
    CallerScope,
    Leads,
    Queries,
    Show,
    Shown,
    not_visible,
    problem_of,
    require_acting_for,
    require_lead_in_scope,
    require_supervisor,
    require_supervisor_of,
)

pools_router = APIRouter(prefix="/v1", tags=["pools and leads"])


@pools_router.get("/tiers", response_model=list[TierView], summary="Tiered pools (and whether an agent may open each)")
async def list_tiers(tenant: Tenant, queries: Queries, scope: CallerScope, agent_id: Identifier | None = None
                     ) -> list[TierView]:
    if agent_id is not None:
        await require_acting_for(scope, agent_id, queries, tenant)
    try:
        return await queries.tiers(tenant=tenant, agent_id=agent_id)
    except DomainError as error:
        raise problem_of(error) from error


@pools_router.get("/pools/{pool_id}/leads", response_model=LeadPage, summary="Browse a public pool (numbers masked)")
async def browse_pool(pool_id: Identifier, tenant: Tenant, queries: Queries, tier: Identifier | None = None,
                      limit: Annotated[int, Query(ge=1, le=500)] = 50, cursor: str | None = None) -> LeadPage:
    try:
        tier_filter = None if tier is None else await queries.tier_filter(tenant=tenant, tier_id=tier)
    except DomainError as error:
        raise problem_of(error) from error
    after = None
    if cursor:
        try:
            score, lead_id = cursor.split(":", 1)
            after = (int(score), lead_id)
        except ValueError as error:
            raise Problem(400, "Bad cursor", "Use the next_cursor of the previous page.") from error
    return await queries.pool_page(tenant=tenant, pool_id=pool_id, tier_filter=tier_filter, limit=limit, after=after)


@pools_router.post("/agents/{agent_id}/claims", response_model=ClaimResult,
                   summary="Claim up to `count` of the best leads of a tier (捞取)",
                   responses=MASKED_REASON_RESPONSE)
async def claim(agent_id: Identifier, body: ClaimIn, tenant: Tenant, leads: Leads, queries: Queries,
                actor: Actor, scope: CallerScope, show: Show) -> ClaimResult:
    await require_acting_for(scope, agent_id, queries, tenant)
    try:
        result = await leads.claim(tenant=tenant, agent_id=agent_id, tier_id=body.tier_id, count=body.count)
    except DomainError as error:
        raise problem_of(error) from error
    holder = AgentFacts(agent_id=agent_id, active=True, role="agent", grade="", business_line="", team_id=None)
    policy = await leads.policy(tenant)
    return ClaimResult(requested=result.requested, granted=result.granted, claimed=len(result.leads),
                       holding=result.held_after, holding_cap=result.cap, quota_left=result.quota_left,
                       leads=await show.views([lead_view(d, holder, policy) for d in result.leads], actor))


@pools_router.get("/agents/{agent_id}/leads", response_model=LeadPage, summary="The leads an agent holds",
                   responses=MASKED_REASON_RESPONSE)
async def held_leads(agent_id: Identifier, tenant: Tenant, queries: Queries, actor: Actor, scope: CallerScope,
                     show: Show, limit: Annotated[int, Query(ge=1, le=1000)] = 200,
                     cursor: str | None = None) -> LeadPage:
    await require_acting_for(scope, agent_id, queries, tenant)
    page = await queries.held_page(tenant=tenant, agent_id=agent_id, viewer=actor, limit=limit, cursor=cursor)
    return page.model_copy(update={"items": await show.views(page.items, actor)})


@pools_router.get("/leads/{lead_id}", response_model=LeadView,
                   responses=MASKED_REASON_RESPONSE)
async def get_lead(lead_id: str, tenant: Tenant, queries: Queries, actor: Actor, scope: CallerScope,
                   show: Show) -> LeadView:
    await require_lead_in_scope(scope, lead_id, queries, tenant)
    try:
        view = await queries.lead(tenant=tenant, lead_id=lead_id, viewer=actor)
    except NotVisible as error:
        raise not_visible(error) from error
    if view is None:
        raise Problem(404, "Unknown lead", f"There is no lead {lead_id!r}.")
    return await show.view(view, actor)


@pools_router.get("/leads/{lead_id}/history", response_model=LeadHistory,
                  summary="What the allocator knows happened to a lead, in time order")
async def lead_history(lead_id: str, tenant: Tenant, queries: Queries, actor: Actor,
                       scope: CallerScope) -> LeadHistory:
    await require_lead_in_scope(scope, lead_id, queries, tenant)
    try:
        history = await queries.history(tenant=tenant, lead_id=lead_id, viewer=actor)
    except NotVisible as error:
        raise not_visible(error) from error
    if history is None:
        raise Problem(404, "Unknown lead", f"There is no lead {lead_id!r}.")
    return history


async def _act(actor: AgentFacts, scope: Scope, agent_id: str, action: Callable[[], Awaitable[dict[str, Any]]],
               queries: LeadQueries, tenant: str, show: Shown) -> LeadView:
    await require_acting_for(scope, agent_id, queries, tenant)
    try:
        doc = await action()
    except DomainError as error:
        raise problem_of(error) from error
    return await show.view(await queries.view_of(doc, tenant=tenant, viewer=actor), actor)


@pools_router.post("/leads/{lead_id}/return", response_model=LeadView, summary="Return a lead to the pool (退回)",
                   responses=MASKED_REASON_RESPONSE)
async def return_lead(lead_id: str, body: ReturnIn, tenant: Tenant, leads: Leads, queries: Queries,
                      actor: Actor, scope: CallerScope, show: Show) -> LeadView:
    return await _act(actor, scope, body.agent_id, lambda: leads.return_lead(
        tenant=tenant, lead_id=lead_id, agent_id=body.agent_id, reason=body.reason), queries, tenant, show)


@pools_router.post("/leads/{lead_id}/close", response_model=LeadView, summary="Close a lead without a sale (关单)",
                   responses=MASKED_REASON_RESPONSE)
async def close_lead(lead_id: str, body: CloseIn, tenant: Tenant, leads: Leads, queries: Queries,
                     actor: Actor, scope: CallerScope, show: Show) -> LeadView:
    return await _act(actor, scope, body.agent_id, lambda: leads.close_lead(
        tenant=tenant, lead_id=lead_id, agent_id=body.agent_id, reason=body.reason), queries, tenant, show)


@pools_router.post("/leads/{lead_id}/win", response_model=LeadView, summary="Win a lead (成单)",
                   responses=MASKED_REASON_RESPONSE)
async def win_lead(lead_id: str, body: WinIn, tenant: Tenant, leads: Leads, queries: Queries,
                   actor: Actor, scope: CallerScope, show: Show) -> LeadView:
    return await _act(actor, scope, body.agent_id, lambda: leads.win_lead(
        tenant=tenant, lead_id=lead_id, agent_id=body.agent_id, amount_fen=body.amount_fen), queries, tenant, show)


@pools_router.post("/leads/{lead_id}/stage", response_model=LeadView, summary="Set the development stage",
                   responses=MASKED_REASON_RESPONSE)
async def change_stage(lead_id: str, body: StageIn, tenant: Tenant, leads: Leads, queries: Queries,
                       actor: Actor, scope: CallerScope, show: Show) -> LeadView:
    agent_id = body.agent_id or actor.agent_id
    # An agent changes only the leads it holds; a supervisor or manager those its team holds (they coach).
    holder = agent_id if body.agent_id is not None or actor.role == "agent" else None
    if holder is None:
        await require_lead_in_scope(scope, lead_id, queries, tenant)
    change = LeadStageChanged(lead_id=lead_id, stage_percent=body.stage_percent, funnel_step=body.funnel_step,
                              agent_id=holder, deal_in_progress=body.deal_in_progress, note=body.note)
    return await _act(actor, scope, agent_id, lambda: leads.change_stage(tenant=tenant, lead_id=lead_id, change=change),
                      queries, tenant, show)


@pools_router.post("/leads/{lead_id}/deal-mark", response_model=LeadView,
                   summary="Ask the holder's supervisor to mark a deal in progress (protects nothing until approved)",
                   responses=MASKED_REASON_RESPONSE)
async def request_deal_mark(lead_id: str, body: DealMarkIn, tenant: Tenant, leads: Leads, queries: Queries,
                            actor: Actor, scope: CallerScope, show: Show) -> LeadView:
    return await _act(actor, scope, body.agent_id, lambda: leads.request_deal_mark(
        tenant=tenant, lead_id=lead_id, agent_id=body.agent_id, note=body.note), queries, tenant, show)


async def _supervise(actor: AgentFacts, scope: Scope, supervised: str | None, refusal: str,
                     action: Callable[[], Awaitable[dict[str, Any]]], queries: LeadQueries, tenant: str,
                     show: Shown) -> LeadView:
    """A supervisor's act on an agent's lead (`supervised`: the holder or the winner), answered as `_act`."""
    await require_supervisor_of(actor, scope, supervised, queries, tenant, refusal=refusal)
    try:
        doc = await action()
    except DomainError as error:
        raise problem_of(error) from error
    return await show.view(await queries.view_of(doc, tenant=tenant, viewer=actor), actor)


@pools_router.post("/leads/{lead_id}/deal-mark/decision", response_model=LeadView,
                   summary="Approve (for the policy's deal_mark_days) or refuse a deal-in-progress request",
                   responses=MASKED_REASON_RESPONSE)
async def decide_deal_mark(lead_id: str, body: DealMarkDecisionIn, tenant: Tenant, leads: Leads, queries: Queries,
                           actor: Actor, scope: CallerScope, show: Show) -> LeadView:
    return await _supervise(actor, scope, await queries.holder(tenant=tenant, lead_id=lead_id),
                            "Only the holder's supervisor decides a deal-in-progress mark.",
                            lambda: leads.decide_deal_mark(tenant=tenant, lead_id=lead_id, request_id=body.request_id,
                                                           decided_by=actor.agent_id,
                                                           approve=body.decision == "approved", reason=body.reason),
                            queries, tenant, show)


@pools_router.post("/leads/{lead_id}/win/confirmation", response_model=LeadView,
                   summary="Confirm a declared win (the winner's supervisor): only confirmed wins count",
                   responses=MASKED_REASON_RESPONSE)
async def confirm_win(lead_id: str, body: WinConfirmIn, tenant: Tenant, leads: Leads, queries: Queries,
                      actor: Actor, scope: CallerScope, show: Show) -> LeadView:
    return await _supervise(actor, scope, await queries.winner(tenant=tenant, lead_id=lead_id),
                            "Only the winner's supervisor confirms a win.",
                            lambda: leads.confirm_win(tenant=tenant, lead_id=lead_id, supervisor=actor.agent_id,
                                                      order_ref=body.order_ref, amount_fen=body.amount_fen),
                            queries, tenant, show)


@pools_router.post("/leads/{lead_id}/win/rejection", response_model=LeadView,
                   summary="Reject a declared, unconfirmed win (the winner's supervisor): the winner holds the lead again",
                   responses=MASKED_REASON_RESPONSE)
async def reject_win(lead_id: str, body: WinRejectIn, tenant: Tenant, leads: Leads, queries: Queries,
                     actor: Actor, scope: CallerScope, show: Show) -> LeadView:
    return await _supervise(actor, scope, await queries.winner(tenant=tenant, lead_id=lead_id),
                            "Only the winner's supervisor rejects a win.",
                            lambda: leads.reject_win(tenant=tenant, lead_id=lead_id, supervisor=actor.agent_id,
                                                     reason=body.reason),
                            queries, tenant, show)


@pools_router.post("/distributions", response_model=DistributionResult,
                   summary="Push leads: to a team by need, then to an agent by strategy (分配)")
async def distribute(body: DistributionIn, tenant: Tenant, leads: Leads, queries: Queries, actor: Actor,
                     scope: CallerScope) -> DistributionResult:
    require_supervisor(actor)
    if body.team_id is not None:
        scope.require_team(body.team_id)
    if body.target_agent is not None:
        await require_acting_for(scope, body.target_agent, queries, tenant)
    try:
        outcome = await leads.distribute(tenant=tenant, lead_ids=body.lead_ids, actor=actor.agent_id,
                                         team_id=body.team_id, strategy=body.strategy, target_agent=body.target_agent,
                                         within_teams=scope.teams_to_show(None))
    except DomainError as error:
        raise problem_of(error) from error
    return DistributionResult.model_validate({"placed": outcome.placements, "unplaced": outcome.unplaced})
