"""Figures read for the API: a learner's totals, a tip's funnel and ratings, a seller's summary and sales."""

from __future__ import annotations

from datetime import datetime

from ..domain import DomainError, purchase_id
from ..store import Doc
from .context import MarketplaceService


async def learner(*, market: MarketplaceService, tenant: str, user_id: str) -> Doc:
    doc = await market.store.queries.learner(tenant, user_id)
    return {"user_id": user_id, "tips_learned": doc.get("tips_learned", 0),
            "watched_seconds": doc.get("watched_seconds", 0), "deep_learner": doc.get("flagged_at") is not None,
            "flagged_at": doc.get("flagged_at")}


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


async def tip_funnel(*, market: MarketplaceService, tenant: str, tip_id: str) -> Doc:
    """The tip's funnel (the seed's content funnel): review pass rate, then visits -> purchases ->
    learned, and forwards and rewatches."""
    queries = market.store.queries
    tip = await queries.tip(tenant, tip_id)
    if tip is None:
        raise DomainError("unknown_tip", f"there is no tip {tip_id!r}")
    reviews = await queries.reviews_of(tenant, tip_id)
    approved = sum(r["decision"] == "approved" for r in reviews)
    visits, sales, learned = tip.get("visits", 0), tip.get("sales", 0), tip.get("learned", 0)
    forwards, rewatchers = tip.get("forwards", 0), tip.get("rewatchers", 0)
    return {"tip_id": tip_id, "reviews": len(reviews), "approvals": approved, "visits": visits, "sales": sales,
            "learned": learned, "forwards": forwards, "rewatchers": rewatchers,
            "ratings": tip.get("rating_count", 0), "review_pass_rate": _rate(approved, len(reviews)),
            "purchase_rate": _rate(sales, visits), "learn_rate": _rate(learned, sales),
            "forward_rate": _rate(forwards, visits), "rewatch_rate": _rate(rewatchers, learned)}


async def ratings(*, market: MarketplaceService, tenant: str, tip_id: str, limit: int) -> list[Doc]:
    return await market.store.queries.ratings(tenant, tip_id, limit)


async def my_purchase(*, market: MarketplaceService, tenant: str, buyer_id: str, tip_id: str) -> Doc | None:
    return await market.store.queries.purchase(tenant, purchase_id(buyer_id, tip_id))


async def seller_summary(*, market: MarketplaceService, tenant: str, seller_id: str) -> Doc:
    return await market.store.queries.seller_summary(tenant, seller_id)


async def seller_sales(*, market: MarketplaceService, tenant: str, seller_id: str, limit: int,
                       before: datetime | None) -> tuple[list[Doc], datetime | None]:
    """A page of the seller's sales, newest first, and where the next page starts (None: the last)."""
    docs = await market.store.queries.seller_sales(tenant, seller_id, limit + 1, before)
    more = len(docs) > limit
    docs = docs[:limit]
    return docs, docs[-1]["granted_at"] if more else None
