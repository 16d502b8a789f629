"""A leadership lease in MongoDB: among several replicas, only the holder of a live lease does a job
(relaying an outbox, sweeping for reclaims). The holder renews it each round; if it stops, another
replica takes over once the lease has expired.

A holder asked many times a second (a relay woken by every write) renews only once a third of the lease
has run out: the write it saves is as costly as the work the lease guards.

`held()` says, without a round trip, whether the last write still holds the lease: what only one replica at
a time may do while a successor may already be taking over (the metrics service's figures on /metrics)
asks it, since a successor takes the lease only once the expiry that write set has passed."""

from __future__ import annotations

import os
import socket
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError, PyMongoError


class MongoLease:
    def __init__(self, collection: AsyncCollection[dict[str, Any]], name: str, *, seconds: float) -> None:
        self.collection = collection
        self.name = name
        self.seconds = seconds
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._renew_after: float | None = None  # monotonic time after which the next hold() writes
        self._held_until: float | None = None  # monotonic time the lease this replica last wrote expires

    async def hold(self) -> bool:
        """Take the lease if it is free or expired, or renew it if ours; False while another holds it."""
        if self._renew_after is not None and time.monotonic() < self._renew_after:
            return True  # ours, with at least two thirds of it left
        started = time.monotonic()
        now = datetime.now(UTC)
        try:
            await self.collection.find_one_and_update(
                {"_id": self.name, "$or": [{"owner": self.owner}, {"expires_at": {"$lt": now}}]},
                {"$set": {"owner": self.owner, "expires_at": now + timedelta(seconds=self.seconds)}},
                upsert=True,
            )
        except DuplicateKeyError:
            self._renew_after = self._held_until = None
            return False  # the filter missed (another owner, not expired), so the upsert collided on _id
        except BaseException:
            self._renew_after = None
            raise
        self._renew_after = started + self.seconds / 3
        # `expires_at` was computed from the wall clock read with `started`: this is that expiry, monotonic.
        self._held_until = started + self.seconds
        return True

    def held(self, margin: float = 0.0) -> bool:
        """Whether the lease this replica last wrote runs for `margin` seconds more at least (no database
        round trip). A failed renewal leaves the lease written before in force until it expires."""
        return self._held_until is not None and time.monotonic() + margin < self._held_until

    async def release(self) -> None:
        """Hand the lease over at once instead of making a successor wait for it to expire."""
        self._renew_after = self._held_until = None  # before the delete: a successor may take it at once
        try:
            await self.collection.delete_one({"_id": self.name, "owner": self.owner})
        except PyMongoError:
            pass
