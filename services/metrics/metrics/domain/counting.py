"""Where the counting rules add up: the counters of a batch, per tenant, family, day and labels, and each
agent's own (folded into the `agent` and `training` families when read). Every family's rules (lead_funnel,
pool, calls, roster, marketplace, coins, dead_letters) count through these.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from .facts import Fact, Rules
from .states import World
from .vocabulary import NONE


class Counting:
    """The counters a batch adds to, and the helpers its rules count with."""

    def __init__(self, rules: Rules, worlds: Mapping[str, World], days: dict[int, str] | None = None) -> None:
        self.rules = rules
        self.worlds = worlds
        self.days = {} if days is None else days  # the floor's day of each UTC quarter hour seen
        # Counts per (tenant, family, day, labels): plain tuples and int-defaulting dicts, the cheapest to hash
        # and add to (`counter[name] += n`; a batch adds to them several times per event).
        self.increments: dict[tuple[str, str, str, tuple[str, ...]], defaultdict[str, int]] = {}
        # An agent's counts per (tenant, day, agent, cohort at the time): folded into the `agent` and the
        # `training` families when the increments are read (one addition per event instead of two).
        self.people: dict[tuple[str, str, str, str], defaultdict[str, int]] = {}

    def counter(self, tenant: str, family: str, day: str, labels: tuple[str, ...]) -> defaultdict[str, int]:
        """The family's counters of `day` for `labels`, to add to (see by_period for the periods kept)."""
        key = (tenant, family, day, labels)
        counter = self.increments.get(key)
        if counter is None:
            counter = self.increments[key] = defaultdict(int)
        return counter

    def person(self, world: World, tenant: str, day: str, agent_id: str) -> defaultdict[str, int]:
        """An agent's counters of `day`, under the agent's learning cohort now (the agent and training families)."""
        key = (tenant, day, agent_id, world.agent(agent_id).cohort)
        counter = self.people.get(key)
        if counter is None:
            counter = self.people[key] = defaultdict(int)
        return counter

    def count(self, tenant: str, family: str, day: str, labels: tuple[str, ...], amounts: Mapping[str, int]) -> None:
        """Add `amounts` to the family's counters of `day`."""
        counter = self.counter(tenant, family, day, labels)
        for name, amount in amounts.items():
            if amount:
                counter[name] += amount

    def _agent_count(self, world: World, tenant: str, agent_id: str | None, day: str,
                     amounts: Mapping[str, int]) -> None:
        """Count for an agent (per day) and for the agent's learning cohort."""
        if agent_id is None:
            return
        counter = self.person(world, tenant, day, agent_id)
        for name, amount in amounts.items():
            if amount:
                counter[name] += amount

    def _pool(self, world: World, fact: Fact, day: str, business_line: str, team: str | None,
              operation: str, **more: int) -> None:
        counter = self.counter(fact.tenant, "pool", day, (business_line, team or NONE))
        counter[operation] += 1
        for name, amount in more.items():
            if amount:
                counter[name] += amount

    def _team_of(self, world: World, agent_id: str | None, fallback: str = NONE) -> str:
        if agent_id is None:
            return fallback
        return world.agent(agent_id).team or fallback


    def _market(self, fact: Fact, day: str, amounts: Mapping[str, int]) -> None:
        self.count(fact.tenant, "market", day, (), amounts)
