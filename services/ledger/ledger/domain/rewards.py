"""Redemption in the points mall (兑换: 100 coins = 1 yuan, whole yuan) and the blind-box draw (盲盒) from a
recorded seed."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from telesales_contracts.ledger import BonusAward, BonusAwarded, CoinsRedeemed
from telesales_contracts.topics import LEDGER_BONUS_AWARDED, LEDGER_COINS_REDEEMED
from telesales_runtime.errors import DomainError

from .accounts import BONUS_POOL, MAX_AMOUNT, REDEEMED, Balances, Move, earnings, parse_account
from .budget import move_all_or_explain
from .changes import Event, Operation, Record, Transfer
from .transfers import fingerprint

COINS_PER_YUAN = 100  # 100 coins redeem for 1 yuan (= 100 fen)
FEN_PER_YUAN = 100
DRAW_ALGORITHM = "hmac-sha256-v1"


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


@dataclass(frozen=True)
class Redemption:
    """A seller's earnings converted in the points mall, in whole yuan, under a client-chosen id."""

    redemption_id: str
    user_id: str
    coins: int
    yuan_fen: int
    item: str | None

    @classmethod
    def of(cls, redemption_id: str, user_id: str, *, coins: int | None, yuan: int | None,
           item: str | None) -> Redemption:
        coins, fen = redemption(coins=coins, yuan=yuan)
        parse_account(earnings(user_id))
        return cls(redemption_id, user_id, coins, fen, item)

    @property
    def fingerprint(self) -> str:
        return fingerprint({"op": "redemption", "user": self.user_id, "coins": self.coins, "item": self.item})

    def accounts(self) -> list[str]:
        return [earnings(self.user_id), REDEEMED]

    def recorded_before(self, existing: Mapping[str, Any] | None) -> bool:
        if existing is None:
            return False
        if existing.get("fingerprint") != self.fingerprint:
            raise DomainError("transfer_id_conflict", f"transfer id {self.redemption_id} was used before "
                              "with other content", transfer_id=self.redemption_id)
        return True

    def redeem(self, balances: Balances, *, now: datetime, by: str) -> tuple[Transfer, Event]:
        balances.move(earnings(self.user_id), REDEEMED, self.coins)
        transfer = Transfer(self.redemption_id, "redemption", earnings(self.user_id), REDEEMED, self.coins, now, by,
                            fingerprint=self.fingerprint, details={"redemption": {
                                "user_id": self.user_id, "coins": self.coins, "yuan_fen": self.yuan_fen,
                                "item": self.item}})
        event = Event(LEDGER_COINS_REDEEMED, CoinsRedeemed(
            transfer_id=self.redemption_id, user_id=self.user_id, coins=self.coins, yuan_fen=self.yuan_fen,
            item=self.item, redeemed_by=by, redeemed_at=now), self.user_id)
        return transfer, event


@dataclass(frozen=True)
class BlindBoxDraw:
    """Random bonuses from the bonus pool, one per recipient, drawn from a recorded seed; all or none."""

    draw_id: str
    seed: str
    recipients: tuple[str, ...]
    min_amount: int
    max_amount: int
    selection: Record  # how the recipients were chosen (users named, or the top sellers of a window)
    fingerprint: str
    amounts: tuple[int, ...]

    @classmethod
    def of(cls, draw_id: str, seed: str, recipients: Sequence[str], *, min_amount: int, max_amount: int,
           selection: Record, fingerprint: str) -> BlindBoxDraw:
        """The draw, its amounts computed from the seed (`draw_amounts`)."""
        amounts = draw_amounts(seed, recipients, min_amount, max_amount)
        return cls(draw_id, seed, tuple(recipients), min_amount, max_amount, selection, fingerprint, tuple(amounts))

    def accounts(self) -> list[str]:
        return [BONUS_POOL, *(earnings(u) for u in self.recipients)]

    def award(self, balances: Balances, *, now: datetime, by: str) -> tuple[Operation, list[Transfer], Event]:
        amounts = self.amounts
        move_all_or_explain(balances, [Move(BONUS_POOL, earnings(u), a)
                                       for u, a in zip(self.recipients, amounts, strict=True)],
                            lambda: f"the bonus pool holds {balances.balance(BONUS_POOL)} coins; "
                                    f"the draw needs {sum(amounts)}")
        transfers = [Transfer(f"{self.draw_id}/{u}", "bonus", BONUS_POOL, earnings(u), a, now, by,
                              linked_group=self.draw_id) for u, a in zip(self.recipients, amounts, strict=True)]
        awards = [{"user_id": u, "amount": t.amount, "transfer_id": t.transfer_id}
                  for u, t in zip(self.recipients, transfers, strict=True)]
        operation = Operation(self.draw_id, "blind_box", {
            "fingerprint": self.fingerprint, "seed": self.seed, "algorithm": DRAW_ALGORITHM,
            "recipients": list(self.recipients), "min_amount": self.min_amount, "max_amount": self.max_amount,
            "awards": awards, "total": sum(amounts), "selection": self.selection, "by": by, "created_at": now})
        event = Event(LEDGER_BONUS_AWARDED, BonusAwarded(
            draw_id=self.draw_id, seed=self.seed, algorithm=DRAW_ALGORITHM, min_amount=self.min_amount,
            max_amount=self.max_amount, awards=[BonusAward(**a) for a in awards], total=sum(amounts), drawn_by=by,
            drawn_at=now), self.draw_id)
        return operation, transfers, event


def replay_draw(op: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A recorded draw recomputed from its seed and recipients."""
    amounts = draw_amounts(op["seed"], op["recipients"], op["min_amount"], op["max_amount"])
    return [{"user_id": u, "amount": a} for u, a in zip(op["recipients"], amounts, strict=True)]
