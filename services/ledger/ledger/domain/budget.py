"""The operators' budget: allocations to users (配置), and wallets whose holders did not learn reclaimed
(不学回收) and blocked until a reallocation request is approved (see reallocation)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from telesales_contracts.ledger import AllocationSelection, CoinsAllocated, CoinsReclaimed
from telesales_contracts.topics import LEDGER_COINS_ALLOCATED, LEDGER_COINS_RECLAIMED
from telesales_runtime.errors import DomainError

from .accounts import BUDGET, MAX_AMOUNT, Balances, Move, wallet
from .changes import Event, Operation, Record, Transfer
from .learning import LearningTotals
from .transfers import fingerprint


def move_all_or_explain(balances: Balances, moves: Sequence[Move], shortfall: Callable[[], str]) -> None:
    """`balances.move_all(moves)`; when a debit account lacks the coins, `insufficient_funds` says what the
    whole operation needs (`shortfall()`) instead of naming the first account short."""
    try:
        balances.move_all(moves)
    except DomainError as error:
        if error.code != "insufficient_funds":
            raise
        raise DomainError("insufficient_funds", shortfall()) from error


# ---- allocation ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Allocation:
    """Coins from the budget, the same amount to each recipient, all or none; users whose wallet was
    reclaimed are skipped (they need an approved request), and when that is everyone nothing happens."""

    allocation_id: str
    amount: int
    recipients: tuple[str, ...]
    selection: AllocationSelection
    filter: Record | None  # the roster selection, when picked from the roster
    note: str | None
    fingerprint: str

    @staticmethod
    def fingerprint_of(*, amount: int, user_ids: Sequence[str] | None, filter: Record | None, note: str | None) -> str:
        if not 0 < amount <= MAX_AMOUNT:
            raise DomainError("invalid_amount", f"amounts are whole coins from 1 to {MAX_AMOUNT}")
        return fingerprint({"op": "allocation", "amount": amount, "users": list(user_ids or []), "selection": filter,
                            "note": note})

    def accounts(self) -> list[str]:
        return [BUDGET, *(wallet(u) for u in self.recipients)]

    def grant(self, balances: Balances, roster: Mapping[str, Mapping[str, Any]], *, now: datetime,
              by: str) -> tuple[Operation, list[Transfer], list[Event]]:
        granted = [u for u in self.recipients if not balances.state(wallet(u)).allocation_blocked]
        skipped = [{"user_id": u, "reason": "reallocation_needs_approval"} for u in self.recipients if u not in granted]
        if not granted:
            raise DomainError("reallocation_needs_approval", "every user named had their coins reclaimed: each "
                              "needs an approved reallocation request first", skipped=skipped)
        move_all_or_explain(balances, [Move(BUDGET, wallet(u), self.amount) for u in granted],
                            lambda: f"the budget holds {balances.balance(BUDGET)} coins; "
                                    f"{self.amount * len(granted)} needed for {len(granted)} users")
        transfers = [Transfer(f"{self.allocation_id}/{u}", "allocation", BUDGET, wallet(u), self.amount, now, by,
                              linked_group=self.allocation_id, details={"note": self.note}) for u in granted]
        events = [Event(LEDGER_COINS_ALLOCATED, CoinsAllocated(
            allocation_id=self.allocation_id, transfer_id=t.transfer_id, user_id=u, amount=self.amount,
            selection=self.selection, role=roster.get(u, {}).get("role"), grade=roster.get(u, {}).get("grade"),
            allocated_by=by, note=self.note, allocated_at=now), u) for u, t in zip(granted, transfers, strict=True)]
        operation = Operation(self.allocation_id, "allocation", {
            "fingerprint": self.fingerprint, "amount": self.amount, "selection": self.selection.value,
            "filter": self.filter, "allocated": [{"user_id": u, "transfer_id": t.transfer_id}
                                                 for u, t in zip(granted, transfers, strict=True)],
            "skipped": skipped, "total": self.amount * len(granted), "by": by, "note": self.note, "created_at": now})
        return operation, transfers, events


# ---- idle reclaim --------------------------------------------------------------------------------------


def idle_cutoff(now: datetime, idle_days: int) -> datetime:
    """Wallets whose holder has not learned since before this moment are idle. A wallet's clock
    (`last_activity_at`) starts when it opens or an approval reopens it and moves with each learning report
    that adds watch time (see learning); spending and allocations do not move it."""
    return now - timedelta(days=idle_days)


def is_idle(last_activity_at: datetime | None, now: datetime, idle_days: int) -> bool:
    return last_activity_at is not None and last_activity_at < idle_cutoff(now, idle_days)


@dataclass(frozen=True)
class IdleWallet:
    """A funded wallet whose holder has not learned since before the cutoff, as read in the reclaim's
    transaction, with the holder's learning totals then (the mark the qualification counts from)."""

    key: str
    owner: str
    balance: int
    last_activity_at: datetime
    learned: LearningTotals = LearningTotals()

    def reclaim(self, balances: Balances, *, idle_days: int, now: datetime,
                by: str) -> tuple[Transfer, Record, Event, Record]:
        """Every coin back to the budget, and the wallet blocked from allocations: the transfer, the
        wallet's new fields (the learning totals recorded), the event, and the line of the reclaim's report."""
        balances.move(self.key, BUDGET, self.balance)
        transfer_id = f"reclaim/{self.owner}/{now.strftime('%Y%m%dT%H%M%S%f')}"
        transfer = Transfer(transfer_id, "reclaim", self.key, BUDGET, self.balance, now, by,
                            details={"idle_since": self.last_activity_at, "idle_days": idle_days})
        event = Event(LEDGER_COINS_RECLAIMED, CoinsReclaimed(
            transfer_id=transfer_id, user_id=self.owner, amount=self.balance, last_activity_at=self.last_activity_at,
            idle_days=idle_days, reclaimed_at=now), self.owner)
        report = {"user_id": self.owner, "amount": self.balance, "transfer_id": transfer_id,
                  "last_activity_at": self.last_activity_at}
        fields = {"allocation_blocked": True, "reclaimed_at": now, "learning_at_reclaim": self.learned.record()}
        return transfer, fields, event, report
