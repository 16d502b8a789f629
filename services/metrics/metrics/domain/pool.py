"""Pool operations and holders (family `pool`, per business line and team): a lead is assigned (分配) or
claimed (捞取), returned (退回), reclaimed (回收: not processed or not converted), closed (关单) or won.

The rules:
- Each holder change counts its operation under the team it names; assigned and claimed are a new holding,
  and the agent `received` the lead; a lead's first holding counts it `received` in the lead funnel.
- Holder changes may arrive out of order: only one not older than the lead's last sets or clears its
  holder (`_holder_update`); a release clears it only when it names the holder.
- A holder change tells the team and business line of an agent the roster has not described yet.
- A win declared by the agent counts `won` in the pool with its declared amount and the number of holdings
  before it (histogram `won_holders`); it credits the agent nothing and moves no funnel. Only its
  confirmation (allocation.win-confirmed.v1: an order or the supervisor) moves the lead to `paid` (crediting
  the agent's funnel), credits the agent's `won` and `won_fen` (what rankings compare), on the day it was
  confirmed, and counts `won_confirmed` in the pool. A declared win rejected (allocation.win-rejected.v1: a
  lost order or the supervisor) counts `win_rejected` in the pool, and its agent holds the lead again; so
  `won` - `won_confirmed` - `win_rejected` are the declared wins still waiting.
- Reclaim warnings and hot leads count under the lead's team; hot leads on the floor too.
- A lead closed because its number went on the do-not-call list counts `closed_do_not_call`, not `closed` (an
  agent's 关单); the list's changes count on the floor, by change (listed, removed) and source (operator,
  complaint).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from telesales_contracts import topics as t

from .facts import Fact
from .lead_funnel import LeadFunnelRules
from .states import LeadState, World
from .vocabulary import HOLDER_BUCKETS, NONE, UNKNOWN, bucket_field

_RECEIVED: dict[str, int] = {"received": 1}

# Topic -> rule.
POOL_RULES: dict[str, str] = {
    t.ALLOCATION_ASSIGNED.name: "_taken",
    t.ALLOCATION_CLAIMED.name: "_taken",
    t.ALLOCATION_RETURNED.name: "_released",
    t.ALLOCATION_RECLAIMED.name: "_released",
    t.ALLOCATION_CLOSED.name: "_released",
    t.ALLOCATION_WON.name: "_won",
    t.ALLOCATION_WIN_CONFIRMED.name: "_win_confirmed",
    t.ALLOCATION_WIN_REJECTED.name: "_win_rejected",
    t.ALLOCATION_RECLAIM_WARNING.name: "_reclaim_warning",
    t.ALLOCATION_HOT_LEAD.name: "_hot_lead",
    t.LEADS_DO_NOT_CALL.name: "_do_not_call",
}


class PoolRules(LeadFunnelRules):
    """The rules of pool operations and holders, one method per topic of POOL_RULES (a win reaches `paid`)."""

    def _learn_agent(self, world: World, agent_id: str, team: str | None, business_line: str) -> None:
        """What a holder change tells about an agent the roster has not: its team and business line."""
        agent = world.agent(agent_id)
        if agent.roster_at is None and (agent.team != team or agent.business_line != business_line):
            agent.team, agent.business_line = team, business_line
            world.touch("agents", agent_id)

    def _holder_update(self, world: World, lead_id: str, d: Any, at: datetime) -> LeadState | None:
        """The lead, when this holder change (at `at`, its own time in UTC) is not older than the one it
        holds now (else None)."""
        lead = world.lead(lead_id)
        if lead.business_line == UNKNOWN:
            lead.business_line = d.business_line
            world.touch("leads", lead_id)
        if lead.holder_at is not None and at < lead.holder_at:
            return None
        lead.holder_at = at
        world.touch("leads", lead_id)
        return lead

    def _taken(self, world: World, fact: Fact, day: str) -> None:
        """assigned (分配) or claimed (捞取): a new holding."""
        d = fact.data
        self._learn_agent(world, d.agent_id, d.team_id, d.business_line)
        team = d.team_id or NONE
        operation = "assigned" if fact.topic == t.ALLOCATION_ASSIGNED.name else "claimed"
        self._pool(world, fact, day, d.business_line, team, operation)
        self._agent_count(world, fact.tenant, d.agent_id, day, _RECEIVED)
        lead = world.lead(d.lead_id)
        first = lead.holders == 0
        lead.holders += 1
        world.touch("leads", d.lead_id)
        if first:
            self.count(fact.tenant, "funnel", day, (d.business_line, lead.channel, team), {"received": 1})
        if self._holder_update(world, d.lead_id, d, fact.at) is not None:
            lead.holder, lead.team, lead.since, lead.called, lead.processed = d.agent_id, team, fact.at, False, False

    def _released(self, world: World, fact: Fact, day: str) -> None:
        """returned (退回), reclaimed (回收: not processed, not converted, or dialled day after day without
        converting) or closed (关单)."""
        d = fact.data
        if fact.topic == t.ALLOCATION_RECLAIMED.name:
            operation = f"reclaimed_{d.kind.value}"
        else:
            operation = ("returned" if fact.topic == t.ALLOCATION_RETURNED.name
                         else "closed_do_not_call" if d.do_not_call else "closed")
        self._pool(world, fact, day, d.business_line, d.team_id, operation)
        lead = self._holder_update(world, d.lead_id, d, fact.at)
        if lead is not None and lead.holder == d.agent_id:
            lead.holder, lead.team, lead.since, lead.called, lead.processed = None, NONE, None, False, False

    def _won(self, world: World, fact: Fact, day: str) -> None:
        d = fact.data
        lead = world.lead(d.lead_id)
        holders = max(1, lead.holders)
        self._pool(world, fact, day, d.business_line, d.team_id, "won", won_fen=d.amount_fen,
                   **{bucket_field("won_holders", holders, HOLDER_BUCKETS): 1, "won_holders_sum": holders})
        updated = self._holder_update(world, d.lead_id, d, fact.at)
        if updated is not None and updated.holder == d.agent_id:
            updated.holder, updated.team, updated.since = None, NONE, None

    def _win_confirmed(self, world: World, fact: Fact, day: str) -> None:
        """A win confirmed by an order or the supervisor: only now is the lead paid and does it count for the
        agent (a replayed confirmation reaches `paid` once: the lead's steps are counted once)."""
        d = fact.data
        self._pool(world, fact, day, d.business_line, d.team_id, "won_confirmed", won_confirmed_fen=d.amount_fen)
        self._reach(world, fact, day, d.lead_id, "paid", d.agent_id)
        self._agent_count(world, fact.tenant, d.agent_id, day, {"won": 1, "won_fen": d.amount_fen})

    def _win_rejected(self, world: World, fact: Fact, day: str) -> None:
        """A declared win rejected (a lost order, or the supervisor): the agent holds the lead again."""
        d = fact.data
        self._pool(world, fact, day, d.business_line, d.team_id, "win_rejected")
        lead = self._holder_update(world, d.lead_id, d, fact.at)
        if lead is not None:
            lead.holder, lead.team, lead.since = d.agent_id, d.team_id or NONE, fact.at

    def _reclaim_warning(self, world: World, fact: Fact, day: str) -> None:
        lead = world.lead(fact.data.lead_id)
        self._pool(world, fact, day, lead.business_line, lead.team if lead.holder else NONE, "reclaim_warning")

    def _hot_lead(self, world: World, fact: Fact, day: str) -> None:
        lead = world.lead(fact.data.lead_id)
        self._pool(world, fact, day, lead.business_line, lead.team if lead.holder else NONE, "hot_lead")
        self.count(fact.tenant, "floor", day, (), {f"hot_lead:{fact.data.kind.value}": 1})

    def _do_not_call(self, world: World, fact: Fact, day: str) -> None:
        d = fact.data
        change = "listed" if d.listed else "removed"
        self.count(fact.tenant, "floor", day, (), {f"do_not_call:{change}:{d.source.value}": 1})
