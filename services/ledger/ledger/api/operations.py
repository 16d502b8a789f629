"""Allocation (配置), idle reclaim (回收) and reallocation requests, redemption (兑换), blind boxes (盲盒)
and the top sellers report."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response

from telesales_contracts.ledger import TransferId
from telesales_contracts.roster import Role
from telesales_runtime.auth import Caller
from telesales_runtime.http import Problem, Tenant

from ..schemas import (
    AllocationIn,
    AllocationView,
    BlindBoxIn,
    BlindBoxReplay,
    BlindBoxView,
    ReallocationDecisionIn,
    ReallocationRequestIn,
    ReallocationRequestView,
    ReclaimRun,
    RedemptionIn,
    RedemptionView,
    TopSeller,
)
from ..service import LedgerService, RosterSelection
from ..store import Doc
from .common import Actor, CallerScope, Ledger, Queries, answered, aware, require_user, run, users_in_scope
from .views import allocation_view, blind_box_view, redemption_view, request_view

operations_router = APIRouter(prefix="/v1", tags=["allocation, reclaim, redemption, blind box"])


@operations_router.post("/allocations", response_model=AllocationView, status_code=201,
                        summary="Allocate coins from the budget to users, one by one or by role and grade (配置)")
async def allocate(body: AllocationIn, tenant: Tenant, ledger: Ledger, actor: Actor,
                   response: Response) -> AllocationView:
    selection = None
    if body.user_ids is None:
        selection = RosterSelection(roles=tuple(r.value for r in body.roles or [Role.AGENT]),
                                    grades=tuple(body.grades or ()), team_id=body.team_id,
                                    business_line=body.business_line)
    result = await run(ledger.allocate(tenant=tenant, allocation_id=body.id, amount=body.amount, actor=actor,
                                       user_ids=body.user_ids, selection=selection, note=body.note))
    answered(response, result)
    return allocation_view(result.doc)


@operations_router.get("/allocations/{allocation_id}", response_model=AllocationView)
async def get_allocation(allocation_id: TransferId, tenant: Tenant, queries: Queries,
                         scope: CallerScope) -> AllocationView:
    """A supervisor sees the lines of its scope's users only (`total` is theirs)."""
    doc = await queries.operation(tenant=tenant, op_id=allocation_id, kind="allocation")
    if doc is None:
        raise Problem(404, "Unknown allocation", f"There is no allocation {allocation_id!r}.", code="unknown_allocation")
    return allocation_view(doc, only=await users_in_scope(scope, queries, tenant))


@operations_router.post("/reclaims", response_model=ReclaimRun, summary="Reclaim idle wallets of this tenant now (回收)")
async def reclaim(tenant: Tenant, ledger: Ledger, actor: Actor) -> ReclaimRun:
    done = await ledger.reclaim_idle(tenant=tenant)
    return ReclaimRun(reclaimed=done, total=sum(d["amount"] for d in done))


@operations_router.post("/reallocation-requests", response_model=ReallocationRequestView, status_code=201,
                        summary="Ask to get coins again after a reclaim")
async def request_reallocation(body: ReallocationRequestIn, tenant: Tenant, ledger: Ledger, queries: Queries,
                               actor: Actor, scope: CallerScope) -> ReallocationRequestView:
    await require_user(scope, queries, tenant, body.user_id)
    return request_view(await run(ledger.request_reallocation(tenant=tenant, user_id=body.user_id, reason=body.reason,
                                                              actor=actor)))


@operations_router.get("/reallocation-requests", response_model=list[ReallocationRequestView])
async def list_reallocation_requests(tenant: Tenant, queries: Queries, scope: CallerScope, status: str | None = None,
                                     limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[ReallocationRequestView]:
    """A supervisor's list: the requests of its scope's users."""
    users = await users_in_scope(scope, queries, tenant)
    return [request_view(d) for d in await queries.reallocation_requests(tenant=tenant, status=status, limit=limit,
                                                                         user_ids=users)]


@operations_router.get("/reallocation-requests/{request_id}", response_model=ReallocationRequestView)
async def get_reallocation_request(request_id: str, tenant: Tenant, queries: Queries,
                                   scope: CallerScope) -> ReallocationRequestView:
    doc = await queries.reallocation_request(tenant=tenant, request_id=request_id)
    if doc is None:
        raise Problem(404, "Unknown request", f"There is no request {request_id!r}.", code="unknown_request")
    await require_user(scope, queries, tenant, doc["user_id"])
    return request_view(doc)


@operations_router.post("/reallocation-requests/{request_id}/approve", response_model=ReallocationRequestView,
                        summary="Approve at the caller's level (层层审批); the last level gives the coins back "
                                "(with an optional allocation now)")
async def approve_reallocation(request_id: str, tenant: Tenant, ledger: Ledger, actor: Actor, response: Response,
                               caller: Caller, body: ReallocationDecisionIn | None = None) -> ReallocationRequestView:
    body = body or ReallocationDecisionIn()
    result = await run(ledger.decide_reallocation(tenant=tenant, request_id=request_id, approve=True, actor=actor,
                                                  operator=caller.has("operator", "admin"), amount=body.amount,
                                                  reason=body.reason))
    answered(response, result)
    response.status_code = 200
    return request_view(result.doc)


@operations_router.post("/reallocation-requests/{request_id}/reject", response_model=ReallocationRequestView,
                        summary="Reject, by the level whose turn it is")
async def reject_reallocation(request_id: str, tenant: Tenant, ledger: Ledger, actor: Actor, response: Response,
                              caller: Caller, body: ReallocationDecisionIn | None = None) -> ReallocationRequestView:
    body = body or ReallocationDecisionIn()
    if body.amount is not None:
        raise Problem(422, "Invalid amount", "A rejection allocates nothing.", code="invalid_amount")
    result = await run(ledger.decide_reallocation(tenant=tenant, request_id=request_id, approve=False, actor=actor,
                                                  operator=caller.has("operator", "admin"), reason=body.reason))
    answered(response, result)
    response.status_code = 200
    return request_view(result.doc)


@operations_router.post("/redemptions", response_model=RedemptionView, status_code=201,
                        summary="Convert a seller's earnings in the points mall (100 coins = 1 yuan, whole yuan)")
async def redeem(body: RedemptionIn, tenant: Tenant, ledger: Ledger, actor: Actor,
                 response: Response) -> RedemptionView:
    result = await run(ledger.redeem(tenant=tenant, redemption_id=body.id, user_id=body.user_id, actor=actor,
                                     coins=body.coins, yuan=body.yuan, item=body.item))
    answered(response, result)
    return redemption_view(result.doc)


@operations_router.post("/blind-boxes", response_model=BlindBoxView, status_code=201,
                        summary="Draw random bonuses from the bonus pool for top contributors (盲盒)")
async def blind_box(body: BlindBoxIn, tenant: Tenant, ledger: Ledger, actor: Actor,
                    response: Response) -> BlindBoxView:
    result = await run(ledger.blind_box(tenant=tenant, draw_id=body.id, actor=actor, min_amount=body.min_amount,
                                        max_amount=body.max_amount, user_ids=body.user_ids, top=body.top,
                                        since=body.since, until=body.until, seed=body.seed))
    answered(response, result)
    return blind_box_view(result.doc)


async def _draw(tenant: str, queries: Queries, draw_id: str) -> Doc:
    doc = await queries.operation(tenant=tenant, op_id=draw_id, kind="blind_box")
    if doc is None:
        raise Problem(404, "Unknown draw", f"There is no blind-box draw {draw_id!r}.", code="unknown_draw")
    return doc


@operations_router.get("/blind-boxes/{draw_id}", response_model=BlindBoxView)
async def get_blind_box(draw_id: TransferId, tenant: Tenant, queries: Queries) -> BlindBoxView:
    return blind_box_view(await _draw(tenant, queries, draw_id))


@operations_router.get("/blind-boxes/{draw_id}/replay", response_model=BlindBoxReplay,
                       summary="Recompute a draw from its recorded seed and compare")
async def replay_blind_box(draw_id: TransferId, tenant: Tenant, queries: Queries) -> BlindBoxReplay:
    doc = await _draw(tenant, queries, draw_id)
    replayed = LedgerService.replay_draw(doc)
    recorded = [{"user_id": a["user_id"], "amount": a["amount"]} for a in doc["awards"]]
    return BlindBoxReplay(draw_id=draw_id, seed=doc["seed"], algorithm=doc["algorithm"], matches=recorded == replayed,
                          recorded=doc["awards"], replayed=replayed)


@operations_router.get("/reports/top-sellers", response_model=list[TopSeller],
                       summary="Sellers by coins earned from purchases (blind-box candidates)")
async def top_sellers(tenant: Tenant, queries: Queries, since: datetime, until: datetime | None = None,
                      limit: Annotated[int, Query(ge=1, le=1000)] = 20) -> list[TopSeller]:
    until = aware(until, "until") or datetime.now(UTC)
    ranked = await queries.top_sellers(tenant=tenant, since=aware(since, "since") or until, until=until, limit=limit)
    return [TopSeller(user_id=user, coins=coins) for user, coins in ranked]
