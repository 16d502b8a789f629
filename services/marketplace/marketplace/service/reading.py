"""Reading tips, versions and media, for those allowed to (domain.access)."""

from __future__ import annotations

from typing import Any

from ..domain import Actor, DomainError, Tip, purchase_id
from ..domain.access import may_read, readable, sees_every_version
from ..store import Doc
from .context import MarketplaceService


async def _tip(market: MarketplaceService, tenant: str, tip_id: str) -> Doc:
    tip = await market.store.queries.tip(tenant, tip_id)
    if tip is None:
        raise DomainError("unknown_tip", f"there is no tip {tip_id!r}")
    return tip


async def has_access(*, market: MarketplaceService, tenant: str, tip: Tip, actor: Actor | None) -> bool:
    """The author, reviewers and operators, and buyers whose purchase was paid (posted by the ledger)."""
    if actor is None:
        return False
    if sees_every_version(actor, tip.author_id):
        return True
    purchase = await market.store.queries.purchase(tenant, purchase_id(actor.user_id, tip.tip_id))
    return may_read(actor, tip.author_id, purchase["status"] if purchase else None)


async def tip_as_listed(*, market: MarketplaceService, tenant: str, tip_id: str,
                        actor: Actor | None) -> tuple[Doc, bool | None]:
    """A tip as browsing shows it, and whether the caller may read it (None for a machine client): the
    access rule of `has_access`, on the tip and the caller's purchase read together."""
    if actor is None:
        return await _tip(market, tenant, tip_id), None
    doc, purchase = await market.store.queries.tip_and_purchase(tenant, tip_id, purchase_id(actor.user_id, tip_id))
    if doc is None:
        raise DomainError("unknown_tip", f"there is no tip {tip_id!r}")
    tip = Tip.from_doc(doc)
    if sees_every_version(actor, tip.author_id):
        return doc, True
    return doc, may_read(actor, tip.author_id, purchase["status"] if purchase else None)


async def readable_version(*, market: MarketplaceService, tenant: str, actor: Actor | None, tip_id: str,
                           version: int | None) -> Doc:
    """A version (the listed one when None) with its body and media, for someone allowed to read it:
    buyers read listed and later approved versions; authors, reviewers and operators any."""
    tip = Tip.from_doc(await _tip(market, tenant, tip_id))
    if not await has_access(market=market, tenant=tenant, tip=tip, actor=actor):
        raise DomainError("not_bought", "buy the tip to read it")
    number = version if version is not None else tip.listed_version
    if number is None:
        raise DomainError("not_listed", "the tip has no listed version")
    doc = await market.store.queries.version(tenant, tip_id, number)
    if doc is None:
        raise DomainError("unknown_version", f"tip {tip_id!r} has no version {number}")
    assert actor is not None
    if not readable(actor, tip.author_id, doc["status"]):
        raise DomainError("unknown_version", f"tip {tip_id!r} has no version {number} for sale")
    return doc


async def versions_of(*, market: MarketplaceService, tenant: str, actor: Actor, tip_id: str) -> list[Doc]:
    tip = Tip.from_doc(await _tip(market, tenant, tip_id))
    if not sees_every_version(actor, tip.author_id):
        raise DomainError("not_author", "only the author and reviewers see every version")
    return await market.store.queries.versions_of(tenant, tip_id)


async def review_queue(*, market: MarketplaceService, tenant: str, actor: Actor, limit: int) -> list[Doc]:
    if not actor.privileged:
        raise DomainError("not_reviewer", "only reviewers see the review queue")
    return await market.store.queries.review_queue(tenant, limit)


async def open_media(*, market: MarketplaceService, file_id: Any, first: int) -> Any:
    """A download stream of a media file from byte `first`."""
    return await market.store.files.open(file_id, first)
