"""Sellers redeem their earnings through the ledger."""

from __future__ import annotations

import httpx

from ..domain import Actor, DomainError
from ..store import Doc
from .context import MarketplaceService


async def redeem(*, market: MarketplaceService, tenant: str, actor: Actor, seller_id: str, redemption_id: str,
                 yuan: int, item: str | None) -> httpx.Response:
    """Ask the ledger to convert the seller's earnings (its POST /v1/redemptions: idempotent on the id)."""
    if actor.user_id != seller_id:
        raise DomainError("not_seller", "sellers redeem their own earnings")
    if market.ledger_http is None:
        raise DomainError("ledger_unavailable", "no ledger configured")
    body: Doc = {"id": redemption_id, "user_id": seller_id, "yuan": yuan}
    if item is not None:
        body["item"] = item
    return await market.ledger_http.post("/v1/redemptions", json=body,
                                         headers={"X-Tenant-Id": tenant})  # with the service's token
