"""The versions' media in GridFS (bucket `media`): streamed in with a size limit, streamed out, and
deleted when no version uses a file any more."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from ..domain import DomainError, Media

if TYPE_CHECKING:
    from .base import MarketplaceStore


class MediaFiles:
    def __init__(self, store: MarketplaceStore) -> None:
        self.bucket = store.media
        self.versions = store.versions

    async def save(self, *, tenant: str, tip_id: str, version: int, filename: str, content_type: str,
                   chunks: AsyncIterator[bytes], max_bytes: int) -> Media:
        """Stream an upload into a new file; refuses more than `max_bytes` and an empty upload."""
        stream = self.bucket.open_upload_stream(filename, metadata={
            "tenant_id": tenant, "tip_id": tip_id, "version": version, "content_type": content_type})
        size = 0
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise DomainError("media_too_large", f"media may have at most {max_bytes} bytes")
                await stream.write(chunk)
        except BaseException:
            await stream.abort()
            raise
        await stream.close()
        if size == 0:
            await self.bucket.delete(stream._id)
            raise DomainError("empty_media", "the upload has no bytes")
        return Media(stream._id, content_type, size, filename)

    async def discard(self, file_id: Any) -> None:
        await self.bucket.delete(file_id)

    async def release(self, file_id: Any) -> None:
        """Delete a file that no version uses any more (a new version shares its predecessor's media)."""
        if not await self.versions.count_documents({"media.file_id": file_id}, limit=1):
            await self.bucket.delete(file_id)

    async def open(self, file_id: Any, first: int) -> Any:
        """A download stream of the file, positioned at byte `first`."""
        stream = await self.bucket.open_download_stream(file_id)
        await stream.seek(first)
        return stream
