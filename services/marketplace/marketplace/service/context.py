"""What the service functions work with: the settings, the store, the search index's feed, the ledger's
HTTP API and the outbox relay's wake-up; and `commit`, which runs a handler's work in one transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

import httpx

from telesales_runtime.deadletter import DeadLetterPublisher

from ..search_feed import SearchIndexFeed
from ..settings import MarketplaceSettings
from ..store import MarketplaceStore, Unit

T = TypeVar("T")


def utcnow() -> datetime:
    """Now, to the millisecond MongoDB keeps (so a stored time reads back equal)."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class MarketplaceService:
    def __init__(self, settings: MarketplaceSettings, store: MarketplaceStore, dead_letters: DeadLetterPublisher,
                 notify_outbox: Callable[[], None], ledger_http: httpx.AsyncClient | None = None,
                 search_feed: SearchIndexFeed | None = None) -> None:
        self.settings = settings
        self.store = store
        self.search_feed = search_feed or SearchIndexFeed(store)
        self.dead_letters = dead_letters
        self.notify_outbox = notify_outbox
        self.tz = settings.tz
        self.ledger_http = ledger_http

    async def commit(self, tenant: str, work: Callable[[Unit], Awaitable[T]]) -> T:
        """Run `work` in one transaction with the events it announces (the outbox); wake the relay after."""
        result, written = await self.store.commit(tenant, self.settings.source, work)
        if written:
            self.notify_outbox()
        return result
