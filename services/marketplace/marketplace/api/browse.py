"""Routes of browsing and searching listed tips."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from telesales_contracts.marketplace import CallStage
from telesales_runtime.http import Problem, Tenant

from .. import domain
from ..schemas import TipPage, TipView
from ..service import browse, reading
from ..store import CURSOR_FIELDS, Doc
from .common import Market, MaybeCaller, run, tip_view

browse_router = APIRouter(prefix="/v1", tags=["browse and search"])


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
    docs = await run(browse.search(market=market, tenant=tenant, tokens=tokens, filters=filters, sort=sort,
                                   limit=limit + 1, after=decode_cursor(cursor, sort) if cursor else None))
    more = len(docs) > limit
    docs = docs[:limit]
    return TipPage(items=[tip_view(d) for d in docs], next_cursor=encode_cursor(docs[-1], sort) if more else None)


@browse_router.get("/tips/{tip_id}", response_model=TipView, summary="A tip as listed (and whether the caller may read it)")
async def get_tip(tip_id: str, tenant: Tenant, market: Market, actor: MaybeCaller) -> TipView:
    tip, access = await run(reading.tip_as_listed(market=market, tenant=tenant, tip_id=tip_id, actor=actor))
    return tip_view(tip, access)
