"""Keeps the in-memory search index (search_index.py) in step with the listed tips in MongoDB.

At start it loads every listed tip, then follows the tips collection's change stream from a moment taken
before the load, so no listing in between is missed (one seen twice is applied once). Every replica
follows the stream, so a tip listed through one replica is found through all of them, a few milliseconds
later; the replica that made the change applies it at once (`refresh`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from pymongo.errors import OperationFailure, PyMongoError

from .search_index import SearchIndex
from .store import MarketplaceStore

log = logging.getLogger(__name__)

# The change stream no longer has the changes after our resume token (the oplog moved on): start over.
CHANGE_STREAM_HISTORY_LOST = 286


class SearchIndexFeed:
    def __init__(self, store: MarketplaceStore, retry_seconds: float = 1.0) -> None:
        self.store = store
        self.index = SearchIndex()
        self.retry_seconds = retry_seconds
        self._task: asyncio.Task[None] | None = None
        self._resume: Any = None
        self._start_at: Any = None
        self.changes_applied = 0

    async def start(self) -> None:
        """Load the listed tips (startup waits for it), then follow their changes in the background."""
        await self._load()
        self._task = asyncio.create_task(self._follow(), name="search-index-feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def refresh(self, tenant: str, tip_id: str) -> None:
        """Apply one tip's current state now (after this replica changed it)."""
        doc = await self.store.tip_for_search(tenant, tip_id)
        if doc is None:
            self.index.remove(tenant, tip_id)
        else:
            self.index.put(doc)

    async def _load(self) -> None:
        start_at = await self.store.cluster_time()
        index = SearchIndex()
        async for doc in self.store.listed_for_search():
            index.put(doc)
        self.index, self._start_at, self._resume = index, start_at, None
        log.info("search index loaded: %d listed tips", len(index))

    async def _follow(self) -> None:
        while True:
            try:
                async with await self.store.watch_listings(resume_after=self._resume,
                                                           start_at=None if self._resume else self._start_at) as stream:
                    async for change in stream:
                        self._apply(change)
                        self._resume = change["_id"]
            except asyncio.CancelledError:
                raise
            except OperationFailure as error:
                if error.code != CHANGE_STREAM_HISTORY_LOST:
                    log.warning("search index: change stream failed (%s); retrying in %.0fs", error, self.retry_seconds)
                    await asyncio.sleep(self.retry_seconds)
                    continue
                log.warning("search index: the change stream lost its history (%s); loading every listed tip again",
                            error)
                await self._reload()
            except PyMongoError as error:
                log.warning("search index: change stream interrupted (%s); retrying in %.0fs", error,
                            self.retry_seconds)
                await asyncio.sleep(self.retry_seconds)

    async def _reload(self) -> None:
        while True:
            try:
                await self._load()
                return
            except PyMongoError as error:
                log.warning("search index: reload failed (%s); retrying in %.0fs", error, self.retry_seconds)
                await asyncio.sleep(self.retry_seconds)

    def _apply(self, change: dict[str, Any]) -> None:
        doc = change.get("fullDocument")
        if doc is not None:
            self.index.put(doc)
        elif change["operationType"] == "delete":
            tenant, _, tip_id = str(change["documentKey"]["_id"]).partition("|")
            self.index.remove(tenant, tip_id)
        self.changes_applied += 1
