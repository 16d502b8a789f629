"""The roster: an agent's team, business line, role, grade and whether active (the agents' states the
other rules read; no counter of its own).

The rules:
- A roster record older than the one applied is ignored (records may arrive out of order).
- A grade sets the agent's grade, and its team when none is known.
"""

from __future__ import annotations

from telesales_contracts import topics as t

from .counting import Counting
from .facts import Fact
from .states import World

# Topic -> rule.
ROSTER_RULES: dict[str, str] = {
    t.AGENTS_CHANGED.name: "_agent_changed",
    t.AGENTS_GRADED.name: "_agent_graded",
}


class RosterRules(Counting):
    """The roster's rules, one method per topic of ROSTER_RULES."""

    def _agent_changed(self, world: World, fact: Fact, day: str) -> None:
        d = fact.data
        agent = world.agent(d.agent_id)
        if agent.roster_at is not None and fact.at < agent.roster_at:
            return  # an older record arriving late
        agent.team, agent.business_line, agent.role, agent.active = (d.team_id, d.business_line, d.role.value,
                                                                     d.active)
        agent.roster_at = fact.at
        world.touch("agents", d.agent_id)

    def _agent_graded(self, world: World, fact: Fact, day: str) -> None:
        d = fact.data
        agent = world.agent(d.agent_id)
        agent.grade = d.grade
        if agent.team is None and d.team_id:
            agent.team = d.team_id
        world.touch("agents", d.agent_id)

