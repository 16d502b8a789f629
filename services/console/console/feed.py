"""The notification feed's service layer: events in (load, map, commit), announcements out, and what the
routes read and change."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from redis.exceptions import RedisError

from telesales_runtime.consumer import Delivery

from .erasure import ErasedLeads
from .live import LiveHub
from .notifications import NotificationPage, drafts_of
from .store import NotificationStore

log = logging.getLogger(__name__)


class NotificationFeed:
    def __init__(self, *, store: NotificationStore, hub: LiveHub, erased: ErasedLeads | None = None) -> None:
        self.store = store
        self.hub = hub
        self.erased = erased

    async def handle(self, deliveries: Sequence[Delivery], *, topic: str) -> int:
        """Store the notifications the events of `topic` make (a redelivered event adds nothing), then
        announce them to the replicas. How many were new."""
        drafts = [draft for delivery in deliveries for draft in drafts_of(topic, delivery.event)]
        if self.erased is not None:
            drafts = await self.erased.scrub_late(drafts)
        stored = await self.store.add(drafts)
        if stored:
            try:
                await self.hub.announce(stored)
            except (RedisError, OSError) as error:
                # Committed already: the streams read them from MongoDB when they next resubscribe or see a gap.
                log.warning("notifications stored but not announced", extra={"error": str(error),
                                                                             "count": len(stored)})
        return len(stored)

    async def page(self, *, tenant: str, user: str, limit: int, before: int | None,
                   unread_only: bool) -> NotificationPage:
        items, unread = await self.store.page(tenant, user, limit=limit, before=before, unread_only=unread_only)
        next_before = items[-1].seq if len(items) == limit and items[-1].seq > 1 else None
        return NotificationPage(items=items, unread=unread, next_before=next_before)

    async def mark_read(self, *, tenant: str, user: str, seq: int) -> bool:
        return await self.store.mark_read(tenant, user, seq)

    async def mark_all_read(self, *, tenant: str, user: str) -> int:
        return await self.store.mark_all_read(tenant, user)
