"""MongoDB through PyMongo's async API (never motor)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from pymongo import AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import (
    BulkWriteError,
    CollectionInvalid,
    DuplicateKeyError,
    OperationFailure,
    PyMongoError,
    ServerSelectionTimeoutError,
)
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
    async def attempt(session: AsyncClientSession) -> T:
        try:
            return await work(session)
        except ServerSelectionTimeoutError as error:
            # The database does not answer at all. with_transaction would retry this (it is labelled a
            # transient transaction error) for 120 s, holding an HTTP request or a batch that long; fail now
            # (503 over HTTP, redelivery for a consumer): the error is raised again without that label.
            raise ServerSelectionTimeoutError(str(error)) from error

    async with client.start_session() as session:
        try:
            return await session.with_transaction(
                attempt,
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


async def read_versioned(collection: AsyncCollection[dict[str, Any]], key: str,
                         field: str = "value") -> tuple[Any, int]:
    """A versioned document's `field` and its version; (None, 0) when it was never written."""
    doc = await collection.find_one({"_id": key})
    return (None, 0) if doc is None else (doc[field], doc["version"])


async def write_versioned(collection: AsyncCollection[dict[str, Any]], key: str, body: dict[str, Any],
                          expected_version: int | None) -> int | None:
    """Set `body` on the versioned document `key` and count its version up; the new version. With
    `expected_version` (0: not written yet), only if nobody changed it since: None otherwise (optimistic
    concurrency behind If-Match)."""
    if expected_version is None:
        doc = await collection.find_one_and_update({"_id": key}, {"$set": body, "$inc": {"version": 1}},
                                                   upsert=True, return_document=ReturnDocument.AFTER)
        return doc["version"]
    if expected_version == 0:
        try:
            await collection.insert_one({"_id": key, "version": 1, **body})
            return 1
        except DuplicateKeyError:  # someone created it first
            return None
    doc = await collection.find_one_and_update({"_id": key, "version": expected_version},
                                               {"$set": body, "$inc": {"version": 1}},
                                               return_document=ReturnDocument.AFTER)
    return None if doc is None else doc["version"]


NAMESPACE_EXISTS = 48


async def ensure_collections(db: AsyncDatabase[Any], names: Iterable[str]) -> None:
    """Create the collections a transaction writes before any transaction starts: MongoDB 6 creates
    none inside one. Another replica creating one meanwhile is fine."""
    existing = set(await db.list_collection_names())
    for name in names:
        if name in existing:
            continue
        try:
            await db.create_collection(name)
        except CollectionInvalid:  # created meanwhile by another replica
            pass
        except OperationFailure as error:
            if error.code != NAMESPACE_EXISTS:
                raise
