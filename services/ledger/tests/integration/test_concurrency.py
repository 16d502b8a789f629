"""Hundreds of concurrent random operations on a few accounts of the real MongoDB (transfers, holds posted
or voided, linked pairs, purchase batches), from two replicas of the service: coins are conserved, no
balance goes below zero, and the balances are exactly what the operations reported as done, each once.

Within one replica, operations on the same accounts wait for each other (in-process locks); between the
two, only MongoDB's transactions keep them apart (write conflicts, retried)."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

from ledger import domain
from ledger.domain import DomainError, TransferSpec, escrow, wallet
from ledger.main import create_app
from ledger.service import LedgerService
from ledger.settings import LedgerSettings
from ledger_support import Harness, purchase

USERS = [f"u{n}" for n in range(16)]
START = 400
TASKS = 300


async def test_concurrent_random_operations_keep_the_books_exact(harness: Harness,
                                                                 ledger_settings: LedgerSettings) -> None:
    other = create_app(ledger_settings).state.ledger  # a second replica: its own client and locks
    replicas: list[LedgerService] = [harness.ledger, other]
    await harness.give({u: START for u in USERS})
    await harness.set_policy(seller_share_percent=90, daily_limits={"buyer_daily_count": 15, "buyer_daily_coins": None,
                                                                    "pair_daily_count": 4})
    rng = random.Random(20261124)
    expected: Counter[str] = Counter({wallet(u): START for u in USERS})
    expected["issuance"] = -START * len(USERS)
    outcomes: Counter[str] = Counter()

    def moved(moves: tuple[domain.Move, ...] | list[domain.Move]) -> None:
        for m in moves:
            expected[m.debit] -= m.amount
            expected[m.credit] += m.amount

    async def direct(n: int) -> None:
        a, b = rng.sample(USERS, 2)
        spec = TransferSpec(f"t-{n}", wallet(a), wallet(b), rng.randint(1, 150))
        try:
            await rng.choice(replicas).transfer(tenant=harness.tenant, specs=[spec], actor="test")
        except DomainError as error:
            outcomes[error.code] += 1
            return
        moved(spec.moves())
        outcomes["transfer"] += 1

    async def linked(n: int) -> None:
        a, b, c = rng.sample(USERS, 3)
        specs = [TransferSpec(f"l-{n}-a", wallet(a), wallet(b), rng.randint(1, 120)),
                 TransferSpec(f"l-{n}-b", wallet(b), wallet(c), rng.randint(1, 120))]
        try:
            await rng.choice(replicas).transfer(tenant=harness.tenant, specs=specs, actor="test", linked=True)
        except DomainError as error:
            outcomes["linked_" + error.code] += 1
            return
        for spec in specs:
            moved(spec.moves())
        outcomes["linked"] += 1

    async def hold(n: int) -> None:
        a, b = rng.sample(USERS, 2)
        amount = rng.randint(1, 150)
        spec = TransferSpec(f"h-{n}", wallet(a), wallet(b), amount, pending=True, timeout_seconds=600)
        try:
            await rng.choice(replicas).transfer(tenant=harness.tenant, specs=[spec], actor="test")
        except DomainError as error:
            outcomes["hold_" + error.code] += 1
            return
        moved(spec.moves())
        await asyncio.sleep(rng.random() / 20)
        if rng.random() < 0.6:
            part = rng.randint(1, amount)
            await rng.choice(replicas).post_hold(tenant=harness.tenant, hold_id=spec.transfer_id, amount=part, actor="test")
            moved([domain.Move(escrow(wallet(a)), wallet(b), part)])
            if amount - part:
                moved([domain.Move(escrow(wallet(a)), wallet(a), amount - part)])
            outcomes["posted_hold"] += 1
        else:
            await rng.choice(replicas).void_hold(tenant=harness.tenant, hold_id=spec.transfer_id, actor="test")
            moved([domain.Move(escrow(wallet(a)), wallet(a), amount)])
            outcomes["voided_hold"] += 1

    async def purchases(n: int) -> None:
        deliveries = []
        for k in range(rng.randint(1, 6)):
            buyer, seller = rng.sample(USERS, 2)
            deliveries.append(harness.delivery(purchase(f"p-{n}-{k}", buyer, seller, rng.randint(1, 80))))
        if rng.random() < 0.2:  # a duplicate delivery of one of them in its own concurrent batch
            twin = rng.choice(deliveries)
            await asyncio.gather(replicas[0].handle_transfer_requests(deliveries=deliveries),
                                 replicas[1].handle_transfer_requests(deliveries=[twin]))
            decisions = None
        else:
            decisions = await rng.choice(replicas).purchase_batch(tenant=harness.tenant, deliveries=deliveries)
        if decisions is None:  # which of the twins won is not known here: read what was stored
            for d in deliveries:
                doc = await harness.store.transfer(harness.tenant, d.event.data.transfer_id)
                if doc["state"] == "posted":
                    p = doc["purchase"]
                    moved(domain.purchase_moves(domain.PurchaseRequest("", doc["transfer_id"], p["buyer_id"],
                                                                       p["seller_id"], p["tip_id"], p["price"],
                                                                       p["day"]),
                                                p["seller_amount"], p["platform_amount"]))
                outcomes["purchase_" + doc["state"]] += 1
            return
        for decision in decisions:
            moved(decision.moves)
            outcomes["purchase_" + decision.outcome] += 1

    kinds = [direct, direct, linked, hold, purchases]
    try:
        await asyncio.gather(*(rng.choice(kinds)(n) for n in range(TASKS)))
    finally:
        await other.store.client.close()

    stored = await harness.balances()
    assert {k: v for k, v in stored.items() if v} == {k: v for k, v in expected.items() if v}
    assert all(v >= 0 for k, v in stored.items() if k != "issuance"), stored
    assert stored["issuance"] == -START * len(USERS) and sum(stored.values()) == 0
    audit = await harness.audit()
    assert audit["ok"], audit
    # the run exercised both sides of every rule
    assert outcomes["transfer"] and outcomes["insufficient_funds"]
    assert outcomes["linked"] and outcomes["posted_hold"] and outcomes["voided_hold"]
    assert outcomes["purchase_posted"] and outcomes["purchase_rejected"]
    assert not any(key.startswith("hold_") and key != "hold_insufficient_funds" for key in outcomes), outcomes
