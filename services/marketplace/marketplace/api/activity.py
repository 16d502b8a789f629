"""Routes of buying tips and of what buyers do with them: visit, learn, rate, forward."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from telesales_runtime.auth import Caller as Principal
from telesales_runtime.http import Problem, Tenant

from .. import domain
from ..schemas import (
    ForwardIn,
    ForwardView,
    LearnerView,
    LearnIn,
    LearnView,
    PurchaseView,
    RatingIn,
    RatingView,
    TipFunnelView,
    VisitView,
)
from ..service import activity, purchases, reports
from .common import Caller, Market, purchase_view, require_user, run

purchases_router = APIRouter(prefix="/v1", tags=["purchases"])
activity_router = APIRouter(prefix="/v1", tags=["learn, rate, forward"])


@purchases_router.post("/tips/{tip_id}/purchases", response_model=PurchaseView, status_code=202,
                       responses={200: {"description": "The purchase as it stands (pending or granted)."}},
                       summary="Buy a tip: the ledger is asked to pay; access once it has posted the transfer")
async def buy(tip_id: str, tenant: Tenant, market: Market, actor: Caller, response: Response) -> PurchaseView:
    result = await run(purchases.buy(market=market, tenant=tenant, actor=actor, tip_id=tip_id))
    if result.replayed:
        response.status_code = 200
    return purchase_view(result.purchase.as_doc())


@purchases_router.get("/tips/{tip_id}/purchases/mine", response_model=PurchaseView, summary="The caller's purchase")
async def my_purchase(tip_id: str, tenant: Tenant, market: Market, actor: Caller) -> PurchaseView:
    doc = await reports.my_purchase(market=market, tenant=tenant, buyer_id=actor.user_id, tip_id=tip_id)
    if doc is None:
        raise Problem(404, "No purchase", "You have not asked to buy this tip.", code="unknown_purchase")
    return purchase_view(doc)


# ---- activity -------------------------------------------------------------------------------------------


@activity_router.post("/tips/{tip_id}/visits", response_model=VisitView, status_code=201,
                      summary="Record that the caller opened the tip's page")
async def visit(tip_id: str, tenant: Tenant, market: Market, actor: Caller) -> VisitView:
    return VisitView.model_validate(await run(activity.visit(market=market, tenant=tenant, actor=actor, tip_id=tip_id)))


@activity_router.post("/tips/{tip_id}/learning", response_model=LearnView,
                      summary="Report playback progress and watch time (buyers)")
async def learn(tip_id: str, body: LearnIn, tenant: Tenant, market: Market, actor: Caller) -> LearnView:
    report = domain.LearnReport(body.session_id, body.progress_percent, body.session_seconds)
    return LearnView.model_validate(await run(activity.learn(market=market, tenant=tenant, actor=actor, tip_id=tip_id,
                                                             report=report)))


@activity_router.get("/tips/{tip_id}/funnel", response_model=TipFunnelView,
                     summary="A tip's funnel: review pass rate, purchase, learn, forward and rewatch rates")
async def tip_funnel(tip_id: str, tenant: Tenant, market: Market) -> TipFunnelView:
    return TipFunnelView.model_validate(await run(reports.tip_funnel(market=market, tenant=tenant, tip_id=tip_id)))


@activity_router.get("/learners/{user_id}", response_model=LearnerView, summary="Tips learned, watch time, deep learner")
async def learner(user_id: str, tenant: Tenant, market: Market, caller: Principal, request: Request) -> LearnerView:
    await require_user(caller, request, tenant, user_id)
    return LearnerView.model_validate(await reports.learner(market=market, tenant=tenant, user_id=user_id))


@activity_router.post("/tips/{tip_id}/ratings", response_model=RatingView, status_code=201,
                      summary="Rate the listed version 1-5 (buyers, once per version)")
async def rate(tip_id: str, body: RatingIn, tenant: Tenant, market: Market, actor: Caller) -> RatingView:
    return RatingView.model_validate(await run(activity.rate(market=market, tenant=tenant, actor=actor, tip_id=tip_id,
                                                             stars=body.stars, comment=body.comment)))


@activity_router.get("/tips/{tip_id}/ratings", response_model=list[RatingView], summary="A tip's ratings, newest first")
async def ratings(tip_id: str, tenant: Tenant, market: Market,
                  limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[RatingView]:
    docs = await reports.ratings(market=market, tenant=tenant, tip_id=tip_id, limit=limit)
    return [RatingView.model_validate(d) for d in docs]


@activity_router.post("/tips/{tip_id}/forwards", response_model=ForwardView, status_code=201,
                      summary="Forward a listed tip to a colleague")
async def forward(tip_id: str, body: ForwardIn, tenant: Tenant, market: Market, actor: Caller, caller: Principal,
                  request: Request) -> ForwardView:
    if caller.has("supervisor"):  # a supervisor pushes tips to its team; an agent shares with any colleague
        await require_user(caller, request, tenant, body.to_user_id)
    return ForwardView.model_validate(await run(activity.forward(market=market, tenant=tenant, actor=actor, tip_id=tip_id,
                                                                 to_user_id=body.to_user_id, note=body.note)))
