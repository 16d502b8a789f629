"""Properties of the ledger's rules over random inputs: moves conserve coins and never overdraw, a refused
group changes nothing, and deciding a stream of purchases in batches (as the consumer does, one
transaction per batch, whatever the batch boundaries after a crash) equals deciding it in one go."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import domain
from ledger.domain import AccountState, Balances, DailyCounters, DailyLimits, DomainError, LedgerPolicy, Move

ACCOUNTS = ["issuance", "budget", "wallet:a", "wallet:b", "wallet:c", "earnings:a", "bonus-pool"]

moves = st.builds(Move, st.sampled_from(ACCOUNTS), st.sampled_from(ACCOUNTS), st.integers(1, 500))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(moves, min_size=1, max_size=4), max_size=40))
def test_moves_conserve_coins_and_never_overdraw(groups: list[list[Move]]) -> None:
    balances = Balances()
    for group in groups:
        before = dict(balances.deltas)
        try:
            balances.move_all(group)
        except DomainError:
            assert {k: v for k, v in balances.deltas.items() if v} == {k: v for k, v in before.items() if v}
        assert sum(balances.deltas.values()) == 0
        assert all(balances.balance(k) >= 0 for k in ACCOUNTS if k != "issuance")


requests = st.builds(
    lambda n, buyer, seller, price, day, repeat: (n if not repeat else max(0, n - 3), buyer, seller, price, day),
    st.integers(0, 60), st.sampled_from("abcd"), st.sampled_from("abcde"), st.integers(1, 120),
    st.sampled_from(["2026-11-24", "2026-11-25"]), st.booleans())


def as_requests(raw: list[tuple[int, str, str, int, str]]) -> list[domain.PurchaseRequest]:
    return [domain.PurchaseRequest(f"e{i}", f"p{n}", b, s, "tip", price, day)
            for i, (n, b, s, price, day) in enumerate(raw)]


policies = st.builds(LedgerPolicy, seller_share_percent=st.integers(0, 100), daily_limits=st.builds(
    DailyLimits, buyer_daily_count=st.one_of(st.none(), st.integers(1, 8)),
    buyer_daily_coins=st.one_of(st.none(), st.integers(1, 600)),
    pair_daily_count=st.one_of(st.none(), st.integers(1, 4)),
    pair_daily_coins=st.one_of(st.none(), st.integers(1, 300))))


def run(stream: list[domain.PurchaseRequest], cuts: list[int], policy: LedgerPolicy, funds: dict[str, int]
        ) -> tuple[dict[str, int], list[str]]:
    """Decide the stream in the batches `cuts` gives, carrying what a transaction would store between them:
    balances, counters, and the fingerprint of every transfer id decided."""
    stored = {domain.wallet(u): v for u, v in funds.items()}
    counters = DailyCounters()
    prior: dict[str, str] = {}
    outcomes = []
    bounds = sorted({0, len(stream), *(c % (len(stream) + 1) for c in cuts)})
    for start, end in zip(bounds, bounds[1:], strict=False):
        balances = Balances([AccountState(k, v, False, True) for k, v in stored.items()])
        decisions = domain.decide_purchases(stream[start:end], prior, balances, counters, policy)
        for key, delta in balances.changes().items():
            stored[key] = stored.get(key, 0) + delta
        for d in decisions:
            outcomes.append(d.outcome)
            if d.outcome in ("posted", "rejected"):
                prior[d.request.transfer_id] = d.request.fingerprint
    return {k: v for k, v in stored.items() if v}, outcomes


@settings(max_examples=150, deadline=None)
@given(st.lists(requests, max_size=50), st.lists(st.integers(0, 60), max_size=6), policies,
       st.dictionaries(st.sampled_from("abcd"), st.integers(0, 800)))
def test_batches_decide_as_one_stream_does(raw: list[tuple[int, str, str, int, str]], cuts: list[int],
                                           policy: LedgerPolicy, funds: dict[str, int]) -> None:
    stream = as_requests(raw)
    whole = run(stream, [], policy, funds)
    assert run(stream, cuts, policy, funds) == whole
    balances, _ = whole
    assert sum(balances.values()) == sum(funds.values())  # purchases only move coins around
    assert all(v >= 0 for v in balances.values())


@settings(max_examples=100, deadline=None)
@given(st.text(min_size=1, max_size=20), st.lists(st.text(min_size=1, max_size=8), unique=True, max_size=20),
       st.integers(1, 1000), st.integers(0, 1000))
def test_a_draw_stays_in_bounds_and_replays(seed: str, users: list[str], low: int, extra: int) -> None:
    amounts = domain.draw_amounts(seed, users, low, low + extra)
    assert len(amounts) == len(users) and all(low <= a <= low + extra for a in amounts)
    assert domain.draw_amounts(seed, users, low, low + extra) == amounts


@given(st.integers(1, 10**6), st.integers(0, 100))
def test_revenue_share_adds_up(price: int, share: int) -> None:
    seller, platform = domain.split_revenue(price, share)
    assert seller + platform == price and 0 <= seller <= price * share / 100 < seller + 1


@given(st.integers(1, 10**7))
def test_redemption_in_yuan_and_coins_agree(yuan: int) -> None:
    assert domain.redemption(yuan=yuan) == domain.redemption(coins=yuan * 100) == (yuan * 100, yuan * 100)
