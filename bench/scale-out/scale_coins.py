"""The coins path of a scale-out run: agents buy tips over the marketplace's HTTP API (spread over its
replicas); the marketplace asks the ledger to pay (ledger.transfer-requested.v1, through its outbox), the
ledger's replicas answer (ledger.transfer-posted.v1 or -rejected.v1) and the marketplace's replicas grant
the purchase on the answer.

Three sellers each list one tip (written, submitted and approved through the API); the buyers' wallets are
funded through the ledger's HTTP API as its operators do (an issue into the budget, then allocations),
before the phase that uses them. Each buyer buys each of the three tips once at 9 coins, within the default
daily limits (3 purchases a day per buyer-seller pair, 20 a day, 2,000 coins a day) and its funds, so every
purchase must be granted: a refusal is a fault of the run."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from ledger.domain import LedgerPolicy
from marketplace.domain import REVIEW_CHECKLIST
from telesales_testkit.auth import auth_headers
from telesales_testkit.bench import BenchError

SELLERS = ("seller-0", "seller-1", "seller-2")
PRICE = 9
FUNDS = 100  # coins a new wallet gets: more than the 3 purchases of its buyer
ALLOCATION_CHUNK = 1000
ATTEMPTS = 5  # a purchase whose replica died is asked again of another (the API replays a purchase made)
BUYERS = 16  # purchases in flight at once


@dataclass(frozen=True, slots=True)
class Purchase:
    buyer: str
    tip_id: str


def tip_of(seller: str) -> str:
    return f"scale-tip-{seller}"


def buyer_of(k: int) -> str:
    return f"buyer-{k // len(SELLERS):06d}"


class Coins:
    def __init__(self, tenant: str, run: str) -> None:
        self.tenant, self.run = tenant, run
        self.made = 0
        self.funded = 0  # buyers with a wallet
        self.headers = auth_headers("operator", "bench-operator", tenant=tenant)

    async def fund(self, http: httpx.AsyncClient, base_url: str, count: int) -> None:
        """Fund every buyer the next `count` requests use (and the sellers, the first time)."""
        buyers = math.ceil((self.made + count) / len(SELLERS))
        users = [f"buyer-{i:06d}" for i in range(self.funded, buyers)] + (list(SELLERS) if not self.funded else [])
        if not users:
            return
        if not self.funded:
            await self.expect(await http.put(f"{base_url}/v1/config/policy", headers=self.headers,
                                             json=LedgerPolicy().model_dump(mode="json")), 200, "PUT /v1/config/policy")
        await self.expect(await http.post(f"{base_url}/v1/issues", headers=self.headers, json={
            "id": f"scale-issue-{self.funded}", "amount": FUNDS * len(users), "note": f"scale-out run {self.run}"}),
            201, "POST /v1/issues")
        for n in range(0, len(users), ALLOCATION_CHUNK):
            chunk = users[n:n + ALLOCATION_CHUNK]
            response = await http.post(f"{base_url}/v1/allocations", headers=self.headers, timeout=300, json={
                "id": f"scale-allocation-{self.funded}-{n}", "amount": FUNDS, "user_ids": chunk,
                "note": "scale-out wallets"})
            await self.expect(response, 201, "POST /v1/allocations")
        self.funded = buyers

    @staticmethod
    async def expect(response: httpx.Response, status: int, what: str) -> None:
        if response.status_code != status:
            raise BenchError(f"{what}: {response.status_code} {response.text[:500]}")

    async def list_tips(self, http: httpx.AsyncClient, base_url: str) -> None:
        """Each seller's tip written, submitted and approved through the marketplace's API."""
        reviewer = auth_headers("operator", "bench-reviewer", tenant=self.tenant)
        approve = {"checks": dict.fromkeys(REVIEW_CHECKLIST, True), "comment": "scale-out"}
        for seller in SELLERS:
            author, tip = auth_headers("agent", seller, tenant=self.tenant), tip_of(seller)
            await self.expect(await http.post(f"{base_url}/v1/tips", headers=author, json={
                "id": tip, "title": "开场白：先问需求再介绍", "summary": "三句话打开局面。",
                "body": "先确认对方方便通话。再问一个开放式问题。最后用一句话说明来意。", "stage": "opening",
                "product_line": "education", "tags": ["新客户"], "price": PRICE}), 201, f"POST /v1/tips {tip}")
            await self.expect(await http.post(f"{base_url}/v1/tips/{tip}/versions/1/submit", headers=author), 200,
                              f"submit {tip}")
            await self.expect(await http.post(f"{base_url}/v1/tips/{tip}/versions/1/review", headers=reviewer,
                                              json=approve), 200, f"review {tip}")

    def make(self, count: int) -> list[Purchase]:
        made = [Purchase(buyer_of(k), tip_of(SELLERS[k % len(SELLERS)])) for k in range(self.made, self.made + count)]
        self.made += count
        return made

    async def buy(self, http: httpx.AsyncClient, urls: Callable[[], list[str]], n: int, purchase: Purchase) -> str:
        """Buy as the buyer through a live marketplace replica (the n-th, round robin); its transfer id. A
        replica that dies meanwhile leaves the purchase made or not: asked again of another, the API answers
        with the purchase as it stands."""
        headers = auth_headers("agent", purchase.buyer, tenant=self.tenant)
        error: Exception | None = None
        for attempt in range(ATTEMPTS):
            live = urls()
            try:
                response = await http.post(f"{live[(n + attempt) % len(live)]}/v1/tips/{purchase.tip_id}/purchases",
                                           headers=headers, timeout=60)
            except httpx.HTTPError as failed:
                error = failed
                await asyncio.sleep(0.5)
                continue
            if response.status_code not in (200, 202):
                raise BenchError(f"buying {purchase}: {response.status_code} {response.text[:300]}")
            return str(response.json()["transfer_id"])
        raise BenchError(f"buying {purchase}: no marketplace replica answered in {ATTEMPTS} attempts ({error!r})")

    async def buy_all(self, http: httpx.AsyncClient, urls: Callable[[], list[str]], purchases: list[Purchase],
                      rate: float | None, record: Callable[[str, float], None]) -> None:
        """Every purchase, BUYERS at a time, at `rate` per second on a fixed schedule or as fast as they go;
        `record(transfer_id, when asked)` as each is made."""
        slots = asyncio.Semaphore(BUYERS)
        start = time.time() + 0.05

        async def one(n: int, purchase: Purchase) -> None:
            if rate:
                await asyncio.sleep(max(0.0, start + n / rate - time.time()))
            async with slots:
                asked = time.time()
                record(await self.buy(http, urls, n, purchase), asked)

        await asyncio.gather(*(one(n, p) for n, p in enumerate(purchases)))
