"""The aggregates' rules without I/O: what each decides, the typed changes and events it returns, and
what it refuses (leaving the balances as they were)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ledger import domain
from ledger.domain import (
    AccountState,
    Allocation,
    Balances,
    BlindBoxDraw,
    Changes,
    DomainError,
    Hold,
    IdleWallet,
    PurchaseRequest,
    Redemption,
    TransferGroup,
    TransferSpec,
)
from telesales_contracts.ledger import AllocationSelection
from telesales_contracts.topics import (
    LEDGER_BONUS_AWARDED,
    LEDGER_COINS_ALLOCATED,
    LEDGER_COINS_RECLAIMED,
    LEDGER_COINS_REDEEMED,
    LEDGER_TRANSFER_RECORDED,
)

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


def holding(accounts: dict[str, int]) -> Balances:
    return Balances([AccountState(key, balance, False, True) for key, balance in accounts.items()])


def code_of(call: Any) -> str:
    with pytest.raises(DomainError) as error:
        call()
    return error.value.code


# ---- accounts ------------------------------------------------------------------------------------------


def test_an_account_goes_below_zero_only_when_it_may() -> None:
    assert domain.Account.missing("issuance").may_go_negative()
    assert not domain.Account.missing("budget").may_go_negative()
    assert domain.Account("budget", 0, allow_negative=True).may_go_negative()
    assert domain.check_configurable("wallet:a").owner == "a"
    for key in ("issuance", "redeemed", "escrow:wallet:a"):
        assert code_of(lambda key=key: domain.check_configurable(key)) == "not_configurable"


# ---- transfers and holds -------------------------------------------------------------------------------


def test_a_transfer_group_records_all_or_nothing() -> None:
    group = TransferGroup([TransferSpec("t-1", "wallet:a", "wallet:b", 60),
                           TransferSpec("t-2", "wallet:b", "wallet:c", 100)], linked=True)
    balances = holding({"wallet:a": 100, "wallet:b": 30})
    assert code_of(lambda: group.record(balances, now=NOW, by="ops", hold_timeout_seconds=60)) == "insufficient_funds"
    assert balances.changes() == {}
    balances = holding({"wallet:a": 100, "wallet:b": 40})
    transfers = group.record(balances, now=NOW, by="ops", hold_timeout_seconds=60)
    assert [(t.transfer_id, t.linked_group, t.state) for t in transfers] == [("t-1", "t-1", "posted"),
                                                                              ("t-2", "t-1", "posted")]
    assert balances.changes() == {"wallet:a": -60, "wallet:b": -40, "wallet:c": 100}
    assert [t.recorded().topic for t in transfers] == [LEDGER_TRANSFER_RECORDED] * 2


def test_a_transfer_group_tells_a_retry_from_a_clash() -> None:
    assert code_of(lambda: TransferGroup([])) == "no_transfers"
    assert code_of(lambda: TransferGroup([TransferSpec("t", "wallet:a", "wallet:b", 1)] * 2)) == "duplicate_id"
    group = TransferGroup([TransferSpec("t", "wallet:a", "wallet:b", 5)])
    first = group.record(holding({"wallet:a": 5}), now=NOW, by="ops", hold_timeout_seconds=60)[0].record()
    assert group.recorded_before({}) is False
    assert group.recorded_before({"t": first}) is True
    other = TransferGroup([TransferSpec("t", "wallet:a", "wallet:b", 6)])
    assert code_of(lambda: other.recorded_before({"t": first})) == "transfer_id_conflict"
    linked = TransferGroup([TransferSpec("t", "wallet:a", "wallet:b", 5)], linked=True)
    assert code_of(lambda: linked.recorded_before({"t": first})) == "transfer_id_conflict"


def test_a_hold_moves_into_escrow_until_its_timeout() -> None:
    group = TransferGroup([TransferSpec("h", "wallet:a", "wallet:b", 30, pending=True)])
    balances = holding({"wallet:a": 50})
    [hold] = group.record(balances, now=NOW, by="ops", hold_timeout_seconds=900)
    assert (hold.state, hold.credit, hold.details["target"]) == ("pending", "escrow:wallet:a", "wallet:b")
    assert hold.details["expires_at"] == NOW + timedelta(seconds=900)
    assert balances.changes() == {"wallet:a": -30, "escrow:wallet:a": 30}


def pending_hold(**changes: Any) -> Hold:
    record = {"transfer_id": "h", "kind": "transfer", "state": "pending", "debit": "wallet:a",
              "credit": "escrow:wallet:a", "target": "wallet:b", "amount": 30,
              "expires_at": NOW + timedelta(minutes=5)} | changes
    return Hold.of("h", record)


def test_a_hold_posted_in_part_releases_the_rest() -> None:
    settlement = pending_hold().settle(mode="post", post_amount=20, now=NOW)
    assert settlement is not None and not settlement.refused
    balances = holding({"escrow:wallet:a": 30})
    legs, resolution = settlement.apply(balances, actor="ops", system="system")
    assert [(t.transfer_id, t.credit, t.amount, t.hold_id) for t in legs] == [("h/post", "wallet:b", 20, "h"),
                                                                              ("h/release", "wallet:a", 10, "h")]
    assert balances.changes() == {"escrow:wallet:a": -30, "wallet:b": 20, "wallet:a": 10}
    assert (resolution.hold_id, resolution.fields["state"], resolution.fields["posted_amount"]) == ("h", "posted", 20)
    assert code_of(lambda: pending_hold().settle(mode="post", post_amount=31, now=NOW)) == "invalid_amount"


def test_a_hold_past_its_timeout_is_voided_whatever_is_asked() -> None:
    late = NOW + timedelta(minutes=10)
    assert pending_hold().settle(mode="expire", post_amount=None, now=NOW) is None  # not due
    posted_late = pending_hold().settle(mode="post", post_amount=None, now=late)
    assert posted_late is not None and posted_late.refused and posted_late.voiding
    legs, resolution = posted_late.apply(holding({"escrow:wallet:a": 30}), actor="ops", system="system")
    assert [(t.transfer_id, t.by) for t in legs] == [("h/void", "ops")]
    assert resolution.fields["void_reason"] == "expired" and resolution.fields["resolved_by"] == "system"
    expired = pending_hold().settle(mode="expire", post_amount=None, now=late)
    assert expired is not None and [t.by for t in expired.legs(actor="sweeper", system="system")] == ["system"]


def test_a_settled_hold_answers_a_retry_and_refuses_the_rest() -> None:
    posted = pending_hold(state="posted", posted_amount=20)
    assert posted.settle(mode="post", post_amount=20, now=NOW) is None
    assert posted.settle(mode="post", post_amount=None, now=NOW) is None
    assert posted.settle(mode="expire", post_amount=None, now=NOW) is None
    assert code_of(lambda: posted.settle(mode="void", post_amount=None, now=NOW)) == "hold_posted"
    voided = pending_hold(state="voided", void_reason="voided")
    assert voided.settle(mode="void", post_amount=None, now=NOW) is None
    assert code_of(lambda: voided.settle(mode="post", post_amount=None, now=NOW)) == "hold_voided"
    expired = pending_hold(state="voided", void_reason="expired")
    assert code_of(lambda: expired.settle(mode="post", post_amount=None, now=NOW)) == "hold_expired"
    assert code_of(lambda: Hold.of("p", {"kind": "purchase", "target": "earnings:s"})) == "unknown_hold"
    assert code_of(lambda: Hold.of("x", None)) == "unknown_hold"


# ---- purchases -----------------------------------------------------------------------------------------


def test_purchases_record_their_legs_counters_and_answers() -> None:
    requests = [PurchaseRequest("e1", "p1", "b", "s", "tip", 50, "2026-11-24"),
                PurchaseRequest("e2", "p2", "b", "b", "tip", 10, "2026-11-24"),
                PurchaseRequest("e3", "p1", "b", "s", "tip", 50, "2026-11-24")]
    policy = domain.LedgerPolicy(seller_share_percent=90)
    decisions = domain.decide_purchases(requests, {}, holding({"wallet:b": 100}), domain.DailyCounters(), policy)
    assert [d.outcome for d in decisions] == ["posted", "rejected", "repeat"]
    legs = domain.purchase_transfers(decisions[0], now=NOW, by="/market")
    assert [(t.transfer_id, t.debit, t.credit, t.amount) for t in legs] == [
        ("p1", "wallet:b", "escrow:wallet:b", 50), ("p1/sale", "escrow:wallet:b", "earnings:s", 45),
        ("p1/fee", "escrow:wallet:b", "budget", 5)]
    assert domain.counter_increments(decisions) == [domain.CounterIncrement("2026-11-24", "b", None, 1, 50),
                                                    domain.CounterIncrement("2026-11-24", "b", "s", 1, 50)]
    rejected = domain.RejectedPurchase(decisions[1], NOW, "/market").record()
    assert (rejected["state"], rejected["purchase"]["reason"]) == ("rejected", "self_purchase")
    assert domain.answer(rejected, requests[1], repeat=False)[0] is False
    posted, data = domain.answer(legs[0].record(), requests[2], repeat=True)
    assert posted and (data["request_event_id"], data["repeat"], data["seller_amount"]) == ("e3", True, 45)


# ---- budget --------------------------------------------------------------------------------------------


def allocation(*users: str, amount: int = 40) -> Allocation:
    return Allocation("a-1", amount, users, AllocationSelection.USERS, None, None, "print")


def test_an_allocation_skips_reclaimed_wallets_and_is_all_or_none() -> None:
    balances = Balances([AccountState("budget", 100, False, True), AccountState("wallet:c", 0, False, True, True)])
    operation, transfers, events = allocation("a", "b", "c").grant(balances, {"a": {"role": "agent"}}, now=NOW,
                                                                   by="ops")
    assert [t.credit for t in transfers] == ["wallet:a", "wallet:b"] and balances.balance("budget") == 20
    record = operation.record()
    assert (record["op_id"], record["total"], record["skipped"]) == (
        "a-1", 80, [{"user_id": "c", "reason": "reallocation_needs_approval"}])
    assert [(e.topic, e.key, e.data.role) for e in events] == [(LEDGER_COINS_ALLOCATED, "a", "agent"),
                                                               (LEDGER_COINS_ALLOCATED, "b", None)]
    short = Balances([AccountState("budget", 100, False, True)])
    with pytest.raises(DomainError, match="120 needed for 3 users"):
        allocation("a", "b", "d").grant(short, {}, now=NOW, by="ops")
    assert short.changes() == {}
    assert code_of(lambda: allocation("c").grant(balances, {}, now=NOW, by="ops")) == "reallocation_needs_approval"
    assert code_of(lambda: Allocation.fingerprint_of(amount=0, user_ids=["a"], filter=None, note=None)) == (
        "invalid_amount")


def test_an_idle_wallet_goes_back_to_the_budget_and_is_blocked() -> None:
    balances = holding({"wallet:a": 70})
    transfer, fields, event, report = IdleWallet("wallet:a", "a", 70, NOW - timedelta(days=40)).reclaim(
        balances, idle_days=30, now=NOW, by="system")
    assert (transfer.debit, transfer.credit, transfer.amount, transfer.details["idle_days"]) == (
        "wallet:a", "budget", 70, 30)
    assert balances.changes() == {"wallet:a": -70, "budget": 70}
    assert fields["allocation_blocked"] is True and event.topic == LEDGER_COINS_RECLAIMED
    assert fields["learning_at_reclaim"] == {"seconds": 0, "tips": 0}  # the qualification's mark
    assert report["transfer_id"] == transfer.transfer_id
    assert domain.is_idle(NOW - timedelta(days=31), NOW, 30) and not domain.is_idle(None, NOW, 30)


# ---- rewards -------------------------------------------------------------------------------------------


def test_a_redemption_is_in_whole_yuan_and_answers_a_retry() -> None:
    assert code_of(lambda: Redemption.of("r", "s", coins=150, yuan=None, item=None)) == "not_whole_yuan"
    redemption = Redemption.of("r", "s", coins=None, yuan=2, item="mug")
    balances = holding({"earnings:s": 500})
    transfer, event = redemption.redeem(balances, now=NOW, by="market")
    assert (transfer.amount, transfer.details["redemption"]["yuan_fen"], event.topic) == (
        200, 200, LEDGER_COINS_REDEEMED)
    assert balances.changes() == {"earnings:s": -200, "redeemed": 200}
    assert redemption.recorded_before(None) is False
    assert redemption.recorded_before(transfer.record()) is True
    other = Redemption.of("r", "s", coins=300, yuan=None, item="mug")
    assert code_of(lambda: other.recorded_before(transfer.record())) == "transfer_id_conflict"


def test_a_blind_box_draw_is_all_or_none_and_replays_from_its_seed() -> None:
    draw = BlindBoxDraw.of("d", "seed", ["a", "b"], min_amount=5, max_amount=50, selection={}, fingerprint="p")
    poor = holding({"bonus-pool": sum(draw.amounts) - 1})
    with pytest.raises(DomainError, match=f"needs {sum(draw.amounts)}"):
        draw.award(poor, now=NOW, by="ops")
    assert poor.changes() == {}
    operation, transfers, event = draw.award(holding({"bonus-pool": 100}), now=NOW, by="ops")
    assert [t.credit for t in transfers] == ["earnings:a", "earnings:b"] and event.topic == LEDGER_BONUS_AWARDED
    record = operation.record()
    assert domain.replay_draw(record) == [{"user_id": a["user_id"], "amount": a["amount"]} for a in record["awards"]]
    assert code_of(lambda: BlindBoxDraw.of("d", "s", ["a", "a"], min_amount=1, max_amount=2, selection={},
                                           fingerprint="p")) == "duplicate_recipient"


# ---- changes -------------------------------------------------------------------------------------------


def test_changes_with_nothing_decided_are_empty() -> None:
    assert Changes("t", NOW).empty()
    assert Changes("t", NOW, holding({"wallet:a": 5})).empty()  # balances read, nothing moved
    moved = holding({"wallet:a": 5})
    moved.move("wallet:a", "wallet:b", 5)
    assert not Changes("t", NOW, moved).empty()
    assert not Changes("t", NOW, account_fields={"wallet:a": {"allocation_blocked": False}}).empty()
