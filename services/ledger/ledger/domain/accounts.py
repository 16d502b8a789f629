"""Accounts and who may go below zero, and moves of coins that are all-or-nothing.

Amounts are integers in coins. A balance is credits minus debits; every move debits one account and
credits another by the same amount, so the balances of a tenant always sum to zero."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from telesales_runtime.errors import DomainError

MAX_AMOUNT = 10**12

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


def check_configurable(key: str) -> AccountRef:
    """An account whose "may go below zero" flag an operator may set."""
    ref = parse_account(key)
    if ref.kind not in CONFIGURABLE:
        raise DomainError("not_configurable", f"{key} keeps its own rule")
    return ref


@dataclass
class Account:
    """An account as read in the transaction that changes it (an account never written holds 0). Its
    coins move only through `Balances`, which keeps every move of a unit of work all-or-nothing."""

    key: str
    balance: int = 0
    allow_negative: bool = False
    exists: bool = False
    allocation_blocked: bool = False  # reclaimed: allocations wait for an approved reallocation request

    @classmethod
    def missing(cls, key: str) -> Account:
        return cls(key, 0, allows_negative_by_default(key), False, False)

    def may_go_negative(self) -> bool:
        return self.key == ISSUANCE or self.allow_negative


AccountState = Account  # the name the tests and the benchmark know


@dataclass(frozen=True)
class Move:
    debit: str
    credit: str
    amount: int


class Balances:
    """The balances of the accounts a unit of work touches, and the moves decided on them. A move that
    would take an account below zero (unless it may go negative) is refused; a group of moves is
    applied whole or not at all."""

    def __init__(self, states: Iterable[Account] = ()) -> None:
        self.states: dict[str, Account] = {s.key: s for s in states}
        self.deltas: dict[str, int] = defaultdict(int)

    def state(self, key: str) -> Account:
        if key not in self.states:
            self.states[key] = Account.missing(key)
        return self.states[key]

    def balance(self, key: str) -> int:
        return self.state(key).balance + self.deltas.get(key, 0)

    def may_go_negative(self, key: str) -> bool:
        return self.state(key).may_go_negative()

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
