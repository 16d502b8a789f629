"""Helpers of the ledger's tests (importable: the tests folder is on pytest's pythonpath)."""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from ledger import domain
from ledger.domain import AccountState, Balances, DailyCounters, LedgerPolicy, wallet
from ledger.service import LedgerService
from ledger.store import LedgerStore
from telesales_runtime.consumer import Delivery
from telesales_testkit.harness import ServiceHarness, cloudevent

TRANSFER_REQUESTED = "ledger.transfer-requested.v1"

DAY_TIME = "2026-11-24T10:00:00+08:00"


@dataclass(kw_only=True)
class Harness(ServiceHarness):
    ledger: LedgerService
    store: LedgerStore
    event_time: ClassVar[str] = DAY_TIME

    @property
    def operator(self) -> dict[str, str]:
        """Headers of a request made by the operator ops-1."""
        return self.as_("operator", "ops-1")

    async def issue(self, amount: int, *, transfer_id: str | None = None) -> dict[str, Any]:
        response = await self.http.post("/v1/issues", json={"id": transfer_id or f"issue-{uuid.uuid4().hex[:8]}",
                                                             "amount": amount}, headers=self.operator)
        assert response.status_code == 201, response.text
        return response.json()

    async def give(self, user_amounts: dict[str, int]) -> None:
        """Fund the budget and allocate each user's amount to their wallet."""
        await self.issue(sum(user_amounts.values()))
        for user, amount in user_amounts.items():
            response = await self.http.post("/v1/allocations", json={
                "id": f"alloc-{uuid.uuid4().hex[:8]}", "amount": amount, "user_ids": [user]}, headers=self.operator)
            assert response.status_code == 201, response.text

    async def balance(self, account: str) -> int:
        response = await self.http.get(f"/v1/accounts/{account}")
        assert response.status_code == 200, response.text
        return response.json()["balance"]

    async def balances(self) -> dict[str, int]:
        return {k: v for k, v in (await self.store.stored_balances(self.tenant)).items() if v}

    async def audit(self) -> dict[str, Any]:
        response = await self.http.get("/v1/audit", params={"verify": "true"})
        assert response.status_code == 200, response.text
        return response.json()

    async def set_policy(self, **policy: Any) -> None:
        response = await self.http.put("/v1/config/policy", json=policy, headers=self.operator)
        assert response.status_code == 200, response.text

    def delivery(self, data: dict[str, Any], *, event_id: str | None = None, time: str = DAY_TIME) -> Delivery:
        """A parsed purchase request, as the consumer hands it to the service."""
        from telesales_contracts.topics import LEDGER_TRANSFER_REQUESTED

        raw = cloudevent(LEDGER_TRANSFER_REQUESTED.name, self.tenant, data, event_id=event_id or str(uuid.uuid4()),
                         time=time)
        return Delivery(LEDGER_TRANSFER_REQUESTED.parse(raw), None)


def purchase(transfer_id: str, buyer: str, seller: str, price: int, tip: str = "tip-1") -> dict[str, Any]:
    return {"transfer_id": transfer_id, "buyer_id": buyer, "seller_id": seller, "tip_id": tip, "price": price}


def iso(value: datetime) -> str:
    return value.isoformat()


def uninterrupted(events: list[tuple[str, bytes, bytes]], funds: dict[str, int], policy: LedgerPolicy,
                  tz: Any) -> tuple[dict[str, int], dict[str, str]]:
    """Balances and outcome per transfer id of a stream of purchase requests (event id, key, CloudEvent
    bytes) decided by the ledger's own rules one request after another, each event once (the inbox drops a
    second delivery of an event id): what a run that nothing interrupted ends with."""
    requests, seen = [], set()
    for event_id, _, raw in events:
        if event_id in seen:
            continue
        seen.add(event_id)
        body = json.loads(raw)
        d = body["data"]
        requests.append(domain.PurchaseRequest(event_id, d["transfer_id"], d["buyer_id"], d["seller_id"], d["tip_id"],
                                               d["price"], domain.business_day(datetime.fromisoformat(body["time"]), tz)))
    balances = Balances([AccountState(wallet(b), amount, False, True) for b, amount in funds.items()])
    decisions = domain.decide_purchases(requests, {}, balances, DailyCounters(), policy)
    expected = dict(funds_accounts(funds))
    for key, delta in balances.changes().items():
        expected[key] = expected.get(key, 0) + delta
    outcomes = {d.request.transfer_id: d.outcome for d in decisions if d.outcome in ("posted", "rejected")}
    return {k: v for k, v in expected.items() if v}, outcomes


def funds_accounts(funds: dict[str, int]) -> dict[str, int]:
    return {"issuance": -sum(funds.values()), **{wallet(b): a for b, a in funds.items()}}


def purchase_requests(tenant: str, rng: random.Random, *, count: int, buyers: list[str], sellers: list[str],
                      tips: int, max_price: int, id_prefix: str, time: str,
                      source: str = "/services/marketplace") -> list[tuple[str, bytes, bytes]]:
    """(event id, key, CloudEvent bytes) of ledger.transfer-requested.v1 in publishing order, each buyer's in
    order and keyed by buyer: some events delivered twice, some transfer ids retried under a new event id,
    some reused for another price (max_price + 1, so the reuse is a conflict)."""
    events: list[tuple[str, bytes, bytes]] = []
    sent: list[dict[str, Any]] = []

    def add(data: dict[str, Any], event_id: str | None = None) -> None:
        event_id = event_id or str(uuid.uuid4())
        body = cloudevent(TRANSFER_REQUESTED, tenant, data, event_id=event_id, time=time, source=source)
        events.append((event_id, data["buyer_id"].encode(), body))

    for n in range(count):
        buyer = rng.choice(buyers)
        data = {"transfer_id": f"{id_prefix}{n}", "buyer_id": buyer, "seller_id": rng.choice(sellers),
                "tip_id": f"tip-{rng.randint(1, tips)}", "price": rng.randint(5, max_price)}
        add(data)
        sent.append(data)
        roll = rng.random()
        if roll < 0.06:  # the same event delivered again
            last = json.loads(events[-1][2])
            add(last["data"], last["id"])
        elif roll < 0.10:  # the marketplace retried an earlier request of this buyer
            add(dict(rng.choice([d for d in sent if d["buyer_id"] == buyer])))
        elif roll < 0.12:  # an earlier id of this buyer reused for another price
            add(dict(rng.choice([d for d in sent if d["buyer_id"] == buyer])) | {"price": max_price + 1})
    return events
