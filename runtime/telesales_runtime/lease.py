"""A leadership lease in MongoDB: among several replicas, only the holder of a live lease does a job
(relaying an outbox, sweeping for reclaims). The holder renews it each round; if it stops, another
replica takes over once the lease has expired."""

from __future__ import annotations

import os
import socket
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

    async def hold(self) -> bool:
        """Take the lease if it is free or expired, or renew it if ours; False while another holds it."""
        now = datetime.now(UTC)
        try:
            await self.collection.find_one_and_update(
                {"_id": self.name, "$or": [{"owner": self.owner}, {"expires_at": {"$lt": now}}]},
                {"$set": {"owner": self.owner, "expires_at": now + timedelta(seconds=self.seconds)}},
                upsert=True,
            )
            return True
        except DuplicateKeyError:
            return False  # the filter missed (another owner, not expired), so the upsert collided on _id

    async def release(self) -> None:
        """Hand the lease over at once instead of making a successor wait for it to expire."""
        try:
            await self.collection.delete_one({"_id": self.name, "owner": self.owner})
        except PyMongoError:
            pass
