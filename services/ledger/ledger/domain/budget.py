"""The operators' budget: allocations to users (配置), idle wallets reclaimed (回收) and blocked, and the
reallocation requests that open them again."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from telesales_contracts.ledger import AllocationSelection, CoinsAllocated, CoinsReclaimed, ReallocationDecided
from telesales_contracts.topics import LEDGER_COINS_ALLOCATED, LEDGER_COINS_RECLAIMED, LEDGER_REALLOCATION_DECIDED
from telesales_runtime.errors import DomainError

from .accounts import BUDGET, MAX_AMOUNT, Balances, Move, wallet
from .changes import Event, Operation, Record, RequestDecision, Transfer
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
    """Wallets with no activity since before this moment are idle."""
    return now - timedelta(days=idle_days)


def is_idle(last_activity_at: datetime | None, now: datetime, idle_days: int) -> bool:
    return last_activity_at is not None and last_activity_at < idle_cutoff(now, idle_days)


@dataclass(frozen=True)
class IdleWallet:
    """A funded wallet unused since before the cutoff, as read in the reclaim's transaction."""

    key: str
    owner: str
    balance: int
    last_activity_at: datetime

    def reclaim(self, balances: Balances, *, idle_days: int, now: datetime,
                by: str) -> tuple[Transfer, Record, Event, Record]:
        """Every coin back to the budget, and the wallet blocked from allocations: the transfer, the
        wallet's new fields, the event, and the line of the reclaim's report."""
        balances.move(self.key, BUDGET, self.balance)
        transfer_id = f"reclaim/{self.owner}/{now.strftime('%Y%m%dT%H%M%S%f')}"
        transfer = Transfer(transfer_id, "reclaim", self.key, BUDGET, self.balance, now, by,
                            details={"idle_since": self.last_activity_at, "idle_days": idle_days})
        event = Event(LEDGER_COINS_RECLAIMED, CoinsReclaimed(
            transfer_id=transfer_id, user_id=self.owner, amount=self.balance, last_activity_at=self.last_activity_at,
            idle_days=idle_days, reclaimed_at=now), self.owner)
        report = {"user_id": self.owner, "amount": self.balance, "transfer_id": transfer_id,
                  "last_activity_at": self.last_activity_at}
        return transfer, {"allocation_blocked": True, "reclaimed_at": now}, event, report


# ---- reallocation requests -----------------------------------------------------------------------------


def open_request(*, request_id: str, user_id: str, reason: str, actor: str, now: datetime,
                 wallet_record: Mapping[str, Any] | None) -> Record:
    """A user whose coins were reclaimed asks for coins again."""
    if wallet_record is None or not wallet_record.get("allocation_blocked"):
        raise DomainError("not_reclaimed", f"{user_id}'s coins were not reclaimed: allocate to them directly")
    return {"request_id": request_id, "user_id": user_id, "reason": reason, "status": "pending",
            "requested_by": actor, "requested_at": now}


def check_decision_amount(*, approve: bool, amount: int | None) -> None:
    if amount is not None and (not approve or not 0 < amount <= MAX_AMOUNT):
        raise DomainError("invalid_amount", "an amount goes only with an approval, in whole coins above 0")


@dataclass(frozen=True)
class ReallocationRequest:
    request_id: str
    user_id: str
    status: str
    amount: int | None

    @classmethod
    def of(cls, request_id: str, record: Mapping[str, Any] | None) -> ReallocationRequest:
        if record is None:
            raise DomainError("unknown_request", f"there is no reallocation request {request_id!r}")
        return cls(request_id, record["user_id"], record["status"], record.get("amount"))

    def decided_before(self, *, approve: bool, amount: int | None) -> bool:
        """True for a retry of the decision made; `request_decided` for another one; False while pending."""
        if self.status == "pending":
            return False
        if self.status == ("approved" if approve else "rejected") and self.amount == amount:
            return True
        raise DomainError("request_decided", f"request {self.request_id} was {self.status} already")

    def reopen(self, balances: Balances, *, amount: int | None, now: datetime, by: str, reason: str | None,
               info: Mapping[str, Any]) -> tuple[Record, Transfer | None, Event | None]:
        """An approval: the wallet unblocked with its idle clock started again (the caller records the
        activity), and the optional allocation from the budget."""
        fields = {"allocation_blocked": False, "reopened_at": now}
        if not amount:
            return fields, None, None
        allocation_id = f"reallocation/{self.request_id}"
        balances.move(BUDGET, wallet(self.user_id), amount)
        transfer = Transfer(allocation_id, "allocation", BUDGET, wallet(self.user_id), amount, now, by,
                            details={"note": reason, "request_id": self.request_id})
        event = Event(LEDGER_COINS_ALLOCATED, CoinsAllocated(
            allocation_id=allocation_id, transfer_id=allocation_id, user_id=self.user_id, amount=amount,
            selection=AllocationSelection.APPROVAL, role=info.get("role"), grade=info.get("grade"),
            allocated_by=by, note=reason, allocated_at=now), self.user_id)
        return fields, transfer, event

    def decide(self, *, approve: bool, amount: int | None, allocation_id: str | None, by: str, reason: str | None,
               now: datetime) -> tuple[RequestDecision, Event]:
        decision = "approved" if approve else "rejected"
        fields = {"status": decision, "decided_by": by, "decided_at": now, "amount": amount,
                  "allocation_id": allocation_id, "decision_reason": reason}
        event = Event(LEDGER_REALLOCATION_DECIDED, ReallocationDecided(
            request_id=self.request_id, user_id=self.user_id, decision=decision, amount=amount,
            allocation_id=allocation_id, decided_by=by, reason=reason, decided_at=now), self.user_id)
        return RequestDecision(self.request_id, fields), event
