"""A batch: the facts of every consumed topic together, applied in the order of their own times to the
states of their tenants (read first, see needs), turning into counter increments.

Each family of figures has its rules in a module of its own, with the table of the topics it counts
(topic -> rule); a Batch is all of them together.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from operator import attrgetter

from .calls import CALL_RULES, CallRules
from .coins import COIN_RULES, CoinRules
from .dead_letters import DEAD_LETTER_RULES, DeadLetterRules
from .facts import Fact, FactFailed, Rules
from .lead_funnel import LEAD_FUNNEL_RULES
from .marketplace import MARKETPLACE_RULES, MarketplaceRules
from .pool import POOL_RULES, PoolRules
from .roster import ROSTER_RULES, RosterRules
from .states import World
from .vocabulary import Increments, by_period, day_of

# Every family's table: topic -> the name of its rule (a method of Batch).
RULES: dict[str, str] = {**LEAD_FUNNEL_RULES, **POOL_RULES, **CALL_RULES, **ROSTER_RULES, **MARKETPLACE_RULES,
                         **COIN_RULES, **DEAD_LETTER_RULES}

_AT = attrgetter("at")


class Batch(PoolRules, CallRules, RosterRules, MarketplaceRules, CoinRules, DeadLetterRules):
    """Applies the facts of a batch to the worlds of their tenants, collecting counter increments (the lead
    funnel's rules come with the pool's, which move leads to `paid`)."""

    def __init__(self, rules: Rules, worlds: Mapping[str, World], days: dict[int, str] | None = None) -> None:
        super().__init__(rules, worlds, days)
        self._handlers: dict[str, Callable[[World, Fact, str], None]] = {
            topic: getattr(self, rule) for topic, rule in RULES.items()}

    @staticmethod
    def consumed() -> frozenset[str]:
        """The topics a batch knows how to count."""
        return frozenset(RULES)

    def apply(self, facts: Sequence[Fact]) -> Increments:
        """Apply the facts (see run); the counter increments of their days and of all time."""
        self.run(facts)
        return self.increments_by_period()

    def run(self, facts: Sequence[Fact]) -> None:
        """Apply the facts in the order of their own times (arrival order among equal times), adding to the
        increments of the facts applied before. A rule failing on a fact raises FactFailed: the facts before
        it were applied, and the states may hold part of this one (the caller drops them)."""
        tz, days, handlers, worlds = self.rules.tz, self.days, self._handlers, self.worlds
        for fact in sorted(facts, key=_AT):
            at = fact.at
            # Every UTC offset in use is a whole number of quarter hours: a quarter hour lies in one day.
            quarter = (at.toordinal() * 24 + at.hour) * 4 + at.minute // 15
            day = days.get(quarter)
            if day is None:
                day = days[quarter] = day_of(at, tz)
            try:
                handlers[fact.topic](worlds[fact.tenant], fact, day)
            except Exception as error:
                raise FactFailed(fact, error) from error

    def increments_by_period(self) -> Increments:
        per_day: dict[tuple[str, str, str, tuple[str, ...]], dict[str, int]] = dict(self.increments)
        for (tenant, day, agent_id, cohort), counts in self.people.items():
            for key in ((tenant, "agent", day, (agent_id,)), (tenant, "training", day, (cohort,))):
                counter = per_day.get(key)
                if counter is None:
                    per_day[key] = dict(counts)
                else:
                    per_day[key] = counter = dict(counter)
                    for name, amount in counts.items():
                        counter[name] = counter.get(name, 0) + amount
        return by_period(per_day)
