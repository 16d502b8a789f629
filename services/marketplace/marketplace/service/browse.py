"""Browsing and searching listed tips."""

from __future__ import annotations

from typing import Any

from ..domain import DomainError
from ..store import Doc
from .context import MarketplaceService


async def search(*, market: MarketplaceService, tenant: str, tokens: list[str], filters: Doc, sort: str, limit: int,
                 after: tuple[Any, str] | None) -> list[Doc]:
    """Listed tips for browsing: ranked by relevance in the in-memory index (search_index.py), in the
    other orders by MongoDB's indexes. `after` is the last (sort value, _id) of the previous page."""
    queries = market.store.queries
    if sort != "relevance":
        return await queries.search(tenant, tokens=tokens, filters=filters, sort=sort, limit=limit, after=after)
    cursor = None
    if after is not None:
        score, last_id = after
        if not isinstance(score, int) or isinstance(score, bool):
            raise DomainError("bad_cursor", "the cursor's score is not a number of matched terms")
        cursor = (score, last_id.partition("|")[2])
    hits = market.search_feed.index.search(tenant, tokens, filters, after=cursor, limit=limit)
    docs = await queries.tips_by_ids(tenant, [hit.tip_id for hit in hits])
    scores = {hit.tip_id: hit.score for hit in hits}
    return [doc | {"score": scores[doc["tip_id"]]} for doc in docs]
