"""Writing tips and their review: each function loads the tip and its version, lets them decide, and
commits the change with its events."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

from ..domain import Actor, Content, DomainError, Tip, Version
from ..domain.workflow import check_reviewer
from ..domain.workflow import review as review_outcome
from ..store import Doc, Unit, WrittenMeanwhile
from .context import MarketplaceService, utcnow


async def create_tip(*, market: MarketplaceService, tenant: str, actor: Actor, content: Content,
                     tip_id: str | None = None) -> Version:
    """A new tip with version 1 as a draft (that version returned)."""
    tip_id = tip_id or uuid.uuid4().hex[:16]
    new = Tip.create(tip_id, actor.user_id, content, utcnow())

    async def work(unit: Unit) -> Version:
        await unit.add_tip(new)
        return new.first

    try:
        return await market.commit(tenant, work)
    except WrittenMeanwhile as error:
        raise DomainError("tip_exists", f"tip {tip_id!r} exists already") from error


async def _authors_version(unit: Unit, actor: Actor, tip_id: str, number: int) -> Version:
    tip = await unit.tip(tip_id)
    tip.check_author(actor.user_id)
    return await unit.version(tip_id, number)


async def edit_version(*, market: MarketplaceService, tenant: str, actor: Actor, tip_id: str, version: int,
                       changes: Mapping[str, Any]) -> Version:
    """Change a draft (or a rejected version, which goes back to draft)."""
    unit = market.store.unit(tenant)
    current = await _authors_version(unit, actor, tip_id, version)
    return await unit.edit_version(current.edit(changes, utcnow()))


async def new_version(*, market: MarketplaceService, tenant: str, actor: Actor, tip_id: str,
                      changes: Mapping[str, Any]) -> Version:
    """A new draft version of a tip, starting from its latest (approved) version. The listed version
    stays listed until this one is approved."""
    now = utcnow()

    async def work(unit: Unit) -> Version:
        tip = await unit.tip(tip_id)
        tip.check_author(actor.user_id)
        new = tip.new_version(await unit.version(tip_id, tip.latest_version), changes, now)
        await unit.add_version(new)
        return new.version

    return await market.commit(tenant, work)


async def submit(*, market: MarketplaceService, tenant: str, actor: Actor, tip_id: str, version: int) -> Version:
    now = utcnow()

    async def work(unit: Unit) -> Version:
        after, change, event = (await _authors_version(unit, actor, tip_id, version)).submit(now)
        await unit.submit(change)
        unit.announce(event)
        return after

    return await market.commit(tenant, work)


async def review(*, market: MarketplaceService, tenant: str, actor: Actor, tip_id: str, version: int,
                 checks: dict[str, bool], comment: str | None) -> Version:
    """Approve (all checklist items pass: the version is listed, replacing the listed one) or reject
    (naming the failed items)."""
    check_reviewer(actor)
    outcome = review_outcome(checks)
    now = utcnow()

    async def work(unit: Unit) -> Version:
        tip = await unit.tip(tip_id)
        after, change, event = (await unit.version(tip_id, version)).decide(actor.user_id, outcome, comment, now)
        await unit.review(change)
        unit.announce(event)
        if outcome.decision == "approved":
            listing, listed = tip.list_with(after, now)
            await unit.list_tip(listing)
            unit.announce(listed)
        return after

    reviewed = await market.commit(tenant, work)
    await market.search_feed.refresh(tenant, tip_id)
    return reviewed


async def delist(*, market: MarketplaceService, tenant: str, actor: Actor, tip_id: str, reason: str | None) -> Doc:
    now = utcnow()

    async def work(unit: Unit) -> None:
        change, event = (await unit.tip(tip_id)).delist(actor, reason, now)
        await unit.delist(change)
        unit.announce(event)

    await market.commit(tenant, work)
    await market.search_feed.refresh(tenant, tip_id)
    delisted = await market.store.queries.tip(tenant, tip_id)
    assert delisted is not None  # tips are never deleted
    return delisted


async def upload_media(*, market: MarketplaceService, tenant: str, actor: Actor, tip_id: str, version: int,
                       filename: str, content_type: str, chunks: AsyncIterator[bytes]) -> Doc:
    """Store a version's media in GridFS (an editable version only) and point the version at it. A
    file it replaces is deleted unless another version still uses it."""
    unit, files = market.store.unit(tenant), market.store.files
    current = await _authors_version(unit, actor, tip_id, version)
    current.check_editable()
    media = await files.save(tenant=tenant, tip_id=tip_id, version=version, filename=filename,
                             content_type=content_type, chunks=chunks, max_bytes=market.settings.media_max_bytes)
    before = await unit.attach_media(current.attach_media(media, utcnow()))
    if before is None:
        await files.discard(media.file_id)
        raise DomainError("version_not_editable", "the version was submitted meanwhile")
    if before.media is not None:
        await files.release(before.media.file_id)
    return before.as_doc() | {"media": media.as_doc()}
