"""HTTP API of the marketplace. Every route works within one tenant (the token's) and needs a role of
ACCESS. The caller is the token's sub; operators (and admin) review and delist tips, everyone else acts as
an agent (writes, buys, learns, rates). Errors are problem+json with a stable `code`."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import TypeAdapter, ValidationError

from telesales_contracts.marketplace import CallStage
from telesales_contracts.roster import Identifier
from telesales_runtime.auth import Caller as Principal
from telesales_runtime.auth import require_self
from telesales_runtime.http import Problem, Tenant, domain_problem, from_app_state, problem_response

from . import domain
from .domain import DomainError
from .metrics_client import struggle_rates
from .schemas import (
    DelistIn,
    ForwardIn,
    ForwardView,
    LearnerView,
    LearnIn,
    LearnView,
    PurchaseView,
    RatingIn,
    RatingView,
    RedemptionIn,
    ReviewIn,
    SalesPage,
    SellerView,
    StruggleIn,
    StruggleView,
    TipFunnelView,
    TipIn,
    TipPage,
    TipView,
    VersionPatch,
    VersionView,
    VisitView,
)
from .service import Actor, MarketplaceService
from .settings import MarketplaceSettings
from .store import CURSOR_FIELDS, Doc

tips_router = APIRouter(prefix="/v1", tags=["tips and review"])
browse_router = APIRouter(prefix="/v1", tags=["browse and search"])
purchases_router = APIRouter(prefix="/v1", tags=["purchases"])
activity_router = APIRouter(prefix="/v1", tags=["learn, rate, forward"])
sellers_router = APIRouter(prefix="/v1", tags=["sellers"])
struggle_router = APIRouter(prefix="/v1", tags=["struggle push"])

# Who may call each route (admin: every route). The floor (agents, supervisors) writes, buys and learns;
# operators review; machine clients (service: a dialer or CRM) read listings and recommendations.
_FLOOR = ("agent", "supervisor")
_AUTHORS = ("agent", "supervisor", "operator")
_EVERYONE = ("agent", "supervisor", "operator", "service")
ACCESS = {
    "GET /v1/review-checklist": _EVERYONE,
    "POST /v1/tips": _FLOOR,
    "GET /v1/tips/{tip_id}/versions": _AUTHORS,
    "GET /v1/tips/{tip_id}/versions/{version}": _AUTHORS,
    "GET /v1/tips/{tip_id}/content": _AUTHORS,
    "PATCH /v1/tips/{tip_id}/versions/{version}": _FLOOR,
    "POST /v1/tips/{tip_id}/versions": _FLOOR,
    "POST /v1/tips/{tip_id}/versions/{version}/submit": _FLOOR,
    "GET /v1/review-queue": ("operator",),
    "POST /v1/tips/{tip_id}/versions/{version}/review": ("operator",),
    "POST /v1/tips/{tip_id}/delist": _AUTHORS,
    "PUT /v1/tips/{tip_id}/versions/{version}/media": _FLOOR,
    "GET /v1/tips/{tip_id}/media": _AUTHORS,
    "GET /v1/tips/{tip_id}/versions/{version}/media": _AUTHORS,
    "GET /v1/tips": _EVERYONE,
    "GET /v1/tips/{tip_id}": _EVERYONE,
    "POST /v1/tips/{tip_id}/purchases": _FLOOR,
    "GET /v1/tips/{tip_id}/purchases/mine": _FLOOR,
    "POST /v1/tips/{tip_id}/visits": _FLOOR,
    "POST /v1/tips/{tip_id}/learning": _FLOOR,
    "GET /v1/tips/{tip_id}/funnel": ("agent", "supervisor", "operator"),
    "GET /v1/learners/{user_id}": ("agent", "supervisor", "operator"),
    "POST /v1/tips/{tip_id}/ratings": _FLOOR,
    "GET /v1/tips/{tip_id}/ratings": _EVERYONE,
    "POST /v1/tips/{tip_id}/forwards": _FLOOR,
    "GET /v1/sellers/{seller_id}": _EVERYONE,
    "GET /v1/sellers/{seller_id}/sales": ("agent", "supervisor", "operator"),
    "POST /v1/sellers/{seller_id}/redemptions": _FLOOR,
    "POST /v1/agents/{agent_id}/struggle": ("agent", "supervisor", "operator", "service"),
    "GET /v1/agents/{agent_id}/recommendations/latest": ("agent", "supervisor", "operator", "service"),
}
# The marketplace does not know teams: supervisors and operators read any user's learning, sales and
# recommendations of the tenant; an agent only its own.
_OVERSEERS = ("supervisor", "operator")

_STATUS = {
    "unknown_tip": 404, "unknown_version": 404,
    "not_author": 403, "not_reviewer": 403, "not_bought": 403, "not_seller": 403,
    "bad_cursor": 400, "tip_exists": 409, "version_not_editable": 409, "not_a_draft": 409, "not_submitted": 409, "own_tip": 409,
    "version_in_progress": 409, "stale_version": 409, "not_listed": 409, "version_changed": 409,
    "purchase_changed": 409, "already_rated": 409, "media_too_large": 413, "ledger_unavailable": 503,
    "metrics_unavailable": 503, "metrics_failed": 502,
}


def problem_of(error: DomainError) -> Problem:
    return domain_problem(error, _STATUS)


async def run(call: Any) -> Any:
    try:
        return await call
    except DomainError as error:
        raise problem_of(error) from error


Market = Annotated[MarketplaceService, Depends(from_app_state("marketplace"))]
Settings = Annotated[MarketplaceSettings, Depends(from_app_state("settings"))]
_IDENTIFIER = TypeAdapter(Identifier)


def required_actor(caller: Principal) -> Actor:
    """The caller as the marketplace's rules see it: operators and admin review (privileged), everyone
    else acts as an agent; the token's sub must be a plain identifier."""
    try:
        user_id = _IDENTIFIER.validate_python(caller.sub)
    except ValidationError as error:
        raise Problem(403, "Invalid actor", "The token's sub must be a plain identifier.",
                      code="invalid_actor") from error
    return Actor(user_id, "operator" if caller.has("operator", "admin") else "agent")


def optional_actor(caller: Principal) -> Actor | None:
    """A person calling (None for a machine client: service tokens)."""
    return None if caller.roles == {"service"} else required_actor(caller)


Caller = Annotated[Actor, Depends(required_actor)]
MaybeCaller = Annotated[Actor | None, Depends(optional_actor)]


# ---- views ----------------------------------------------------------------------------------------------


def version_view(doc: Doc, *, with_body: bool) -> VersionView:
    media = doc.get("media")
    return VersionView(tip_id=doc["tip_id"], version=doc["version"], author_id=doc["author_id"], status=doc["status"],
                       title=doc["title"], summary=doc.get("summary"), body=doc.get("body") if with_body else None,
                       stage=doc["stage"], product_line=doc["product_line"], tags=doc.get("tags") or [],
                       price=doc["price"], media={k: media[k] for k in ("content_type", "length", "filename")}
                       if media else None, review=doc.get("review"), created_at=doc["created_at"],
                       updated_at=doc["updated_at"], submitted_at=doc.get("submitted_at"))


def tip_view(doc: Doc, access: bool | None = None) -> TipView:
    return TipView(tip_id=doc["tip_id"], author_id=doc["author_id"], status=doc["status"],
                   latest_version=doc["latest_version"], listed_version=doc.get("listed_version"),
                   title=doc.get("title"), summary=doc.get("summary"), stage=doc.get("stage"),
                   product_line=doc.get("product_line"), tags=doc.get("tags") or [], price=doc.get("price"),
                   has_media=bool(doc.get("media")), rating=doc.get("rating_avg"), ratings=doc.get("rating_count", 0),
                   sales=doc.get("sales", 0), listed_at=doc.get("listed_at"), score=doc.get("score"), access=access)


def purchase_view(doc: Doc) -> PurchaseView:
    return PurchaseView.model_validate({k: v for k, v in doc.items() if k in PurchaseView.model_fields})


# ---- tips, versions, review -----------------------------------------------------------------------------


@tips_router.get("/review-checklist", summary="The items a reviewer answers for every version")
async def review_checklist() -> dict[str, str]:
    return domain.REVIEW_CHECKLIST


@tips_router.post("/tips", response_model=VersionView, status_code=201, summary="Write a new tip (version 1, draft)")
async def create_tip(body: TipIn, tenant: Tenant, market: Market, actor: Caller) -> VersionView:
    content = body.model_dump(mode="json", exclude={"id"})
    tip = await run(market.create_tip(tenant, actor, content, body.id))
    return version_view(await market.store.version(tenant, tip["tip_id"], 1), with_body=True)


@tips_router.get("/tips/{tip_id}/versions", response_model=list[VersionView], summary="A tip's versions (author, reviewers)")
async def list_versions(tip_id: str, tenant: Tenant, market: Market, actor: Caller) -> list[VersionView]:
    tip = await market.store.tip(tenant, tip_id)
    if tip is None:
        raise problem_of(DomainError("unknown_tip", f"there is no tip {tip_id!r}"))
    if not (actor.privileged or tip["author_id"] == actor.user_id):
        raise problem_of(DomainError("not_author", "only the author and reviewers see every version"))
    return [version_view(v, with_body=False) for v in await market.store.versions_of(tenant, tip_id)]


@tips_router.get("/tips/{tip_id}/versions/{version}", response_model=VersionView,
                 summary="A version with its script (author, reviewers, and buyers of approved versions)")
async def get_version(tip_id: str, version: int, tenant: Tenant, market: Market, actor: Caller) -> VersionView:
    return version_view(await run(market.readable_version(tenant, actor, tip_id, version)), with_body=True)


@tips_router.get("/tips/{tip_id}/content", response_model=VersionView,
                 summary="The listed version with its script (buyers, author, reviewers)")
async def get_content(tip_id: str, tenant: Tenant, market: Market, actor: Caller) -> VersionView:
    return version_view(await run(market.readable_version(tenant, actor, tip_id, None)), with_body=True)


@tips_router.patch("/tips/{tip_id}/versions/{version}", response_model=VersionView,
                   summary="Edit a draft or rejected version (a rejected one goes back to draft)")
async def edit_version(tip_id: str, version: int, body: VersionPatch, tenant: Tenant, market: Market,
                       actor: Caller) -> VersionView:
    return version_view(await run(market.edit_version(tenant, actor, tip_id, version, body.changes())), with_body=True)


@tips_router.post("/tips/{tip_id}/versions", response_model=VersionView, status_code=201,
                  summary="Start a new version from the latest approved one (reviewed again before it is listed)")
async def new_version(tip_id: str, body: VersionPatch, tenant: Tenant, market: Market, actor: Caller) -> VersionView:
    return version_view(await run(market.new_version(tenant, actor, tip_id, body.changes())), with_body=True)


@tips_router.post("/tips/{tip_id}/versions/{version}/submit", response_model=VersionView,
                  summary="Submit a draft for review")
async def submit(tip_id: str, version: int, tenant: Tenant, market: Market, actor: Caller) -> VersionView:
    return version_view(await run(market.submit(tenant, actor, tip_id, version)), with_body=True)


@tips_router.get("/review-queue", response_model=list[VersionView], summary="Submitted versions, oldest first")
async def review_queue(tenant: Tenant, market: Market, actor: Caller,
                       limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[VersionView]:
    if not actor.privileged:
        raise problem_of(DomainError("not_reviewer", "only reviewers see the review queue"))
    return [version_view(v, with_body=False) for v in await market.store.review_queue(tenant, limit)]


@tips_router.post("/tips/{tip_id}/versions/{version}/review", response_model=VersionView,
                  summary="Approve (every checklist item passes: listed) or reject (naming what failed)")
async def review(tip_id: str, version: int, body: ReviewIn, tenant: Tenant, market: Market,
                 actor: Caller) -> VersionView:
    return version_view(await run(market.review(tenant, actor, tip_id, version, body.checks, body.comment)),
                        with_body=True)


@tips_router.post("/tips/{tip_id}/delist", response_model=TipView, summary="Take a tip off sale (author, operator)")
async def delist(tip_id: str, tenant: Tenant, market: Market, actor: Caller, body: DelistIn | None = None) -> TipView:
    return tip_view(await run(market.delist(tenant, actor, tip_id, body.reason if body else None)))


# ---- media ----------------------------------------------------------------------------------------------


@tips_router.put("/tips/{tip_id}/versions/{version}/media", response_model=VersionView,
                 summary="Upload a version's media (raw body, its Content-Type; draft or rejected versions)")
async def upload_media(tip_id: str, version: int, request: Request, tenant: Tenant, market: Market, actor: Caller,
                       filename: Annotated[str, Query(min_length=1, max_length=200)] = "media") -> VersionView:
    content_type = request.headers.get("content-type", "application/octet-stream")
    doc = await run(market.upload_media(tenant, actor, tip_id, version, filename=filename, content_type=content_type,
                                        chunks=request.stream()))
    return version_view(doc, with_body=True)


async def _media_response(market: MarketplaceService, doc: Doc, range_header: str | None) -> Response:
    media = doc.get("media")
    if not media:
        raise Problem(404, "No media", "This version has no media.", code="no_media")
    size = media["length"]
    try:
        wanted = domain.byte_range(range_header, size)
    except domain.RangeNotSatisfiable:
        return problem_response(416, "Range not satisfiable", f"The media has {size} bytes.",
                                headers={"Content-Range": f"bytes */{size}"}, code="range_not_satisfiable")
    first, last = wanted if wanted is not None else (0, size - 1)
    stream = await market.store.media.open_download_stream(media["file_id"])
    await stream.seek(first)

    async def body() -> AsyncIterator[bytes]:
        left = last - first + 1
        try:
            while left > 0:
                chunk = await stream.read(min(left, 256 * 1024))
                if not chunk:
                    return
                left -= len(chunk)
                yield chunk
        finally:
            await stream.close()

    headers = {"Accept-Ranges": "bytes", "Content-Length": str(last - first + 1),
               "ETag": f'"{media["file_id"]}"'}
    if wanted is None:
        return StreamingResponse(body(), status_code=200, media_type=media["content_type"], headers=headers)
    headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    return StreamingResponse(body(), status_code=206, media_type=media["content_type"], headers=headers)


@tips_router.get("/tips/{tip_id}/media", summary="The listed version's media; Range requests answered with 206",
                 response_class=StreamingResponse)
async def listed_media(tip_id: str, tenant: Tenant, market: Market, actor: Caller,
                       range_: Annotated[str | None, Header(alias="Range")] = None) -> Response:
    return await _media_response(market, await run(market.readable_version(tenant, actor, tip_id, None)), range_)


@tips_router.get("/tips/{tip_id}/versions/{version}/media", summary="A version's media (Range requests: 206)",
                 response_class=StreamingResponse)
async def version_media(tip_id: str, version: int, tenant: Tenant, market: Market, actor: Caller,
                        range_: Annotated[str | None, Header(alias="Range")] = None) -> Response:
    return await _media_response(market, await run(market.readable_version(tenant, actor, tip_id, version)), range_)


# ---- browse and search ----------------------------------------------------------------------------------


def encode_cursor(doc: Doc, sort: str) -> str:
    value = doc.get(CURSOR_FIELDS[sort])
    if isinstance(value, datetime):
        value = {"t": value.isoformat()}
    raw = json.dumps([sort, value, doc["_id"]]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[Any, str]:
    try:
        made_for, value, last_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if isinstance(value, dict):
            value = datetime.fromisoformat(value["t"])
    except (ValueError, TypeError, KeyError) as error:
        raise Problem(400, "Bad cursor", "Use the next_cursor of the previous page.", code="bad_cursor") from error
    if made_for != sort:
        raise Problem(400, "Bad cursor", "The cursor belongs to another sort order.", code="bad_cursor")
    return value, str(last_id)


@browse_router.get("/tips", response_model=TipPage, summary="Browse and search listed tips")
async def search(tenant: Tenant, market: Market,
                 q: Annotated[str | None, Query(max_length=200, description="Full text, Chinese included.")] = None,
                 stage: CallStage | None = None, product_line: str | None = None,
                 tag: Annotated[list[str] | None, Query()] = None, author_id: str | None = None,
                 sort: Annotated[str | None, Query(pattern="^(relevance|rating|sales|recency)$",
                                                   description="relevance (default with q), rating, sales, "
                                                   "recency (default without q).")] = None,
                 limit: Annotated[int, Query(ge=1, le=100)] = 20, cursor: str | None = None) -> TipPage:
    tokens = domain.query_tokens(q) if q else []
    if q and not tokens:
        raise Problem(422, "Empty query", "The query has no letters, digits or Chinese characters.", code="empty_query")
    sort = sort or ("relevance" if tokens else "recency")
    if sort == "relevance" and not tokens:
        raise Problem(422, "Relevance needs a query", "Sort by relevance only with q.", code="relevance_without_query")
    filters: Doc = {}
    if stage is not None:
        filters["stage"] = stage.value
    if product_line is not None:
        filters["product_line"] = product_line
    if tag:
        filters["tags"] = tag
    if author_id is not None:
        filters["author_id"] = author_id
    docs = await run(market.search(tenant, tokens=tokens, filters=filters, sort=sort, limit=limit + 1,
                                   after=decode_cursor(cursor, sort) if cursor else None))
    more = len(docs) > limit
    docs = docs[:limit]
    return TipPage(items=[tip_view(d) for d in docs], next_cursor=encode_cursor(docs[-1], sort) if more else None)


@browse_router.get("/tips/{tip_id}", response_model=TipView, summary="A tip as listed (and whether the caller may read it)")
async def get_tip(tip_id: str, tenant: Tenant, market: Market, actor: MaybeCaller) -> TipView:
    tip = await market.store.tip(tenant, tip_id, with_search_terms=False)
    if tip is None:
        raise problem_of(DomainError("unknown_tip", f"there is no tip {tip_id!r}"))
    access = await market.has_access(tenant, tip, actor) if actor else None
    return tip_view(tip, access)


# ---- purchases ------------------------------------------------------------------------------------------


@purchases_router.post("/tips/{tip_id}/purchases", response_model=PurchaseView, status_code=202,
                       responses={200: {"description": "The purchase as it stands (pending or granted)."}},
                       summary="Buy a tip: the ledger is asked to pay; access once it has posted the transfer")
async def buy(tip_id: str, tenant: Tenant, market: Market, actor: Caller, response: Response) -> PurchaseView:
    result = await run(market.buy(tenant, actor, tip_id))
    if result.replayed:
        response.status_code = 200
    return purchase_view(result.doc)


@purchases_router.get("/tips/{tip_id}/purchases/mine", response_model=PurchaseView, summary="The caller's purchase")
async def my_purchase(tip_id: str, tenant: Tenant, market: Market, actor: Caller) -> PurchaseView:
    doc = await market.store.purchase(tenant, domain.purchase_id(actor.user_id, tip_id))
    if doc is None:
        raise Problem(404, "No purchase", "You have not asked to buy this tip.", code="unknown_purchase")
    return purchase_view(doc)


# ---- activity -------------------------------------------------------------------------------------------


@activity_router.post("/tips/{tip_id}/visits", response_model=VisitView, status_code=201,
                      summary="Record that the caller opened the tip's page")
async def visit(tip_id: str, tenant: Tenant, market: Market, actor: Caller) -> VisitView:
    return VisitView.model_validate(await run(market.visit(tenant, actor, tip_id)))


@activity_router.post("/tips/{tip_id}/learning", response_model=LearnView,
                      summary="Report playback progress and watch time (buyers)")
async def learn(tip_id: str, body: LearnIn, tenant: Tenant, market: Market, actor: Caller) -> LearnView:
    report = domain.LearnReport(body.session_id, body.progress_percent, body.session_seconds)
    return LearnView.model_validate(await run(market.learn(tenant, actor, tip_id, report)))


@activity_router.get("/tips/{tip_id}/funnel", response_model=TipFunnelView,
                     summary="A tip's funnel: review pass rate, purchase, learn, forward and rewatch rates")
async def tip_funnel(tip_id: str, tenant: Tenant, market: Market) -> TipFunnelView:
    return TipFunnelView.model_validate(await run(market.tip_funnel(tenant, tip_id)))


@activity_router.get("/learners/{user_id}", response_model=LearnerView, summary="Tips learned, watch time, deep learner")
async def learner(user_id: str, tenant: Tenant, market: Market, caller: Principal) -> LearnerView:
    require_self(caller, user_id, "not_yours", also=_OVERSEERS)
    return LearnerView.model_validate(await market.learner(tenant, user_id))


@activity_router.post("/tips/{tip_id}/ratings", response_model=RatingView, status_code=201,
                      summary="Rate the listed version 1-5 (buyers, once per version)")
async def rate(tip_id: str, body: RatingIn, tenant: Tenant, market: Market, actor: Caller) -> RatingView:
    return RatingView.model_validate(await run(market.rate(tenant, actor, tip_id, body.stars, body.comment)))


@activity_router.get("/tips/{tip_id}/ratings", response_model=list[RatingView], summary="A tip's ratings, newest first")
async def ratings(tip_id: str, tenant: Tenant, market: Market,
                  limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[RatingView]:
    docs = await market.store.ratings.find({"tenant_id": tenant, "tip_id": tip_id}, sort=[("rated_at", -1)],
                                           limit=limit).to_list()
    return [RatingView.model_validate(d) for d in docs]


@activity_router.post("/tips/{tip_id}/forwards", response_model=ForwardView, status_code=201,
                      summary="Forward a listed tip to a colleague")
async def forward(tip_id: str, body: ForwardIn, tenant: Tenant, market: Market, actor: Caller) -> ForwardView:
    return ForwardView.model_validate(await run(market.forward(tenant, actor, tip_id, body.to_user_id, body.note)))


# ---- sellers --------------------------------------------------------------------------------------------


@sellers_router.get("/sellers/{seller_id}", response_model=SellerView, summary="A seller's tips, sales, ratings, earnings")
async def seller(seller_id: str, tenant: Tenant, market: Market) -> SellerView:
    return SellerView(seller_id=seller_id, **await market.store.seller_summary(tenant, seller_id))


@sellers_router.get("/sellers/{seller_id}/sales", response_model=SalesPage, summary="A seller's sales, newest first")
async def sales(seller_id: str, tenant: Tenant, market: Market, caller: Principal, before: datetime | None = None,
                limit: Annotated[int, Query(ge=1, le=500)] = 50) -> SalesPage:
    require_self(caller, seller_id, "not_yours", also=_OVERSEERS)
    docs = await market.store.seller_sales(tenant, seller_id, limit + 1, before)
    more = len(docs) > limit
    docs = docs[:limit]
    return SalesPage(items=[purchase_view(d) for d in docs], next_before=docs[-1]["granted_at"] if more else None)


@sellers_router.post("/sellers/{seller_id}/redemptions", summary="Redeem earnings through the ledger "
                     "(its answer and status passed on: 201, 200 on a retry, 409 insufficient_funds, ...)")
async def redeem(seller_id: str, body: RedemptionIn, tenant: Tenant, market: Market, actor: Caller) -> Response:
    try:
        answer = await run(market.redeem(tenant, actor, seller_id, body.id, body.yuan, body.item))
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
    require_self(caller, agent_id, "not_yours", also=_OVERSEERS)
    if body is None:
        body = await run(struggle_rates(request.app.state.metrics_http, tenant, agent_id))
    return StruggleView.model_validate(await run(market.recommend(tenant, agent_id, body.team_id, body.agent,
                                                                  body.team)))


@struggle_router.get("/agents/{agent_id}/recommendations/latest", response_model=StruggleView,
                     summary="The agent's latest struggle recommendation (for a dialer or CRM that polls)")
async def latest_recommendation(agent_id: Identifier, tenant: Tenant, market: Market,
                                caller: Principal) -> StruggleView:
    require_self(caller, agent_id, "not_yours", also=_OVERSEERS)
    doc = await market.store.recommendations.find_one({"tenant_id": tenant, "agent_id": agent_id},
                                                      sort=[("recommended_at", -1)])
    if doc is None:
        raise Problem(404, "No recommendation", f"Nothing was recommended to {agent_id} yet.",
                      code="unknown_recommendation")
    return StruggleView.model_validate(doc)
