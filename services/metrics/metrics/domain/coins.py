"""The ledger's coins (family `market`): transfers posted and rejected, coins allocated, reclaimed and
redeemed, bonus draws, transfers recorded, reallocations decided, and the accounts holding coins.

The rules:
- The number of accounts holding coins moves by one on the day an account starts or stops holding; only
  an event not older than the one that decided it last counts (`_holding`).
- A user whose coins are reclaimed counts once as `users_reclaimed`, on the day of that first reclaim (kept:
  the re-learn rate's cohort, see marketplace); the last reclaim's time is kept for the re-learn rule.
- A user counts once as `users_allocated`, on the day coins were first allocated to them: the users the
  coins were allocated to by the end of a day are the daily-active rate's denominator (see marketplace).
"""

from __future__ import annotations

from telesales_contracts import topics as t

from .counting import Counting
from .facts import Fact
from .states import World

# Topic -> rule.
COIN_RULES: dict[str, str] = {
    t.LEDGER_TRANSFER_POSTED.name: "_transfer_posted",
    t.LEDGER_TRANSFER_REJECTED.name: "_transfer_rejected",
    t.LEDGER_COINS_ALLOCATED.name: "_coins_allocated",
    t.LEDGER_COINS_RECLAIMED.name: "_coins_reclaimed",
    t.LEDGER_COINS_REDEEMED.name: "_coins_redeemed",
    t.LEDGER_BONUS_AWARDED.name: "_bonus",
    t.LEDGER_TRANSFER_RECORDED.name: "_transfer_recorded",
    t.LEDGER_REALLOCATION_DECIDED.name: "_reallocation",
}


class CoinRules(Counting):
    """The ledger's rules, one method per topic of COIN_RULES, and `_holding`."""

    def _holding(self, world: World, fact: Fact, day: str, user_id: str, holding: bool) -> None:
        """Whether the user holds coins after this event (unless a later event decided it already): the
        number of accounts holding coins moves by one on the event's day."""
        user = world.user(user_id)
        if user.holding_at is not None and fact.at < user.holding_at:
            return
        user.holding_at = fact.at
        world.touch("users", user_id)
        if user.holding != holding:
            user.holding = holding
            self._market(fact, day, {"holders": 1 if holding else -1})

    def _transfer_posted(self, world: World, fact: Fact, day: str) -> None:
        d = fact.data
        self._market(fact, day, {"ledger_posted": 1, "ledger_posted_coins": d.price})
        self._holding(world, fact, day, d.buyer_id, d.buyer_balance > 0)

    def _transfer_rejected(self, world: World, fact: Fact, day: str) -> None:
        self._market(fact, day, {"ledger_rejected": 1, f"ledger_rejected:{fact.data.reason.value}": 1})

    def _coins_allocated(self, world: World, fact: Fact, day: str) -> None:
        self._market(fact, day, {"allocations": 1, "coins_allocated": fact.data.amount})
        user = world.user(fact.data.user_id)
        if not user.allocated:
            user.allocated = True
            world.touch("users", fact.data.user_id)
            self._market(fact, day, {"users_allocated": 1})
        self._holding(world, fact, day, fact.data.user_id, True)

    def _coins_reclaimed(self, world: World, fact: Fact, day: str) -> None:
        d = fact.data
        user = world.user(d.user_id)
        self._market(fact, day, {"coins_reclaimed": d.amount, "reclaims": 1})
        if user.reclaimed_at is None:
            user.reclaim_day = day
            self._market(fact, day, {"users_reclaimed": 1})
        if user.reclaimed_at is None or fact.at > user.reclaimed_at:
            user.reclaimed_at = fact.at
            world.touch("users", d.user_id)
        self._holding(world, fact, day, d.user_id, False)

    def _coins_redeemed(self, world: World, fact: Fact, day: str) -> None:
        self._market(fact, day, {"coins_redeemed": fact.data.coins, "redeemed_fen": fact.data.yuan_fen})

    def _bonus(self, world: World, fact: Fact, day: str) -> None:
        self._market(fact, day, {"bonus_draws": 1, "bonus_coins": fact.data.total})

    def _transfer_recorded(self, world: World, fact: Fact, day: str) -> None:
        self._market(fact, day, {f"transfers_recorded:{fact.data.state.value}": 1})

    def _reallocation(self, world: World, fact: Fact, day: str) -> None:
        self._market(fact, day, {f"reallocations_{fact.data.decision}": 1})

