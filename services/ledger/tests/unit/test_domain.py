"""The ledger's pure rules: accounts, all-or-nothing moves, purchase decisions, limits, revenue share,
redemption, holds, the blind-box draw, fingerprints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ledger import domain
from ledger.domain import (
    AccountKind,
    AccountState,
    Balances,
    DailyCounters,
    DailyLimits,
    DomainError,
    LedgerPolicy,
    Move,
    PurchaseRequest,
    TransferSpec,
)
from telesales_contracts.ledger import DailyLimit, PurchaseRejection


def request(transfer_id: str, buyer: str = "b", seller: str = "s", price: int = 10, day: str = "2026-11-24",
            tip: str = "t") -> PurchaseRequest:
    return PurchaseRequest(f"e-{transfer_id}", transfer_id, buyer, seller, tip, price, day)


def funded(**wallets: int) -> Balances:
    return Balances([AccountState(domain.wallet(user), amount, False, True) for user, amount in wallets.items()])


# ---- accounts ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("key", "kind", "owner"), [
    ("budget", AccountKind.BUDGET, None), ("issuance", AccountKind.ISSUANCE, None),
    ("bonus-pool", AccountKind.BONUS_POOL, None), ("redeemed", AccountKind.REDEEMED, None),
    ("wallet:zhang-san", AccountKind.WALLET, "zhang-san"), ("earnings:a.b@c:d", AccountKind.EARNINGS, "a.b@c:d"),
    ("escrow:wallet:li", AccountKind.ESCROW, "wallet:li"), ("escrow:budget", AccountKind.ESCROW, "budget"),
])
def test_account_keys(key: str, kind: AccountKind, owner: str | None) -> None:
    ref = domain.parse_account(key)
    assert (ref.key, ref.kind, ref.owner) == (key, kind, owner)


@pytest.mark.parametrize("key", ["", "wallet:", "wallet:a|b", "wallet:-a", "wallet:张三", "Budget", "escrow:escrow:budget",
                                 "escrow:issuance", "escrow:redeemed", "savings:a", "wallet:" + "a" * 65])
def test_bad_account_keys(key: str) -> None:
    with pytest.raises(DomainError) as error:
        domain.parse_account(key)
    assert error.value.code == "invalid_account"


def test_only_the_issuance_account_may_go_negative_by_default() -> None:
    assert [k for k in ("issuance", "budget", "bonus-pool", "redeemed", "wallet:a") if
            domain.allows_negative_by_default(k)] == ["issuance"]


def test_direct_transfers_touch_only_transferable_accounts() -> None:
    domain.check_transfer(TransferSpec("t", "budget", "wallet:a", 1))
    domain.check_transfer(TransferSpec("t", "issuance", "budget", 1), issue=True)
    for debit, credit, issue in (("issuance", "wallet:a", False), ("wallet:a", "redeemed", False),
                                 ("escrow:wallet:a", "wallet:a", False), ("budget", "wallet:a", True)):
        with pytest.raises(DomainError) as error:
            domain.check_transfer(TransferSpec("t", debit, credit, 1), issue=issue)
        assert error.value.code == "not_transferable"
    with pytest.raises(DomainError, match="two different"):
        domain.check_transfer(TransferSpec("t", "wallet:a", "wallet:a", 1))
    with pytest.raises(DomainError, match="whole coins"):
        domain.check_transfer(TransferSpec("t", "wallet:a", "wallet:b", 0))


def test_a_pending_transfer_moves_into_the_debit_accounts_escrow() -> None:
    assert TransferSpec("h", "wallet:a", "wallet:b", 5, pending=True).moves() == (Move("wallet:a", "escrow:wallet:a", 5),)
    assert TransferSpec("t", "wallet:a", "wallet:b", 5).moves() == (Move("wallet:a", "wallet:b", 5),)


# ---- balances ------------------------------------------------------------------------------------------


def test_moves_apply_all_or_none() -> None:
    balances = funded(a=100)
    with pytest.raises(DomainError) as error:
        balances.move_all([Move("wallet:a", "wallet:b", 60), Move("wallet:b", "wallet:c", 61)])
    assert (error.value.code, error.value.details["index"], error.value.details["balance"]) == (
        "insufficient_funds", 1, 60)
    assert balances.changes() == {} and balances.balance("wallet:a") == 100
    balances.move_all([Move("wallet:a", "wallet:b", 60), Move("wallet:b", "wallet:c", 50)])
    assert balances.changes() == {"wallet:a": -60, "wallet:b": 10, "wallet:c": 50}


def test_the_issuance_account_and_accounts_configured_so_may_go_negative() -> None:
    balances = Balances([AccountState("budget", 0, True, True)])
    balances.move("issuance", "budget", 500)
    balances.move("budget", "wallet:a", 700)
    assert (balances.balance("issuance"), balances.balance("budget"), balances.balance("wallet:a")) == (-500, -200, 700)
    with pytest.raises(DomainError, match="insufficient|holds"):
        balances.move("wallet:b", "wallet:a", 1)  # never written: holds 0


@pytest.mark.parametrize(("move", "code"), [(Move("wallet:a", "wallet:a", 1), "same_account"),
                                            (Move("wallet:a", "wallet:b", 0), "invalid_amount"),
                                            (Move("wallet:a", "wallet:b", domain.MAX_AMOUNT + 1), "invalid_amount")])
def test_moves_refuse_nonsense(move: Move, code: str) -> None:
    with pytest.raises(DomainError) as error:
        funded(a=10).move_all([move])
    assert error.value.code == code


# ---- purchases -----------------------------------------------------------------------------------------


def test_revenue_share_rounds_in_the_platforms_favour() -> None:
    assert domain.split_revenue(99, 80) == (79, 20)
    assert domain.split_revenue(99, 100) == (99, 0)
    assert domain.split_revenue(99, 0) == (0, 99)
    assert domain.split_revenue(1, 50) == (0, 1)


def test_a_posted_purchase_holds_then_posts() -> None:
    balances = funded(b=100)
    [decision] = domain.decide_purchases([request("p", price=40)], {}, balances, DailyCounters(),
                                         LedgerPolicy(seller_share_percent=75))
    assert (decision.outcome, decision.seller_amount, decision.platform_amount, decision.buyer_balance) == (
        "posted", 30, 10, 60)
    assert decision.moves == (Move("wallet:b", "escrow:wallet:b", 40), Move("escrow:wallet:b", "earnings:s", 30),
                              Move("escrow:wallet:b", "budget", 10))
    assert balances.changes() == {"wallet:b": -40, "earnings:s": 30, "budget": 10}


def test_refusals_say_why_and_move_nothing() -> None:
    balances = funded(b=50)
    decisions = domain.decide_purchases(
        [request("self", seller="b"), request("big", price=51), request("ok", price=50), request("after", price=1)],
        {}, balances, DailyCounters(), LedgerPolicy())
    assert [(d.outcome, d.reason) for d in decisions] == [
        ("rejected", PurchaseRejection.SELF_PURCHASE), ("rejected", PurchaseRejection.INSUFFICIENT_FUNDS),
        ("posted", None), ("rejected", PurchaseRejection.INSUFFICIENT_FUNDS)]
    assert [d.buyer_balance for d in decisions] == [50, 50, 0, 0]
    assert balances.balance("wallet:b") == 0


def test_repeats_and_conflicts_of_a_transfer_id() -> None:
    prior = {"old": request("old").fingerprint}
    decisions = domain.decide_purchases(
        [request("old"), request("old", price=11), request("new"), request("new"), request("new", tip="other")],
        prior, funded(b=100), DailyCounters(), LedgerPolicy())
    assert [d.outcome for d in decisions] == ["repeat", "conflict", "posted", "repeat", "conflict"]
    assert decisions[1].reason == PurchaseRejection.TRANSFER_ID_CONFLICT


@pytest.mark.parametrize(("limits", "sequence", "expected"), [
    (DailyLimits(buyer_daily_count=2), [("s1", 1), ("s2", 1), ("s3", 1)], DailyLimit.BUYER_COUNT),
    (DailyLimits(buyer_daily_coins=25), [("s1", 10), ("s2", 10), ("s3", 6)], DailyLimit.BUYER_COINS),
    (DailyLimits(pair_daily_count=2), [("s1", 1), ("s1", 1), ("s1", 1)], DailyLimit.PAIR_COUNT),
    (DailyLimits(pair_daily_coins=15, pair_daily_count=None), [("s1", 10), ("s2", 10), ("s1", 6)],
     DailyLimit.PAIR_COINS),
])
def test_the_daily_limit_reached_is_named(limits: DailyLimits, sequence: list[tuple[str, int]],
                                          expected: DailyLimit) -> None:
    requests = [request(f"p{n}", seller=s, price=p) for n, (s, p) in enumerate(sequence)]
    decisions = domain.decide_purchases(requests, {}, funded(b=1000), DailyCounters(),
                                        LedgerPolicy(daily_limits=limits))
    assert [d.outcome for d in decisions] == ["posted", "posted", "rejected"]
    assert (decisions[-1].reason, decisions[-1].limit) == (PurchaseRejection.DAILY_LIMIT, expected)
    assert decisions[-1].limit_value == getattr(limits, expected.value)


def test_limits_count_per_day_and_start_from_what_was_stored() -> None:
    counters = DailyCounters(buyers={("2026-11-24", "b"): (19, 100)})
    decisions = domain.decide_purchases([request("p1"), request("p2"), request("p3", day="2026-11-25")], {},
                                        funded(b=1000), counters, LedgerPolicy())
    assert [d.limit for d in decisions] == [None, DailyLimit.BUYER_COUNT, None]
    assert counters.buyer("2026-11-24", "b") == (20, 110) and counters.pair("2026-11-25", "b", "s") == (1, 10)


def test_the_business_day_is_the_ledgers_time_zone() -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    assert domain.business_day(datetime(2026, 11, 24, 16, 30, tzinfo=UTC), shanghai) == "2026-11-25"
    assert domain.business_day(datetime(2026, 11, 24, 15, 59, tzinfo=UTC), shanghai) == "2026-11-24"


def test_limits_can_be_turned_off() -> None:
    limits = DailyLimits(buyer_daily_count=None, buyer_daily_coins=None, pair_daily_count=None)
    requests = [request(f"p{n}", price=1) for n in range(50)]
    decisions = domain.decide_purchases(requests, {}, funded(b=50), DailyCounters(), LedgerPolicy(daily_limits=limits))
    assert {d.outcome for d in decisions} == {"posted"}


# ---- redemption, holds, idleness -----------------------------------------------------------------------


@pytest.mark.parametrize(("coins", "yuan", "expected"), [(100, None, (100, 100)), (None, 3, (300, 300)),
                                                         (12_300, None, (12_300, 12_300))])
def test_redemption_is_in_whole_yuan(coins: int | None, yuan: int | None, expected: tuple[int, int]) -> None:
    assert domain.redemption(coins=coins, yuan=yuan) == expected


@pytest.mark.parametrize(("coins", "yuan", "code"), [(150, None, "not_whole_yuan"), (99, None, "not_whole_yuan"),
                                                     (0, None, "not_whole_yuan"), (None, 0, "invalid_redemption"),
                                                     (None, None, "invalid_redemption"),
                                                     (100, 1, "invalid_redemption")])
def test_redemption_refusals(coins: int | None, yuan: int | None, code: str) -> None:
    with pytest.raises(DomainError) as error:
        domain.redemption(coins=coins, yuan=yuan)
    assert error.value.code == code


def test_hold_settlement() -> None:
    assert domain.hold_settlement(100, None) == (100, 0)
    assert domain.hold_settlement(100, 30) == (30, 70)
    for amount in (0, 101):
        with pytest.raises(DomainError):
            domain.hold_settlement(100, amount)


def test_idleness() -> None:
    now = datetime(2026, 11, 24, tzinfo=UTC)
    assert domain.is_idle(now - timedelta(days=30, seconds=1), now, 30)
    assert not domain.is_idle(now - timedelta(days=29), now, 30)
    assert not domain.is_idle(None, now, 30)


# ---- blind box -----------------------------------------------------------------------------------------


def test_the_draw_is_a_function_of_its_seed() -> None:
    users = ["s1", "s2", "s3"]
    first = domain.draw_amounts("seed-1", users, 10, 50)
    assert first == domain.draw_amounts("seed-1", users, 10, 50)
    assert all(10 <= a <= 50 for a in first)
    assert first != domain.draw_amounts("seed-2", users, 10, 50)
    # pinned: an auditor recomputes these with any HMAC-SHA256 implementation
    assert domain.draw_amounts("锦囊", ["a", "b"], 1, 100) == [
        1 + int.from_bytes(__import__("hmac").new("锦囊".encode(), f"{i}|{u}".encode(), "sha256").digest(), "big") % 100
        for i, u in enumerate(["a", "b"])]
    assert domain.draw_amounts("x", ["a"], 7, 7) == [7]
    with pytest.raises(DomainError):
        domain.draw_amounts("x", ["a", "a"], 1, 2)
    with pytest.raises(DomainError):
        domain.draw_amounts("x", ["a"], 5, 4)


def test_top_contributors() -> None:
    assert domain.rank_contributors({"a": 5, "b": 9, "c": 5, "d": 0}, 3) == ["b", "a", "c"]
    assert domain.rank_contributors({"a": 5, "d": 0}, 3) == ["a"]


def test_fingerprints() -> None:
    assert request("p").fingerprint == request("p", day="2026-12-01").fingerprint  # the day is not content
    assert request("p").fingerprint != request("p", price=11).fingerprint
    spec = TransferSpec("t", "wallet:a", "wallet:b", 5)
    assert spec.fingerprint(None) != spec.fingerprint("t")  # linked or not is content
    assert domain.fingerprint({"a": 1, "b": 2}) == domain.fingerprint({"b": 2, "a": 1})
