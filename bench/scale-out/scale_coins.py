"""The coins path of a scale-out run: purchase requests on ledger.transfer-requested.v1, as the marketplace
sends them, answered by the ledger's replicas (ledger.transfer-posted.v1 or -rejected.v1).

The wallets are funded through the ledger's HTTP API as its operators do (an issue into the budget, then
allocations), before the phase that uses them. Each buyer buys once from each of three sellers at 9 coins,
within the default daily limits (3 purchases a day per buyer-seller pair, 20 a day, 2,000 coins a day) and
its funds, so every request must be posted: a rejection is a fault of the run."""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from ledger.domain import LedgerPolicy
from telesales_contracts.topics import LEDGER_TRANSFER_REQUESTED
from telesales_testkit.auth import auth_headers
from telesales_testkit.bench import BenchError

SELLERS = ("seller-0", "seller-1", "seller-2")
PRICE = 9
FUNDS = 100  # coins a new wallet gets: more than the 3 purchases of its buyer
ALLOCATION_CHUNK = 1000


@dataclass(frozen=True, slots=True)
class Request:
    event_id: str
    transfer_id: str
    key: bytes  # the buyer: a buyer's requests stay in order on one partition
    payload: bytes


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

    def make(self, count: int) -> list[Request]:
        return [self.one() for _ in range(count)]

    def one(self) -> Request:
        k = self.made
        self.made += 1
        buyer, seller = buyer_of(k), SELLERS[k % len(SELLERS)]
        transfer_id = f"scale-tx-{k:07d}"
        event_id = str(uuid.uuid4())
        data = {"transfer_id": transfer_id, "buyer_id": buyer, "seller_id": seller, "tip_id": f"tip-{seller}",
                "price": PRICE}
        event = {"specversion": "1.0", "id": event_id, "source": f"/bench/scale-out-{self.run}",
                 "type": LEDGER_TRANSFER_REQUESTED.event_type, "time": datetime.now(UTC).isoformat(),
                 "subject": transfer_id, "datacontenttype": "application/json", "tenantid": self.tenant, "data": data}
        return Request(event_id, transfer_id, buyer.encode(), json.dumps(event, separators=(",", ":")).encode())
