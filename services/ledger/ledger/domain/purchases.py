"""Purchase decisions: no self-purchase, the daily limits against fake purchases (刷单), the buyer's funds,
and the revenue share between the seller and the platform."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from telesales_contracts.ledger import DailyLimit, PurchaseRejection
from telesales_runtime.errors import DomainError

from .accounts import BUDGET, Balances, Move, earnings, escrow, wallet
from .changes import REJECTED, CounterIncrement, Record, Transfer
from .policy import DailyLimits, LedgerPolicy, split_revenue
from .transfers import fingerprint


@dataclass(frozen=True)
class PurchaseRequest:
    event_id: str
    transfer_id: str
    buyer_id: str
    seller_id: str
    tip_id: str
    price: int
    day: str

    @property
    def fingerprint(self) -> str:
        return fingerprint({"op": "purchase", "buyer": self.buyer_id, "seller": self.seller_id,
                            "tip": self.tip_id, "price": self.price})


@dataclass
class DailyCounters:
    """Purchases and coins so far per (day, buyer) and per (day, buyer, seller)."""

    buyers: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    pairs: dict[tuple[str, str, str], tuple[int, int]] = field(default_factory=dict)

    def buyer(self, day: str, buyer: str) -> tuple[int, int]:
        return self.buyers.get((day, buyer), (0, 0))

    def pair(self, day: str, buyer: str, seller: str) -> tuple[int, int]:
        return self.pairs.get((day, buyer, seller), (0, 0))

    def add(self, day: str, buyer: str, seller: str, coins: int) -> None:
        n, c = self.buyer(day, buyer)
        self.buyers[(day, buyer)] = (n + 1, c + coins)
        n, c = self.pair(day, buyer, seller)
        self.pairs[(day, buyer, seller)] = (n + 1, c + coins)


def limit_reached(request: PurchaseRequest, counters: DailyCounters, limits: DailyLimits
                  ) -> tuple[DailyLimit, int] | None:
    """The first daily limit this purchase would exceed (buyer's count, buyer's coins, the pair's count,
    the pair's coins), with its value; None when it fits."""
    count, coins = counters.buyer(request.day, request.buyer_id)
    pair_count, pair_coins = counters.pair(request.day, request.buyer_id, request.seller_id)
    checks = ((DailyLimit.BUYER_COUNT, limits.buyer_daily_count, count + 1),
              (DailyLimit.BUYER_COINS, limits.buyer_daily_coins, coins + request.price),
              (DailyLimit.PAIR_COUNT, limits.pair_daily_count, pair_count + 1),
              (DailyLimit.PAIR_COINS, limits.pair_daily_coins, pair_coins + request.price))
    for name, limit, after in checks:
        if limit is not None and after > limit:
            return name, limit
    return None


Outcome = Literal["posted", "rejected", "repeat", "conflict"]


@dataclass(frozen=True)
class PurchaseDecision:
    request: PurchaseRequest
    outcome: Outcome
    reason: PurchaseRejection | None = None
    limit: DailyLimit | None = None
    limit_value: int | None = None
    message: str = ""
    seller_amount: int = 0
    platform_amount: int = 0
    buyer_balance: int = 0
    moves: tuple[Move, ...] = ()


def purchase_moves(request: PurchaseRequest, seller_amount: int, platform_amount: int) -> tuple[Move, ...]:
    """Hold the price in the buyer's escrow, then post it: the seller's share to their earnings, the rest to
    the budget."""
    buyer, hold = wallet(request.buyer_id), escrow(wallet(request.buyer_id))
    moves = [Move(buyer, hold, request.price)]
    if seller_amount:
        moves.append(Move(hold, earnings(request.seller_id), seller_amount))
    if platform_amount:
        moves.append(Move(hold, BUDGET, platform_amount))
    return tuple(moves)


def decide_purchases(requests: Sequence[PurchaseRequest], prior: Mapping[str, str], balances: Balances,
                     counters: DailyCounters, policy: LedgerPolicy) -> list[PurchaseDecision]:
    """Decide purchase requests in order, as if one after another: `prior` maps transfer ids decided
    before to their fingerprints. A repeat of a decided id is answered with the first result; the same
    id with other content is a conflict. Otherwise: no self-purchase, then the daily limits, then the
    buyer's funds. `balances` and `counters` are updated with what was posted."""
    decided: dict[str, str] = dict(prior)
    out: list[PurchaseDecision] = []
    for r in requests:
        known = decided.get(r.transfer_id)
        if known is not None:
            if known == r.fingerprint:
                out.append(PurchaseDecision(r, "repeat"))
            else:
                out.append(PurchaseDecision(r, "conflict", PurchaseRejection.TRANSFER_ID_CONFLICT,
                                            message=f"transfer id {r.transfer_id} was used before for another purchase"))
            continue
        decided[r.transfer_id] = r.fingerprint
        if r.buyer_id == r.seller_id:
            out.append(PurchaseDecision(r, "rejected", PurchaseRejection.SELF_PURCHASE,
                                        message="a seller cannot buy their own tip",
                                        buyer_balance=balances.balance(wallet(r.buyer_id))))
            continue
        reached = limit_reached(r, counters, policy.daily_limits)
        if reached is not None:
            name, value = reached
            out.append(PurchaseDecision(r, "rejected", PurchaseRejection.DAILY_LIMIT, name, value,
                                        f"daily limit {name.value} ({value}) reached on {r.day}",
                                        buyer_balance=balances.balance(wallet(r.buyer_id))))
            continue
        seller_amount, platform_amount = split_revenue(r.price, policy.seller_share_percent)
        moves = purchase_moves(r, seller_amount, platform_amount)
        try:
            balances.move_all(moves)
        except DomainError as error:
            out.append(PurchaseDecision(r, "rejected", PurchaseRejection.INSUFFICIENT_FUNDS, message=error.message,
                                        buyer_balance=balances.balance(wallet(r.buyer_id))))
            continue
        counters.add(r.day, r.buyer_id, r.seller_id, r.price)
        out.append(PurchaseDecision(r, "posted", seller_amount=seller_amount, platform_amount=platform_amount,
                                    buyer_balance=balances.balance(wallet(r.buyer_id)), moves=moves))
    return out


def purchase_transfers(decision: PurchaseDecision, *, now: datetime, by: str) -> list[Transfer]:
    """A posted purchase as transfers: the price held in the buyer's escrow, then the seller's share and
    the platform's out of it (the hold records the purchase)."""
    r = decision.request
    buyer, hold = wallet(r.buyer_id), escrow(wallet(r.buyer_id))
    purchase = {"buyer_id": r.buyer_id, "seller_id": r.seller_id, "tip_id": r.tip_id, "price": r.price,
                "seller_amount": decision.seller_amount, "platform_amount": decision.platform_amount,
                "buyer_balance": decision.buyer_balance, "day": r.day, "request_event_id": r.event_id}
    transfers = [Transfer(r.transfer_id, "purchase", buyer, hold, r.price, now, by, linked_group=r.transfer_id,
                          fingerprint=r.fingerprint, details={"target": earnings(r.seller_id), "held_at": now,
                                                              "purchase": purchase})]
    if decision.seller_amount:
        transfers.append(Transfer(f"{r.transfer_id}/sale", "sale", hold, earnings(r.seller_id),
                                  decision.seller_amount, now, by, linked_group=r.transfer_id, hold_id=r.transfer_id))
    if decision.platform_amount:
        transfers.append(Transfer(f"{r.transfer_id}/fee", "fee", hold, BUDGET, decision.platform_amount, now, by,
                                  linked_group=r.transfer_id, hold_id=r.transfer_id))
    return transfers


@dataclass(frozen=True)
class RejectedPurchase:
    """A refused purchase, kept (without accounts) so that its id keeps its first answer."""

    decision: PurchaseDecision
    at: datetime
    by: str

    @property
    def transfer_id(self) -> str:
        return self.decision.request.transfer_id

    def record(self) -> Record:
        d, r = self.decision, self.decision.request
        return {"transfer_id": r.transfer_id, "kind": "purchase", "state": REJECTED, "amount": r.price,
                "fingerprint": r.fingerprint, "created_at": self.at, "by": self.by,
                "purchase": {"buyer_id": r.buyer_id, "seller_id": r.seller_id, "tip_id": r.tip_id, "price": r.price,
                             "day": r.day, "request_event_id": r.event_id,
                             "reason": d.reason.value if d.reason else None,
                             "limit": d.limit.value if d.limit else None, "limit_value": d.limit_value,
                             "message": d.message, "buyer_balance": d.buyer_balance}}


def counter_increments(decisions: Sequence[PurchaseDecision]) -> list[CounterIncrement]:
    """What the posted purchases add to the daily counters: per buyer and day, then per buyer-seller pair."""
    buyers: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    pairs: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for decision in decisions:
        if decision.outcome == "posted":
            r = decision.request
            for totals in (buyers[(r.day, r.buyer_id)], pairs[(r.day, r.buyer_id, r.seller_id)]):
                totals[0], totals[1] = totals[0] + 1, totals[1] + r.price
    return [*(CounterIncrement(day, buyer, None, n, coins) for (day, buyer), (n, coins) in buyers.items()),
            *(CounterIncrement(day, buyer, seller, n, coins) for (day, buyer, seller), (n, coins) in pairs.items())]


def answer(first: Mapping[str, Any], request: PurchaseRequest, *, repeat: bool) -> tuple[bool, Record]:
    """The answer to a purchase request from the record of its (first) decision: (posted?, the event's data)."""
    p = first["purchase"]
    base = {"transfer_id": first["transfer_id"], "buyer_id": p["buyer_id"], "seller_id": p["seller_id"],
            "tip_id": p["tip_id"], "price": p["price"], "request_event_id": request.event_id, "repeat": repeat}
    if first["state"] == REJECTED:
        return False, base | {"reason": p["reason"], "limit": p["limit"], "limit_value": p["limit_value"],
                              "message": p["message"], "rejected_at": first["created_at"]}
    return True, base | {"seller_amount": p["seller_amount"], "platform_amount": p["platform_amount"],
                         "buyer_balance": p["buyer_balance"], "day": p["day"], "posted_at": first["posted_at"]}


def conflict_answer(decision: PurchaseDecision, now: datetime) -> Record:
    """The refusal of a request reusing a decided id for other content (the first decision stands)."""
    r = decision.request
    assert decision.reason is not None
    return {"transfer_id": r.transfer_id, "buyer_id": r.buyer_id, "seller_id": r.seller_id, "tip_id": r.tip_id,
            "price": r.price, "request_event_id": r.event_id, "repeat": False, "reason": decision.reason.value,
            "limit": None, "limit_value": None, "message": decision.message, "rejected_at": now}
