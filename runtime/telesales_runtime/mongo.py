"""MongoDB through PyMongo's async API (never motor)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure, PyMongoError
from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern

T = TypeVar("T")


def connect_mongo(uri: str, app_name: str) -> AsyncMongoClient[dict[str, Any]]:
    # tz_aware: datetimes come back as aware UTC values, the same as they went in.
    return AsyncMongoClient(uri, appname=app_name, tz_aware=True, serverSelectionTimeoutMS=5000)


async def in_transaction(
    client: AsyncMongoClient[dict[str, Any]],
    work: Callable[[AsyncClientSession], Awaitable[T]],
) -> T:
    """Run `work` in one multi-document transaction; transient errors are retried by the driver.

    A unique-index violation anywhere in it (also inside a bulk write) surfaces as DuplicateKeyError,
    so callers handle "someone else wrote it first" in one place."""
    async with client.start_session() as session:
        try:
            return await session.with_transaction(
                work,
                read_concern=ReadConcern("snapshot"),
                write_concern=WriteConcern("majority"),
            )
        except PyMongoError as error:
            if is_duplicate_key(error) and not isinstance(error, DuplicateKeyError):
                raise DuplicateKeyError(str(error), 11000) from error
            raise


async def ping(client: AsyncMongoClient[dict[str, Any]]) -> None:
    await client.admin.command("ping")


def is_duplicate_key(error: BaseException) -> bool:
    """A unique index refused a write (alone, or inside a bulk write)."""
    if isinstance(error, DuplicateKeyError):
        return True
    if isinstance(error, BulkWriteError):
        errors = error.details.get("writeErrors", [])
        return bool(errors) and all(e.get("code") == 11000 for e in errors)
    return isinstance(error, OperationFailure) and error.code == 11000
