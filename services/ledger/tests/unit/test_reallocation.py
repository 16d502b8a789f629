"""The coin rules without I/O: learning (not spending) keeps coins, the qualification (资格条件) and the
approval chain (层层审批) of getting coins back after a reclaim."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from ledger import domain
from ledger.domain import (
    AccountState,
    Balances,
    DomainError,
    LearningTotals,
    LearnReport,
    ReallocationPolicy,
    ReallocationRequest,
    TipProgress,
)
from telesales_contracts.ledger import ApprovalLevel
from telesales_contracts.topics import LEDGER_REALLOCATION_AWAITING, LEDGER_REALLOCATION_DECIDED

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
SUPERVISOR, MANAGER, OPERATOR = ApprovalLevel.SUPERVISOR, ApprovalLevel.MANAGER, ApprovalLevel.OPERATOR
APPROVERS = {SUPERVISOR: ["s1"], MANAGER: ["m1"]}
RECLAIMED = {"allocation_blocked": True, "learning_at_reclaim": {"seconds": 600, "tips": 1}}


def code_of(call: Any) -> str:
    with pytest.raises(DomainError) as error:
        call()
    return error.value.code


def report(user: str, tip: str, seconds: int, learned: bool = False, minutes: int = 0) -> LearnReport:
    return LearnReport(user, tip, seconds, learned, NOW + timedelta(minutes=minutes))


# ---- learning ------------------------------------------------------------------------------------------


def test_learning_counts_added_watch_time_and_tips_learned_once() -> None:
    known = {("a", "t1"): TipProgress(100, False)}
    learned = domain.learn([report("a", "t1", 160, minutes=1), report("a", "t1", 160, minutes=2),  # repeated
                            report("a", "t1", 150, minutes=3),  # older than what was seen
                            report("a", "t2", 300, True, minutes=4), report("a", "t2", 300, True, minutes=5),
                            report("b", "t1", 0, minutes=6)], known)
    assert set(learned) == {"a"}  # b's report adds nothing: no learning
    a = learned["a"]
    assert (a.seconds, a.tips, a.last_learned_at) == (60 + 300, 1, NOW + timedelta(minutes=4))
    assert a.progress == {"t1": TipProgress(160, False), "t2": TipProgress(300, True)}


def test_a_report_that_only_repeats_what_was_seen_is_no_learning() -> None:
    assert domain.learn([report("a", "t1", 100, True)], {("a", "t1"): TipProgress(100, True)}) == {}


# ---- qualification -------------------------------------------------------------------------------------


def test_the_qualification_counts_the_learning_since_the_reclaim() -> None:
    policy = ReallocationPolicy.model_validate({"qualification": {"min_learning_minutes": 30, "min_tips_learned": 1}})
    # 600 s and 1 tip before the reclaim do not count: 29 minutes and no tip since.
    unqualified = LearningTotals(600 + 29 * 60, 1)
    error = pytest.raises(DomainError, domain.open_request, request_id="r", user_id="a", team_id="t1", reason="",
                          actor="a", now=NOW, wallet_record=RECLAIMED, learned=unqualified, policy=policy,
                          approvers=APPROVERS)
    assert error.value.code == "not_qualified"
    assert error.value.details["unmet"] == [{"condition": "min_learning_minutes", "required": 30, "done": 29},
                                          {"condition": "min_tips_learned", "required": 1, "done": 0}]
    record, awaiting = domain.open_request(request_id="r", user_id="a", team_id="t1", reason="", actor="a", now=NOW,
                                           wallet_record=RECLAIMED, learned=LearningTotals(600 + 30 * 60, 2),
                                           policy=policy, approvers=APPROVERS)
    assert (record["status"], record["levels"], record["approvals"]) == ("pending", ["supervisor", "manager"], [])
    assert (awaiting.topic, awaiting.data.level, awaiting.data.approvers) == (
        LEDGER_REALLOCATION_AWAITING, SUPERVISOR, ["s1"])
    assert code_of(lambda: domain.open_request(
        request_id="r", user_id="a", team_id=None, reason="", actor="a", now=NOW,
        wallet_record={"allocation_blocked": False}, learned=LearningTotals(), policy=policy,
        approvers={})) == "not_reclaimed"


def test_a_chain_names_each_level_once() -> None:
    with pytest.raises(ValidationError):
        ReallocationPolicy.model_validate({"approval_levels": ["supervisor", "supervisor"]})
    with pytest.raises(ValidationError):
        ReallocationPolicy.model_validate({"approval_levels": []})


# ---- the approval chain ----------------------------------------------------------------------------------


def pending(levels: list[str] | None = None, approvals: list[dict[str, Any]] | None = None) -> ReallocationRequest:
    return ReallocationRequest.of("r", {"request_id": "r", "user_id": "a", "team_id": "t1", "status": "pending",
                                        "requested_by": "a", "levels": levels or ["supervisor", "manager"],
                                        "approvals": approvals or [], "qualification": {"min_learning_minutes": 30}})


def turn(request: ReallocationRequest, level: ApprovalLevel | None, by: str, team: str | None = "t1",
         approve: bool = True, amount: int | None = None) -> None:
    request.check_turn(level=level, by=by, approver_team=team, approve=approve, amount=amount)


def test_the_levels_approve_in_order_each_once() -> None:
    request = pending()
    assert code_of(lambda: turn(request, MANAGER, "m1")) == "out_of_order"  # the manager before the supervisor
    assert code_of(lambda: turn(request, OPERATOR, "ops")) == "not_an_approver"  # not in this chain
    assert code_of(lambda: turn(request, None, "a1")) == "not_an_approver"
    assert code_of(lambda: turn(request, SUPERVISOR, "s9", team="t2")) == "outside_your_team"
    assert code_of(lambda: turn(request, SUPERVISOR, "s1", amount=10)) == "invalid_amount"  # not the last level
    turn(request, SUPERVISOR, "s1")
    assert not request.is_last(SUPERVISOR)
    decision, awaiting = request.approve_step(level=SUPERVISOR, by="s1", now=NOW, approvers=APPROVERS)
    assert decision.approvals_before == 0 and decision.fields["approvals"][0]["approved_by"] == "s1"
    assert "status" not in decision.fields  # still pending: not granted yet
    assert (awaiting.data.level, awaiting.data.approvers, len(awaiting.data.approvals)) == (MANAGER, ["m1"], 1)

    after = pending(approvals=decision.fields["approvals"])
    assert code_of(lambda: turn(after, SUPERVISOR, "s2")) == "already_approved"  # the level approves once
    turn(after, MANAGER, "m1", team=None, amount=50)  # a manager of another team may; the amount goes last
    assert after.is_last(MANAGER)
    decided, event = after.decide(approve=True, level=MANAGER, amount=50, allocation_id="reallocation/r", by="m1",
                                  reason=None, now=NOW)
    assert (decided.fields["status"], [a["level"] for a in decided.fields["approvals"]]) == (
        "approved", ["supervisor", "manager"])
    assert event.topic == LEDGER_REALLOCATION_DECIDED


def test_one_person_approves_once_even_at_two_levels() -> None:
    request = pending(levels=["supervisor", "operator"],
                      approvals=[{"level": "supervisor", "approved_by": "s1", "approved_at": NOW}])
    assert code_of(lambda: turn(request, OPERATOR, "s1")) == "already_approved"
    turn(request, OPERATOR, "ops")


def test_a_decision_is_made_once_and_a_retry_answers_again() -> None:
    approved = ReallocationRequest.of("r", {"user_id": "a", "status": "approved", "amount": 30, "decided_by": "m1"})
    assert approved.decided_before(approve=True, amount=30, by="m1") is True
    assert code_of(lambda: approved.decided_before(approve=True, amount=30, by="m2")) == "request_decided"
    assert code_of(lambda: approved.decided_before(approve=False, amount=None, by="m1")) == "request_decided"
    assert code_of(lambda: domain.check_decision_amount(approve=False, amount=5)) == "invalid_amount"
    assert code_of(lambda: ReallocationRequest.of("x", None)) == "unknown_request"


def test_the_last_approval_opens_the_wallet_with_an_optional_allocation() -> None:
    request = pending()
    balances = Balances([AccountState("budget", 100, False, True)])
    fields, transfer, event = request.reopen(balances, amount=30, now=NOW, by="m1", reason=None, info={})
    assert fields["allocation_blocked"] is False and balances.changes() == {"budget": -30, "wallet:a": 30}
    assert transfer is not None and transfer.transfer_id == "reallocation/r" and event is not None
    assert request.reopen(balances, amount=None, now=NOW, by="m1", reason=None, info={})[1:] == (None, None)
    # the qualification of the request is checked again then
    assert code_of(lambda: domain.check_qualified(request.qualification, "a", LearningTotals(29 * 60, 0))) == (
        "not_qualified")


def test_the_approver_level_comes_from_the_roster_else_an_operators_token() -> None:
    assert domain.approver_level(roster_role="manager", operator=False) == MANAGER
    assert domain.approver_level(roster_role="supervisor", operator=True) == SUPERVISOR
    assert domain.approver_level(roster_role="agent", operator=True) == OPERATOR
    assert domain.approver_level(roster_role="agent", operator=False) is None
