"""The service layer of the marketplace: keyword-only functions, one module per job. A handler loads the
aggregates from a unit of work, lets them decide, and commits their changes with the events they announce
in one transaction (the outbox); consumed events are recorded in the inbox in the same transaction."""

from ..domain import Actor
from .context import MarketplaceService, utcnow
from .purchases import Result

__all__ = ["Actor", "MarketplaceService", "Result", "utcnow"]
