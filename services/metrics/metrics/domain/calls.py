"""Calls (family `calls` per team, and per agent): outbound, connected, effective (>= effective_call_seconds),
deep (>= deep_call_seconds), talk time and its histogram (`duration`).

The rules:
- A call counts for the calling agent's team (else the lead's holder's team when the caller holds it).
- A lead with two effective calls counts once as `multi_effective_leads`.
- The holder's first call of a holding: the delay since the holding began goes to `first_call`.
- The holder's first effective call of a holding (connected, >= effective_call_seconds) processes the lead,
  as the allocator's not-processed reclaim judges it: `processed_first` on its first holding,
  `processed_repeat` after, in the pool.
"""

from __future__ import annotations

import bisect
from collections import defaultdict

from telesales_contracts import topics as t

from .counting import Counting
from .facts import Fact
from .states import World
from .vocabulary import CALL_DURATION_BUCKETS, FIRST_CALL_BUCKETS, NONE, bucket_field, bucket_fields

_DURATION_BUCKETS = tuple(bucket_fields("duration", CALL_DURATION_BUCKETS))

# Topic -> rule.
CALL_RULES: dict[str, str] = {t.CALLS_LOGGED.name: "_call"}


class CallRules(Counting):
    """The rule of a call logged."""

    def _call(self, world: World, fact: Fact, day: str) -> None:
        # Almost half of all events: written out for speed (counters added to directly, states read once).
        d, rules, tenant = fact.data, self.rules, fact.tenant
        lead_id, agent_id = d.lead_id, d.agent_id
        lead = world.leads.get(lead_id) or world.lead(lead_id)
        agent = world.agents.get(agent_id) or world.agent(agent_id)
        held = lead.holder == agent_id
        key = (tenant, "calls", day, (agent.team or (lead.team if held else NONE),))
        team_counts = self.increments.get(key)
        if team_counts is None:
            team_counts = self.increments[key] = defaultdict(int)
        key = (tenant, day, agent_id, agent.cohort)
        person = self.people.get(key)
        if person is None:
            person = self.people[key] = defaultdict(int)
        team_counts["outbound"] += 1
        person["outbound"] += 1
        if d.connected:
            seconds = d.duration_seconds
            effective = seconds >= rules.effective_call_seconds
            deep = seconds >= rules.deep_call_seconds
            for counter in (team_counts, person):
                counter["connected"] += 1
                if seconds:
                    counter["talk_seconds"] += seconds
                if effective:
                    counter["effective"] += 1
                if deep:
                    counter["deep"] += 1
            team_counts[_DURATION_BUCKETS[bisect.bisect_left(CALL_DURATION_BUCKETS, seconds)]] += 1
            if seconds:
                team_counts["duration_sum"] += seconds
            if effective and lead.effective < 2:
                lead.effective += 1
                world.touch("leads", lead_id)
                if lead.effective == 2:
                    team_counts["multi_effective_leads"] += 1
                    person["multi_effective_leads"] += 1
        if held and (lead.since is None or fact.at >= lead.since):
            if not lead.called:
                lead.called = True
                world.touch("leads", lead_id)
                if lead.since is not None:
                    delay = (fact.at - lead.since).total_seconds()
                    team_counts[bucket_field("first_call", delay, FIRST_CALL_BUCKETS)] += 1
                    if round(delay):
                        team_counts["first_call_sum"] += round(delay)
            if not lead.processed and d.connected and d.duration_seconds >= rules.effective_call_seconds:
                lead.processed = True
                world.touch("leads", lead_id)
                person["processed"] += 1
                pass_ = "processed_first" if lead.holders <= 1 else "processed_repeat"
                self._pool(world, fact, day, lead.business_line, lead.team, pass_)

