"""The ledger's rules, pure (no I/O): accounts and who may go below zero, moves of coins that are
all-or-nothing, purchase decisions (daily limits against fake purchases, revenue share, funds),
redemption math, idle reclaim, the blind-box draw from a recorded seed, and request fingerprints.

Amounts are integers in coins. A balance is credits minus debits; every move debits one account and
credits another by the same amount, so the balances of a tenant always sum to zero."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from telesales_contracts.ledger import DailyLimit, PurchaseRejection
from telesales_runtime.errors import DomainError

MAX_AMOUNT = 10**12
COINS_PER_YUAN = 100  # 100 coins redeem for 1 yuan (= 100 fen)
FEN_PER_YUAN = 100
DRAW_ALGORITHM = "hmac-sha256-v1"


# ---- accounts ------------------------------------------------------------------------------------------


class AccountKind(StrEnum):
    ISSUANCE = "issuance"  # the source of every coin: its balance is minus the coins in circulation
    BUDGET = "budget"  # the operators' budget: allocations come from it, reclaims and fees return to it
    BONUS_POOL = "bonus-pool"  # blind-box bonuses come from it
    REDEEMED = "redeemed"  # the redemption sink: coins converted in the points mall
    WALLET = "wallet"  # a user's coins to spend (wallet:<user>)
    EARNINGS = "earnings"  # a seller's earnings, redeemable (earnings:<user>)
    ESCROW = "escrow"  # holds in flight of one account (escrow:<account>)


SYSTEM_ACCOUNTS = {AccountKind.ISSUANCE, AccountKind.BUDGET, AccountKind.BONUS_POOL, AccountKind.REDEEMED}
USER_ACCOUNTS = {AccountKind.WALLET, AccountKind.EARNINGS}
# Accounts a direct transfer (or a hold) may touch; the others move only through their own operation.
TRANSFERABLE = {AccountKind.BUDGET, AccountKind.BONUS_POOL, AccountKind.WALLET, AccountKind.EARNINGS}
# Accounts whose "may go below zero" flag an operator may set (the issuance account always may).
CONFIGURABLE = TRANSFERABLE

ISSUANCE = AccountKind.ISSUANCE.value
BUDGET = AccountKind.BUDGET.value
BONUS_POOL = AccountKind.BONUS_POOL.value
REDEEMED = AccountKind.REDEEMED.value

_USER_ID_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:@-")


@dataclass(frozen=True)
class AccountRef:
    key: str
    kind: AccountKind
    owner: str | None  # the user of a wallet or earnings; the held account of an escrow


def wallet(user_id: str) -> str:
    return f"wallet:{user_id}"


def earnings(user_id: str) -> str:
    return f"earnings:{user_id}"


def escrow(account: str) -> str:
    return f"escrow:{account}"


def _valid_user_id(value: str) -> bool:
    return 0 < len(value) <= 64 and value[0].isascii() and value[0].isalnum() and set(value) <= _USER_ID_CHARS


def parse_account(key: str) -> AccountRef:
    """`budget`, `issuance`, `bonus-pool`, `redeemed`, `wallet:<user>`, `earnings:<user>` or
    `escrow:<wallet, earnings, budget or bonus-pool account>`."""
    if key in (ISSUANCE, BUDGET, BONUS_POOL, REDEEMED):
        return AccountRef(key, AccountKind(key), None)
    prefix, sep, rest = key.partition(":")
    if sep and prefix in (AccountKind.WALLET, AccountKind.EARNINGS) and _valid_user_id(rest):
        return AccountRef(key, AccountKind(prefix), rest)
    if sep and prefix == AccountKind.ESCROW:
        held = parse_account(rest)
        if held.kind in TRANSFERABLE:
            return AccountRef(key, AccountKind.ESCROW, rest)
    raise DomainError("invalid_account", f"{key!r} is not an account: use budget, bonus-pool, wallet:<user> or "
                      "earnings:<user> (issuance, redeemed and escrow:<account> are kept by the ledger itself)")


def allows_negative_by_default(key: str) -> bool:
    return key == ISSUANCE


# ---- balances and moves --------------------------------------------------------------------------------


@dataclass
class AccountState:
    """An account as read in the transaction that changes it (an account never written holds 0)."""

    key: str
    balance: int = 0
    allow_negative: bool = False
    exists: bool = False
    allocation_blocked: bool = False

    @classmethod
    def missing(cls, key: str) -> AccountState:
        return cls(key, 0, allows_negative_by_default(key), False, False)


@dataclass(frozen=True)
class Move:
    debit: str
    credit: str
    amount: int


class Balances:
    """The balances of the accounts a unit of work touches, and the moves decided on them. A move that
    would take an account below zero (unless it may go negative) is refused; a group of moves is
    applied whole or not at all."""

    def __init__(self, states: Iterable[AccountState] = ()) -> None:
        self.states: dict[str, AccountState] = {s.key: s for s in states}
        self.deltas: dict[str, int] = defaultdict(int)

    def state(self, key: str) -> AccountState:
        if key not in self.states:
            self.states[key] = AccountState.missing(key)
        return self.states[key]

    def balance(self, key: str) -> int:
        return self.state(key).balance + self.deltas.get(key, 0)

    def may_go_negative(self, key: str) -> bool:
        return key == ISSUANCE or self.state(key).allow_negative

    def can_pay(self, key: str, amount: int) -> bool:
        return self.may_go_negative(key) or self.balance(key) >= amount

    def move(self, debit: str, credit: str, amount: int) -> None:
        self.move_all([Move(debit, credit, amount)])

    def move_all(self, moves: Sequence[Move]) -> None:
        """Apply every move in order, or none: the first that would overdraw its debit account raises
        `insufficient_funds` (with its index) and the balances are as before."""
        applied: list[Move] = []
        for index, m in enumerate(moves):
            if m.amount <= 0 or m.amount > MAX_AMOUNT:
                self._undo(applied)
                raise DomainError("invalid_amount", f"amounts are whole coins from 1 to {MAX_AMOUNT}", index=index)
            if m.debit == m.credit:
                self._undo(applied)
                raise DomainError("same_account", "a transfer needs two different accounts", index=index)
            if not self.can_pay(m.debit, m.amount):
                available = self.balance(m.debit)
                self._undo(applied)
                raise DomainError("insufficient_funds", f"{m.debit} holds {available} coins, {m.amount} needed",
                                  index=index, account=m.debit, balance=available, amount=m.amount)
            self.deltas[m.debit] -= m.amount
            self.deltas[m.credit] += m.amount
            applied.append(m)

    def _undo(self, applied: list[Move]) -> None:
        for m in reversed(applied):
            self.deltas[m.debit] += m.amount
            self.deltas[m.credit] -= m.amount

    def changes(self) -> dict[str, int]:
        """Net change per account (accounts whose moves cancel out are left out)."""
        return {k: d for k, d in self.deltas.items() if d != 0}


# ---- policy --------------------------------------------------------------------------------------------


class DailyLimits(BaseModel):
    """Limits against fake purchases (刷单), per business day; null = no limit."""

    model_config = ConfigDict(extra="forbid")

    buyer_daily_count: int | None = Field(default=20, ge=1, description="Purchases per buyer per day.")
    buyer_daily_coins: int | None = Field(default=2000, ge=1, description="Coins spent per buyer per day.")
    pair_daily_count: int | None = Field(default=3, ge=1, description="Purchases per buyer from one seller per day.")
    pair_daily_coins: int | None = Field(default=None, ge=1, description="Coins per buyer to one seller per day.")


class LedgerPolicy(BaseModel):
    """A tenant's ledger rules (GET/PUT /v1/config/policy)."""

    model_config = ConfigDict(extra="forbid")

    seller_share_percent: int = Field(default=100, ge=0, le=100, description="The seller's share of a price; the "
                                      "rest (rounded in the platform's favour) goes back to the budget.")
    daily_limits: DailyLimits = Field(default_factory=DailyLimits)
    idle_days: int | None = Field(default=30, ge=1, le=3650, description="A wallet unused this many days goes back "
                                  "to the budget (回收); null turns idle reclaim off.")
    hold_timeout_seconds: int = Field(default=900, ge=1, le=7 * 86400, description="Default life of a hold.")


def split_revenue(price: int, seller_share_percent: int) -> tuple[int, int]:
    """(seller's amount, platform's amount): the seller's share rounded down, the rest to the platform."""
    seller = price * seller_share_percent // 100
    return seller, price - seller


def business_day(at: datetime, tz: tzinfo) -> str:
    return at.astimezone(tz).date().isoformat()


# ---- purchases -----------------------------------------------------------------------------------------


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


# ---- redemption ----------------------------------------------------------------------------------------


def redemption(*, coins: int | None = None, yuan: int | None = None) -> tuple[int, int]:
    """(coins, yuan in fen) of a redemption in whole yuan, given either the coins or the yuan."""
    if (coins is None) == (yuan is None):
        raise DomainError("invalid_redemption", "give either coins or yuan")
    if yuan is not None:
        if yuan <= 0:
            raise DomainError("invalid_redemption", "yuan must be a positive whole number")
        coins = yuan * COINS_PER_YUAN
    assert coins is not None
    if coins <= 0 or coins % COINS_PER_YUAN:
        raise DomainError("not_whole_yuan", f"redemptions are in whole yuan: a multiple of {COINS_PER_YUAN} coins, "
                          f"not {coins}")
    if coins > MAX_AMOUNT:
        raise DomainError("invalid_amount", f"at most {MAX_AMOUNT} coins")
    return coins, coins // COINS_PER_YUAN * FEN_PER_YUAN


# ---- idle reclaim --------------------------------------------------------------------------------------


def idle_cutoff(now: datetime, idle_days: int) -> datetime:
    """Wallets with no activity since before this moment are idle."""
    return now - timedelta(days=idle_days)


def is_idle(last_activity_at: datetime | None, now: datetime, idle_days: int) -> bool:
    return last_activity_at is not None and last_activity_at < idle_cutoff(now, idle_days)


# ---- blind box -----------------------------------------------------------------------------------------


def draw_amounts(seed: str, recipients: Sequence[str], min_amount: int, max_amount: int) -> list[int]:
    """The blind-box amounts, one per recipient in order: min + HMAC-SHA256(seed, "<index>|<user>") mod
    (max - min + 1). Anyone with the seed and the recipients can replay the draw."""
    if not 0 < min_amount <= max_amount <= MAX_AMOUNT:
        raise DomainError("invalid_amount", "need 0 < min_amount <= max_amount")
    if len(set(recipients)) != len(recipients):
        raise DomainError("duplicate_recipient", "each recipient may appear once")
    span = max_amount - min_amount + 1
    amounts = []
    for index, user in enumerate(recipients):
        digest = hmac.new(seed.encode(), f"{index}|{user}".encode(), hashlib.sha256).digest()
        amounts.append(min_amount + int.from_bytes(digest, "big") % span)
    return amounts


def rank_contributors(earned: Mapping[str, int], count: int) -> list[str]:
    """The `count` users who earned most (ties by user id)."""
    return [user for user, _ in sorted(earned.items(), key=lambda kv: (-kv[1], kv[0]))[:count] if earned[user] > 0]


# ---- idempotency ---------------------------------------------------------------------------------------


def fingerprint(content: Mapping[str, Any]) -> str:
    """A digest of a request's content: the same client id with another digest is a conflict."""
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class TransferSpec:
    """A transfer asked for over HTTP: posted at once, or held (pending) until posted, voided or timed out."""

    transfer_id: str
    debit: str
    credit: str
    amount: int
    kind: str = "transfer"
    pending: bool = False
    timeout_seconds: int | None = None
    note: str | None = None

    def fingerprint(self, linked_group: str | None) -> str:
        return fingerprint({"op": "transfer", "debit": self.debit, "credit": self.credit, "amount": self.amount,
                            "kind": self.kind, "pending": self.pending, "timeout": self.timeout_seconds,
                            "note": self.note, "linked": linked_group})

    def moves(self) -> tuple[Move, ...]:
        """A pending transfer moves the amount into the debit account's escrow; a posted one straight across."""
        return (Move(self.debit, escrow(self.debit) if self.pending else self.credit, self.amount),)


def check_transfer(spec: TransferSpec, *, issue: bool = False) -> None:
    """A direct transfer touches wallets, earnings, the budget and the bonus pool only (an issue moves
    new coins from the issuance account into the budget)."""
    debit, credit = parse_account(spec.debit), parse_account(spec.credit)
    if issue:
        if (debit.kind, credit.kind) != (AccountKind.ISSUANCE, AccountKind.BUDGET):
            raise DomainError("not_transferable", "coins are issued from issuance into the budget")
    else:
        for ref in (debit, credit):
            if ref.kind not in TRANSFERABLE:
                raise DomainError("not_transferable", f"{ref.key} moves only through its own operation "
                                  "(issue, redemption, hold)")
    if spec.debit == spec.credit:
        raise DomainError("same_account", "a transfer needs two different accounts")
    if not 0 < spec.amount <= MAX_AMOUNT:
        raise DomainError("invalid_amount", f"amounts are whole coins from 1 to {MAX_AMOUNT}")


def hold_settlement(hold_amount: int, post_amount: int | None) -> tuple[int, int]:
    """(amount posted to the hold's target, amount released back to its debit account)."""
    posted = hold_amount if post_amount is None else post_amount
    if not 0 < posted <= hold_amount:
        raise DomainError("invalid_amount", f"post between 1 and the {hold_amount} coins held")
    return posted, hold_amount - posted
