"""Getting coins back after a reclaim (回收再配置): a request, the approval chain (层层审批) and the
qualification (资格条件).

The rules:
- Only a user whose coins were reclaimed may ask (`not_reclaimed`), one pending request at a time, and only
  once qualified: the learning done since the reclaim meets the tenant's conditions (`not_qualified`, with
  each unmet condition). The request keeps the chain of levels and the conditions of the policy it was made
  under.
- Each level approves once, in the chain's order: a level later than the one whose turn it is is refused
  (`out_of_order`), a level or a person approving a second time is refused (`already_approved`), a caller
  who is no approver of the chain is refused (`not_an_approver`), a supervisor approves for its own team
  only (`outside_your_team`).
- Coins come back (the wallet unblocked, an optional allocation) only with the last level's approval, and
  only if the user is still qualified then. The level whose turn it is may reject instead.
- A decision repeated by the one who made it, with the same content, is a retry (the first answer again)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from telesales_contracts.ledger import (
    AllocationSelection,
    ApprovalLevel,
    CoinsAllocated,
    ReallocationApproval,
    ReallocationAwaiting,
    ReallocationDecided,
)
from telesales_contracts.topics import LEDGER_COINS_ALLOCATED, LEDGER_REALLOCATION_AWAITING, LEDGER_REALLOCATION_DECIDED
from telesales_runtime.errors import DomainError

from .accounts import BUDGET, MAX_AMOUNT, Balances, wallet
from .changes import Event, Record, RequestDecision, Transfer
from .learning import LearningTotals
from .policy import Qualification, ReallocationPolicy

Approvers = Mapping[ApprovalLevel, Sequence[str]]


def approver_level(*, roster_role: str | None, operator: bool) -> ApprovalLevel | None:
    """The level a caller approves at: its role on the roster (supervisor, manager), else operator for an
    operator's token; None for anyone else."""
    if roster_role in (ApprovalLevel.SUPERVISOR, ApprovalLevel.MANAGER):
        return ApprovalLevel(roster_role)
    return ApprovalLevel.OPERATOR if operator else None


def learning_since_reclaim(wallet_record: Mapping[str, Any] | None, totals: LearningTotals) -> LearningTotals:
    """The learning done since the wallet's reclaim (the totals recorded then are the mark)."""
    return totals.since(LearningTotals.of((wallet_record or {}).get("learning_at_reclaim")))


def check_qualified(qualification: Qualification, user_id: str, done: LearningTotals) -> None:
    unmet = qualification.unmet(done)
    if unmet:
        said = "; ".join(f"{u['condition']}: {u['done']} of {u['required']}" for u in unmet)
        raise DomainError("not_qualified", f"{user_id} does not qualify for coins yet ({said} since the reclaim)",
                          unmet=unmet)


def check_decision_amount(*, approve: bool, amount: int | None) -> None:
    if amount is not None and (not approve or not 0 < amount <= MAX_AMOUNT):
        raise DomainError("invalid_amount", "an amount goes only with an approval, in whole coins above 0")


def _awaiting(record: Mapping[str, Any], level: ApprovalLevel, approvers: Approvers, now: datetime) -> Event:
    data = ReallocationAwaiting(
        request_id=record["request_id"], user_id=record["user_id"], team_id=record.get("team_id"), level=level,
        levels=record["levels"], approvals=[ReallocationApproval(**a) for a in record["approvals"]],
        approvers=list(approvers.get(level, ())), requested_by=record["requested_by"], at=now)
    return Event(LEDGER_REALLOCATION_AWAITING, data, record["user_id"])


def open_request(*, request_id: str, user_id: str, team_id: str | None, reason: str, actor: str, now: datetime,
                 wallet_record: Mapping[str, Any] | None, learned: LearningTotals, policy: ReallocationPolicy,
                 approvers: Approvers) -> tuple[Record, Event]:
    """A user whose coins were reclaimed asks for coins again: the request, waiting for the chain's first
    level, and the event telling that level."""
    if wallet_record is None or not wallet_record.get("allocation_blocked"):
        raise DomainError("not_reclaimed", f"{user_id}'s coins were not reclaimed: allocate to them directly")
    check_qualified(policy.qualification, user_id, learning_since_reclaim(wallet_record, learned))
    record: Record = {"request_id": request_id, "user_id": user_id, "team_id": team_id, "reason": reason,
                      "status": "pending", "requested_by": actor, "requested_at": now,
                      "levels": [level.value for level in policy.approval_levels], "approvals": [],
                      "qualification": policy.qualification.model_dump()}
    return record, _awaiting(record, policy.approval_levels[0], approvers, now)


@dataclass(frozen=True)
class ReallocationRequest:
    request_id: str
    record: Mapping[str, Any]

    @classmethod
    def of(cls, request_id: str, record: Mapping[str, Any] | None) -> ReallocationRequest:
        if record is None:
            raise DomainError("unknown_request", f"there is no reallocation request {request_id!r}")
        return cls(request_id, record)

    @property
    def user_id(self) -> str:
        return str(self.record["user_id"])

    @property
    def levels(self) -> list[ApprovalLevel]:
        # A request made before approval chains existed is an operator's to decide.
        return [ApprovalLevel(v) for v in self.record.get("levels") or [ApprovalLevel.OPERATOR]]

    @property
    def approvals(self) -> list[Record]:
        return list(self.record.get("approvals") or [])

    @property
    def next_level(self) -> ApprovalLevel:
        return self.levels[len(self.approvals)]

    @property
    def qualification(self) -> Qualification:
        return Qualification.model_validate(self.record.get("qualification") or {"min_learning_minutes": 0})

    def decided_before(self, *, approve: bool, amount: int | None, by: str) -> bool:
        """True for a retry of the decision made (same person, same content); `request_decided` for another
        one; False while pending."""
        status = self.record["status"]
        if status == "pending":
            return False
        if (status == ("approved" if approve else "rejected") and self.record.get("amount") == amount
                and self.record.get("decided_by") == by):
            return True
        raise DomainError("request_decided", f"request {self.request_id} was {status} already")

    def check_turn(self, *, level: ApprovalLevel | None, by: str, approver_team: str | None, approve: bool,
                   amount: int | None) -> None:
        """The caller may decide now, at `level`: its level is in the chain, it is that level's turn, neither
        the level nor the person approved before, and a supervisor decides for its own team."""
        if level is None or level not in self.levels:
            raise DomainError("not_an_approver", f"this request is approved by {', '.join(self.levels)}: the "
                              "caller is none of them", levels=[v.value for v in self.levels])
        done = {ApprovalLevel(a["level"]) for a in self.approvals}
        if level in done or any(a["approved_by"] == by for a in self.approvals):
            raise DomainError("already_approved", f"{level} approved request {self.request_id} already: each level "
                              "and each person approves once", approved=[a["level"] for a in self.approvals])
        if level != self.next_level:
            raise DomainError("out_of_order", f"request {self.request_id} waits for the {self.next_level} first",
                              waiting_for=self.next_level.value)
        if level == ApprovalLevel.SUPERVISOR and approver_team != self.record.get("team_id"):
            raise DomainError("outside_your_team", f"{by} is not a supervisor of {self.user_id}'s team")
        if amount is not None and (not approve or level != self.levels[-1]):
            raise DomainError("invalid_amount", "an amount goes with the last approval of the chain only",
                              last_level=self.levels[-1].value)

    def approve_step(self, *, level: ApprovalLevel, by: str, now: datetime,
                     approvers: Approvers) -> tuple[RequestDecision, Event]:
        """An approval before the last: recorded (unless another was recorded meanwhile), and the next
        level told."""
        approvals = [*self.approvals, {"level": level.value, "approved_by": by, "approved_at": now}]
        record = {**self.record, "approvals": approvals}
        decision = RequestDecision(self.request_id, {"approvals": approvals}, approvals_before=len(self.approvals))
        return decision, _awaiting(record, self.next_level_after(level), approvers, now)

    def next_level_after(self, level: ApprovalLevel) -> ApprovalLevel:
        return self.levels[self.levels.index(level) + 1]

    def is_last(self, level: ApprovalLevel) -> bool:
        return level == self.levels[-1]

    def reopen(self, balances: Balances, *, amount: int | None, now: datetime, by: str, reason: str | None,
               info: Mapping[str, Any]) -> tuple[Record, Transfer | None, Event | None]:
        """The last approval: the wallet unblocked with its idle clock started again (the caller records the
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

    def decide(self, *, approve: bool, level: ApprovalLevel, amount: int | None, allocation_id: str | None, by: str,
               reason: str | None, now: datetime) -> tuple[RequestDecision, Event]:
        """The last approval, or a rejection: the request decided."""
        decision = "approved" if approve else "rejected"
        approvals = self.approvals + ([{"level": level.value, "approved_by": by, "approved_at": now}]
                                      if approve else [])
        fields = {"status": decision, "decided_by": by, "decided_at": now, "decided_level": level.value,
                  "amount": amount, "allocation_id": allocation_id, "decision_reason": reason, "approvals": approvals}
        event = Event(LEDGER_REALLOCATION_DECIDED, ReallocationDecided(
            request_id=self.request_id, user_id=self.user_id, decision=decision, amount=amount,
            allocation_id=allocation_id, decided_by=by, reason=reason, decided_at=now), self.user_id)
        return RequestDecision(self.request_id, fields), event
