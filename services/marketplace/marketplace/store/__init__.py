"""The only part of the marketplace that speaks MongoDB: collections and indexes (`base`), units of work
that compile the aggregates' changes into guarded updates (`unit`), the API's reads (`queries`) and the
media files (`media`)."""

from .base import MarketplaceStore, WrittenMeanwhile
from .keys import Doc, Session, scoped, version_key
from .media import MediaFiles
from .queries import CURSOR_FIELDS, Queries
from .unit import Unit

__all__ = ["CURSOR_FIELDS", "Doc", "MarketplaceStore", "MediaFiles", "Queries", "Session", "Unit", "WrittenMeanwhile",
           "scoped", "version_key"]
