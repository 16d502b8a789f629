"""HTTP API of the ledger. Every route works within one tenant (the token's) and needs a role of
ACCESS; the caller (the token's sub) is recorded on every transfer. Operations with a client-chosen `id` are
idempotent: a retry answers 200 with `Idempotent-Replayed: true` and the first result; the same id with
other content is a 409 problem. Writes go through the service, reads through the queries."""

from __future__ import annotations

from .accounts import accounts_router
from .admin import admin_router
from .operations import operations_router
from .transfers import transfers_router

__all__ = ["ACCESS", "accounts_router", "admin_router", "operations_router", "transfers_router"]

# Who may call each route (admin: every route). Operators run the coin budget (issue, allocate, reclaim,
# blind boxes, policy); supervisors and managers (supervisor tokens, their level from the roster) and
# operators approve requests for coins at their level of the chain; the marketplace (service) moves coins for purchases and redemptions; an agent
# reads its own wallet and earnings and asks for coins again; a supervisor reads those of its team.
_OPS = ("operator",)
_OPS_SERVICE = ("operator", "service")
_READERS = ("agent", "supervisor", "operator", "service")
ACCESS = {
    "GET /v1/accounts": _OPS_SERVICE,
    "GET /v1/accounts/{account}": _READERS,
    "PATCH /v1/accounts/{account}": _OPS,
    "GET /v1/accounts/{account}/statement": _READERS,
    "GET /v1/accounts/{account}/statement.csv": _READERS,
    "GET /v1/users/{user_id}": _READERS,
    "POST /v1/transfers": _OPS_SERVICE,
    "POST /v1/linked-transfers": _OPS_SERVICE,
    "POST /v1/issues": _OPS,
    "GET /v1/transfers/{transfer_id:path}": _OPS_SERVICE,
    "POST /v1/transfers/{transfer_id}/post": _OPS_SERVICE,
    "POST /v1/transfers/{transfer_id}/void": _OPS_SERVICE,
    "POST /v1/holds/expire": _OPS,
    "POST /v1/allocations": _OPS,
    "GET /v1/allocations/{allocation_id}": ("supervisor", "operator"),
    "POST /v1/reclaims": _OPS,
    "POST /v1/reallocation-requests": ("agent", "supervisor", "operator"),
    "GET /v1/reallocation-requests": ("supervisor", "operator"),
    "GET /v1/reallocation-requests/{request_id}": ("agent", "supervisor", "operator"),
    "POST /v1/reallocation-requests/{request_id}/approve": ("supervisor", "operator"),
    "POST /v1/reallocation-requests/{request_id}/reject": ("supervisor", "operator"),
    "POST /v1/redemptions": _OPS_SERVICE,
    "POST /v1/blind-boxes": _OPS,
    "GET /v1/blind-boxes/{draw_id}": ("supervisor", "operator"),
    "GET /v1/blind-boxes/{draw_id}/replay": ("supervisor", "operator"),
    "GET /v1/reports/top-sellers": ("supervisor", "operator"),
    "GET /v1/config/policy": ("supervisor", "operator", "service"),
    "PUT /v1/config/policy": _OPS,
    "GET /v1/audit": _OPS,
}
