"""HTTP API of the marketplace. Every route works within one tenant (the token's) and needs a role of
ACCESS. The caller is the token's sub; operators (and admin) review and delist tips, everyone else acts as
an agent (writes, buys, learns, rates). Errors are problem+json with a stable `code`. Routes parse, call
the service and answer."""

from .activity import activity_router, purchases_router
from .browse import browse_router
from .common import ACCESS
from .sellers import sellers_router, struggle_router
from .tips import tips_router

__all__ = ["ACCESS", "activity_router", "browse_router", "purchases_router", "sellers_router", "struggle_router",
           "tips_router"]
