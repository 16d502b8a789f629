"""The lead funnel: total -> valid -> intent -> agreed_visit -> actual_visit -> plan -> paid, per business
line, channel and team (family `funnel`), and per agent for the steps after `total`.

The rules:
- A lead is counted at a step once, the first time it gets there; reaching a step counts the steps before
  it too, where they were not counted yet, so the funnel never widens (`_reach`).
- A qualified lead (lead-intake) counts `total` and is `created` in the pool, once; a rejected one counts
  `total` and `rejected` under no team.
- A stage change credits the agent it names, else the lead's holder; a confirmed win moves the lead to `paid`
  (pool.py: allocation.win-confirmed.v1), neither an agent's declaration nor a leads.outcome.v1 (the allocator
  publishes one on a supervisor's confirmation; an outside order it confirms, or refuses with a dead letter).
- The team of a step is the holder's team while the lead is held, else the crediting agent's.
- Merges and complaints are pool operations of the lead's team; a signal counts on the floor.
"""

from __future__ import annotations

from telesales_contracts import topics as t

from .counting import Counting
from .facts import Fact
from .states import World
from .vocabulary import LEAD_STEPS, NONE, UNKNOWN

# Bit masks of the lead funnel: a step and every one before it; and the step names of each mask.
_UP_TO: dict[str, int] = {step: (1 << (i + 1)) - 1 for i, step in enumerate(LEAD_STEPS)}
_STEP_NAMES: tuple[tuple[str, ...], ...] = tuple(tuple(name for i, name in enumerate(LEAD_STEPS) if mask >> i & 1)
                                                for mask in range(1 << len(LEAD_STEPS)))

# Topic -> rule.
LEAD_FUNNEL_RULES: dict[str, str] = {
    t.LEADS_QUALIFIED.name: "_qualified",
    t.LEADS_MERGED.name: "_merged",
    t.LEADS_REJECTED.name: "_rejected",
    t.LEADS_STAGE_CHANGED.name: "_stage_changed",
    t.LEADS_COMPLAINT.name: "_complaint",
    t.LEADS_SIGNAL.name: "_signal",
}


class LeadFunnelRules(Counting):
    """The lead funnel's rules, one method per topic of LEAD_FUNNEL_RULES (and `_reach`, which the pool's use)."""

    def _reach(self, world: World, fact: Fact, day: str, lead_id: str, step: str, agent_id: str | None) -> None:
        """The lead got to `step`: count it, and the steps before it, where it was not counted yet; the
        agent credited (and their cohort) gets the steps after `total`."""
        lead = world.lead(lead_id)
        new = _UP_TO[step] & ~lead.steps  # this step and every one before it, not counted yet
        if not new:
            return
        lead.steps |= new
        world.touch("leads", lead_id)
        team = lead.team if lead.holder is not None else self._team_of(world, agent_id)
        names = _STEP_NAMES[new]
        counter = self.counter(fact.tenant, "funnel", day, (lead.business_line, lead.channel, team))
        for name in names:
            counter[name] += 1
        if agent_id is not None:
            counter = self.person(world, fact.tenant, day, agent_id)
            for name in names:
                if name != "total":
                    counter[name] += 1

    def _qualified(self, world: World, fact: Fact, day: str) -> None:
        d = fact.data
        lead = world.lead(d.lead_id)
        if lead.qualified:
            return
        lead.qualified = True
        if lead.business_line == UNKNOWN or lead.channel == UNKNOWN:
            lead.business_line, lead.channel = d.business_line, d.channel.value
        world.touch("leads", d.lead_id)
        self._pool(world, fact, day, lead.business_line, NONE, "created")
        self._reach(world, fact, day, d.lead_id, "total", None)

    def _merged(self, world: World, fact: Fact, day: str) -> None:
        lead = world.lead(fact.data.lead_id)
        self._pool(world, fact, day, lead.business_line, lead.team if lead.holder else NONE, "merged")

    def _rejected(self, world: World, fact: Fact, day: str) -> None:
        d = fact.data
        self.count(fact.tenant, "funnel", day, (d.business_line, d.channel.value, NONE), {"total": 1, "rejected": 1})

    def _stage_changed(self, world: World, fact: Fact, day: str) -> None:
        d = fact.data
        if d.funnel_step is not None:
            self._reach(world, fact, day, d.lead_id, d.funnel_step.value, d.agent_id or world.lead(d.lead_id).holder)

    def _complaint(self, world: World, fact: Fact, day: str) -> None:
        lead = world.lead(fact.data.lead_id)
        self._pool(world, fact, day, lead.business_line, lead.team if lead.holder else NONE, "complaint")

    def _signal(self, world: World, fact: Fact, day: str) -> None:
        self.count(fact.tenant, "floor", day, (), {f"signal:{fact.data.kind.value}": 1})

