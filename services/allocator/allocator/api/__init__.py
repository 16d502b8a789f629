"""HTTP API of the allocator: thin routes (parse, call the service or a query, answer). Who may call each
route is in access.py."""

from .access import ACCESS
from .config import config_router
from .dialing import dialing_router
from .floor import floor_router
from .leads import pools_router
from .ops import ops_router
from .roster import roster_router
from .supervising import supervising_router

__all__ = ["ACCESS", "config_router", "dialing_router", "floor_router", "ops_router", "pools_router", "roster_router",
           "supervising_router"]
