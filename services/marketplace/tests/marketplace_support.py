"""Helpers of the marketplace's tests (importable: the tests folder is on pytest's pythonpath)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from marketplace.domain import REVIEW_CHECKLIST
from marketplace.service import MarketplaceService
from marketplace.store import MarketplaceStore
from telesales_testkit.harness import ServiceHarness

ALL_PASS = dict.fromkeys(REVIEW_CHECKLIST, True)


def tip_body(**change: Any) -> dict[str, Any]:
    return {"title": "报价三步法", "summary": "先价值后价格，报价不被挂断", "body": "第一步：确认需求。第二步：讲清保障。第三步：给出价格。",
            "stage": "quoting", "product_line": "car-insurance", "tags": ["报价", "续保"], "price": 30} | change


@dataclass(kw_only=True)
class Harness(ServiceHarness):
    market: MarketplaceService
    store: MarketplaceStore

    def as_user(self, user: str) -> dict[str, str]:
        """Headers of a request made by the agent `user`."""
        return self.as_("agent", user)

    @property
    def reviewer(self) -> dict[str, str]:
        """Headers of a request made by the operator reviewer-1 (operators review tips)."""
        return self.as_("operator", "reviewer-1")

    async def draft(self, author: str = "zhang-san", **change: Any) -> dict[str, Any]:
        response = await self.http.post("/v1/tips", json=tip_body(**change), headers=self.as_user(author))
        assert response.status_code == 201, response.text
        return response.json()

    async def submit(self, tip_id: str, version: int, author: str = "zhang-san") -> dict[str, Any]:
        response = await self.http.post(f"/v1/tips/{tip_id}/versions/{version}/submit", headers=self.as_user(author))
        assert response.status_code == 200, response.text
        return response.json()

    async def approve(self, tip_id: str, version: int) -> dict[str, Any]:
        response = await self.http.post(f"/v1/tips/{tip_id}/versions/{version}/review",
                                        json={"checks": ALL_PASS}, headers=self.reviewer)
        assert response.status_code == 200, response.text
        return response.json()

    async def listed(self, author: str = "zhang-san", **change: Any) -> str:
        """A tip written, submitted and approved; its id."""
        tip = await self.draft(author, **change)
        await self.submit(tip["tip_id"], 1, author)
        await self.approve(tip["tip_id"], 1)
        return tip["tip_id"]

    async def buy(self, tip_id: str, buyer: str) -> dict[str, Any]:
        response = await self.http.post(f"/v1/tips/{tip_id}/purchases", headers=self.as_user(buyer))
        assert response.status_code in (200, 202), response.text
        return response.json()

    async def ledger_posts(self, purchase: dict[str, Any], *, event_id: str | None = None,
                           repeat: bool = False, seller_amount: int | None = None) -> str:
        """The ledger's answer that it paid (as it publishes it)."""
        data = {k: purchase[k] for k in ("transfer_id", "buyer_id", "seller_id", "tip_id", "price")} | {
            "request_event_id": str(uuid.uuid4()), "repeat": repeat,
            "seller_amount": purchase["price"] if seller_amount is None else seller_amount,
            "platform_amount": purchase["price"] - (purchase["price"] if seller_amount is None else seller_amount),
            "buyer_balance": 70, "day": "2026-11-24", "posted_at": datetime.now(UTC).isoformat()}
        return await self.send("ledger.transfer-posted.v1", data, event_id=event_id,
                               key=purchase["buyer_id"].encode())

    async def ledger_rejects(self, purchase: dict[str, Any], reason: str = "insufficient_funds", *,
                             limit: str | None = None, limit_value: int | None = None,
                             event_id: str | None = None) -> str:
        data = {k: purchase[k] for k in ("transfer_id", "buyer_id", "seller_id", "tip_id", "price")} | {
            "request_event_id": str(uuid.uuid4()), "reason": reason, "limit": limit, "limit_value": limit_value,
            "message": f"refused: {reason}", "rejected_at": datetime.now(UTC).isoformat()}
        return await self.send("ledger.transfer-rejected.v1", data, event_id=event_id,
                               key=purchase["buyer_id"].encode())

    async def owned(self, buyer: str, tip_id: str) -> dict[str, Any]:
        response = await self.http.get(f"/v1/tips/{tip_id}/purchases/mine", headers=self.as_user(buyer))
        assert response.status_code == 200, response.text
        return response.json()

    async def bought(self, tip_id: str, buyer: str) -> dict[str, Any]:
        """A purchase asked for and paid by the ledger."""
        purchase = await self.buy(tip_id, buyer)
        await self.ledger_posts(purchase)
        return await self.owned(buyer, tip_id)
