"""Routes of tips, their versions, review and media."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import StreamingResponse

from telesales_runtime.http import Problem, Tenant, problem_response

from .. import domain
from ..schemas import DelistIn, ReviewIn, TipIn, TipView, VersionPatch, VersionView
from ..service import MarketplaceService, reading
from ..service import tips as service
from ..store import Doc
from .common import Caller, Market, run, tip_view, version_view, written_version_view

tips_router = APIRouter(prefix="/v1", tags=["tips and review"])


@tips_router.get("/review-checklist", summary="The items a reviewer answers for every version")
async def review_checklist() -> dict[str, str]:
    return domain.REVIEW_CHECKLIST


@tips_router.post("/tips", response_model=VersionView, status_code=201, summary="Write a new tip (version 1, draft)")
async def create_tip(body: TipIn, tenant: Tenant, market: Market, actor: Caller) -> VersionView:
    content = domain.Content.from_doc(body.model_dump(mode="json", exclude={"id"}))
    return written_version_view(await run(service.create_tip(market=market, tenant=tenant, actor=actor,
                                                             content=content, tip_id=body.id)))


@tips_router.get("/tips/{tip_id}/versions", response_model=list[VersionView], summary="A tip's versions (author, reviewers)")
async def list_versions(tip_id: str, tenant: Tenant, market: Market, actor: Caller) -> list[VersionView]:
    versions = await run(reading.versions_of(market=market, tenant=tenant, actor=actor, tip_id=tip_id))
    return [version_view(v, with_body=False) for v in versions]


@tips_router.get("/tips/{tip_id}/versions/{version}", response_model=VersionView,
                 summary="A version with its script (author, reviewers, and buyers of approved versions)")
async def get_version(tip_id: str, version: int, tenant: Tenant, market: Market, actor: Caller) -> VersionView:
    return version_view(await run(reading.readable_version(market=market, tenant=tenant, actor=actor, tip_id=tip_id,
                                                           version=version)), with_body=True)


@tips_router.get("/tips/{tip_id}/content", response_model=VersionView,
                 summary="The listed version with its script (buyers, author, reviewers)")
async def get_content(tip_id: str, tenant: Tenant, market: Market, actor: Caller) -> VersionView:
    return version_view(await run(reading.readable_version(market=market, tenant=tenant, actor=actor, tip_id=tip_id,
                                                           version=None)), with_body=True)


@tips_router.patch("/tips/{tip_id}/versions/{version}", response_model=VersionView,
                   summary="Edit a draft or rejected version (a rejected one goes back to draft)")
async def edit_version(tip_id: str, version: int, body: VersionPatch, tenant: Tenant, market: Market,
                       actor: Caller) -> VersionView:
    return written_version_view(await run(service.edit_version(market=market, tenant=tenant, actor=actor, tip_id=tip_id,
                                                               version=version, changes=body.changes())))


@tips_router.post("/tips/{tip_id}/versions", response_model=VersionView, status_code=201,
                  summary="Start a new version from the latest approved one (reviewed again before it is listed)")
async def new_version(tip_id: str, body: VersionPatch, tenant: Tenant, market: Market, actor: Caller) -> VersionView:
    return written_version_view(await run(service.new_version(market=market, tenant=tenant, actor=actor, tip_id=tip_id,
                                                              changes=body.changes())))


@tips_router.post("/tips/{tip_id}/versions/{version}/submit", response_model=VersionView,
                  summary="Submit a draft for review")
async def submit(tip_id: str, version: int, tenant: Tenant, market: Market, actor: Caller) -> VersionView:
    return written_version_view(await run(service.submit(market=market, tenant=tenant, actor=actor, tip_id=tip_id,
                                                         version=version)))


@tips_router.get("/review-queue", response_model=list[VersionView], summary="Submitted versions, oldest first")
async def review_queue(tenant: Tenant, market: Market, actor: Caller,
                       limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[VersionView]:
    queue = await run(reading.review_queue(market=market, tenant=tenant, actor=actor, limit=limit))
    return [version_view(v, with_body=False) for v in queue]


@tips_router.post("/tips/{tip_id}/versions/{version}/review", response_model=VersionView,
                  summary="Approve (every checklist item passes: listed) or reject (naming what failed)")
async def review(tip_id: str, version: int, body: ReviewIn, tenant: Tenant, market: Market,
                 actor: Caller) -> VersionView:
    return written_version_view(await run(service.review(market=market, tenant=tenant, actor=actor, tip_id=tip_id,
                                                         version=version, checks=body.checks, comment=body.comment)))


@tips_router.post("/tips/{tip_id}/delist", response_model=TipView, summary="Take a tip off sale (author, operator)")
async def delist(tip_id: str, tenant: Tenant, market: Market, actor: Caller, body: DelistIn | None = None) -> TipView:
    return tip_view(await run(service.delist(market=market, tenant=tenant, actor=actor, tip_id=tip_id,
                                             reason=body.reason if body else None)))


# ---- media ----------------------------------------------------------------------------------------------


@tips_router.put("/tips/{tip_id}/versions/{version}/media", response_model=VersionView,
                 summary="Upload a version's media (raw body, its Content-Type; draft or rejected versions)")
async def upload_media(tip_id: str, version: int, request: Request, tenant: Tenant, market: Market, actor: Caller,
                       filename: Annotated[str, Query(min_length=1, max_length=200)] = "media") -> VersionView:
    content_type = request.headers.get("content-type", "application/octet-stream")
    doc = await run(service.upload_media(market=market, tenant=tenant, actor=actor, tip_id=tip_id, version=version,
                                         filename=filename, content_type=content_type, chunks=request.stream()))
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
    stream = await reading.open_media(market=market, file_id=media["file_id"], first=first)
    headers = {"Accept-Ranges": "bytes", "Content-Length": str(last - first + 1),
               "ETag": f'"{media["file_id"]}"'}
    if wanted is None:
        return StreamingResponse(_read(stream, last - first + 1), status_code=200, media_type=media["content_type"],
                                 headers=headers)
    headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    return StreamingResponse(_read(stream, last - first + 1), status_code=206, media_type=media["content_type"],
                             headers=headers)


async def _read(stream: Any, left: int) -> AsyncIterator[bytes]:
    """`left` bytes of a download stream, in chunks; the stream closed after."""
    try:
        while left > 0:
            chunk = await stream.read(min(left, 256 * 1024))
            if not chunk:
                return
            left -= len(chunk)
            yield chunk
    finally:
        await stream.close()


@tips_router.get("/tips/{tip_id}/media", summary="The listed version's media; Range requests answered with 206",
                 response_class=StreamingResponse)
async def listed_media(tip_id: str, tenant: Tenant, market: Market, actor: Caller,
                       range_: Annotated[str | None, Header(alias="Range")] = None) -> Response:
    doc = await run(reading.readable_version(market=market, tenant=tenant, actor=actor, tip_id=tip_id, version=None))
    return await _media_response(market, doc, range_)


@tips_router.get("/tips/{tip_id}/versions/{version}/media", summary="A version's media (Range requests: 206)",
                 response_class=StreamingResponse)
async def version_media(tip_id: str, version: int, tenant: Tenant, market: Market, actor: Caller,
                        range_: Annotated[str | None, Header(alias="Range")] = None) -> Response:
    doc = await run(reading.readable_version(market=market, tenant=tenant, actor=actor, tip_id=tip_id,
                                             version=version))
    return await _media_response(market, doc, range_)
