"""Routes of sellers (sales, earnings, redemptions) and of the struggle push."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import httpx
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from telesales_contracts.roster import Identifier
from telesales_runtime.auth import Caller as Principal
from telesales_runtime.http import Problem, Tenant

from ..metrics_client import struggle_rates
from ..schemas import RedemptionIn, SalesPage, SellerView, StruggleIn, StruggleView
from ..service import reports, sellers
from ..service import struggle as struggle_push
from .common import Caller, Market, purchase_view, require_user, run

sellers_router = APIRouter(prefix="/v1", tags=["sellers"])
struggle_router = APIRouter(prefix="/v1", tags=["struggle push"])


# ---- sellers --------------------------------------------------------------------------------------------


@sellers_router.get("/sellers/{seller_id}", response_model=SellerView, summary="A seller's tips, sales, ratings, earnings")
async def seller(seller_id: str, tenant: Tenant, market: Market) -> SellerView:
    return SellerView(seller_id=seller_id, **await reports.seller_summary(market=market, tenant=tenant,
                                                                         seller_id=seller_id))


@sellers_router.get("/sellers/{seller_id}/sales", response_model=SalesPage, summary="A seller's sales, newest first")
async def sales(seller_id: str, tenant: Tenant, market: Market, caller: Principal, request: Request,
                before: datetime | None = None, limit: Annotated[int, Query(ge=1, le=500)] = 50) -> SalesPage:
    await require_user(caller, request, tenant, seller_id)
    docs, next_before = await reports.seller_sales(market=market, tenant=tenant, seller_id=seller_id, limit=limit,
                                                   before=before)
    return SalesPage(items=[purchase_view(d) for d in docs], next_before=next_before)


@sellers_router.post("/sellers/{seller_id}/redemptions", summary="Redeem earnings through the ledger "
                     "(its answer and status passed on: 201, 200 on a retry, 409 insufficient_funds, ...)")
async def redeem(seller_id: str, body: RedemptionIn, tenant: Tenant, market: Market, actor: Caller) -> Response:
    try:
        answer = await run(sellers.redeem(market=market, tenant=tenant, actor=actor, seller_id=seller_id,
                                          redemption_id=body.id, yuan=body.yuan, item=body.item))
    except httpx.HTTPError as error:
        raise Problem(502, "Ledger unavailable", "The ledger did not answer; retry with the same id.",
                      code="ledger_unavailable") from error
    headers = {k: v for k, v in answer.headers.items() if k.lower() == "idempotent-replayed"}
    return JSONResponse(answer.json(), status_code=answer.status_code, headers=headers,
                        media_type=answer.headers.get("content-type", "application/json"))


# ---- struggle push --------------------------------------------------------------------------------------


@struggle_router.post("/agents/{agent_id}/struggle", response_model=StruggleView,
                      summary="From an agent's and its team's funnel rates: the lagging step, its call stage, and "
                      "the best-rated tips of that stage the agent has not bought (also published as an event). "
                      "Without a body the rates come from the metrics service (GET /v1/agents/{id}/indicators); "
                      "502/503 when it fails or does not answer")
async def struggle(agent_id: Identifier, tenant: Tenant, market: Market, request: Request, caller: Principal,
                   body: StruggleIn | None = None) -> StruggleView:
    await require_user(caller, request, tenant, agent_id)
    if body is None:
        body = await run(struggle_rates(request.app.state.metrics_http, tenant, agent_id))
    return StruggleView.model_validate(await run(struggle_push.recommend(
        market=market, tenant=tenant, agent_id=agent_id, team_id=body.team_id, agent=body.agent, team=body.team)))


@struggle_router.get("/agents/{agent_id}/recommendations/latest", response_model=StruggleView,
                     summary="The agent's latest struggle recommendation (for a dialer or CRM that polls)")
async def latest_recommendation(agent_id: Identifier, tenant: Tenant, market: Market, caller: Principal,
                                request: Request) -> StruggleView:
    await require_user(caller, request, tenant, agent_id)
    doc = await struggle_push.latest_recommendation(market=market, tenant=tenant, agent_id=agent_id)
    if doc is None:
        raise Problem(404, "No recommendation", f"Nothing was recommended to {agent_id} yet.",
                      code="unknown_recommendation")
    return StruggleView.model_validate(doc)
