"""What a batch must read before it is applied: per tenant, the states its facts name that the tenant's
world does not hold yet (`needs`), and the agents holding the leads whose holder a rule credits.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from telesales_contracts import topics as t

from .facts import Fact
from .states import Needs, World

# What a topic's events read, by attribute of their data: (lead, agent, user, tip), any of them None. A user
# is an agent too in the marketplace (learning moves the agent's cohort).
_READS: dict[str, tuple[str | None, str | None, str | None, str | None]] = {
    **{topic: ("lead_id", "agent_id", None, None)
       for topic in (t.CALLS_LOGGED.name, t.ALLOCATION_RECLAIM_WARNING.name, t.ALLOCATION_HOT_LEAD.name,
                     t.ALLOCATION_WIN_CONFIRMED.name, t.ALLOCATION_WIN_REJECTED.name, *(topic.name for topic in t.HOLDER_CHANGE_TOPICS))},
    t.LEADS_STAGE_CHANGED.name: ("lead_id", "agent_id", None, None),
    **{topic: ("lead_id", None, None, None)
       for topic in (t.LEADS_QUALIFIED.name, t.LEADS_MERGED.name, t.LEADS_COMPLAINT.name,
                     t.LEADS_SIGNAL.name)},
    t.AGENTS_CHANGED.name: (None, "agent_id", None, None),
    t.AGENTS_GRADED.name: (None, "agent_id", None, None),
    t.LEDGER_TRANSFER_POSTED.name: (None, None, "buyer_id", None),
    t.LEDGER_COINS_ALLOCATED.name: (None, None, "user_id", None),
    t.LEDGER_COINS_RECLAIMED.name: (None, None, "user_id", None),
    **{topic.name: (None, "user_id", "user_id", "tip_id")
       for topic in (t.MARKETPLACE_TIP_VISITED, t.MARKETPLACE_LEARN_PROGRESSED, t.MARKETPLACE_TIP_RATED)},
    **{topic.name: (None, "user_id", "user_id", None)
       for topic in (t.MARKETPLACE_DAILY_ACTIVE, t.MARKETPLACE_DEEP_LEARNER_FLAGGED)},
    t.MARKETPLACE_PURCHASE_REQUESTED.name: (None, "buyer_id", "buyer_id", "tip_id"),
    t.MARKETPLACE_PURCHASE_COMPLETED.name: (None, "buyer_id", "buyer_id", "tip_id"),
    t.MARKETPLACE_TIP_FORWARDED.name: (None, "from_user_id", "from_user_id", "tip_id"),
}
# The topics whose rules credit the lead's holder (an agent the event does not name).
_CREDITS_HOLDER = frozenset({t.LEADS_STAGE_CHANGED.name})


def needs(facts: Iterable[Fact], worlds: Mapping[str, World]) -> dict[str, Needs]:
    """The states of each tenant a batch reads that its world does not hold (an empty world for a tenant not
    seen yet), and the leads whose holders the rules credit (their holders are read once the leads are).
    Keys held are left out as they are met: most are, and a set of every key read costs more."""
    grouped: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for fact in facts:
        grouped[(fact.tenant, fact.topic)].append(fact.data)
    out: dict[str, Needs] = defaultdict(Needs)
    empty = World()
    for (tenant, topic), data in grouped.items():
        n = out[tenant]  # every tenant of the batch gets a world, even one with nothing to read
        reads = _READS.get(topic)
        if reads is None:
            continue
        world = worlds.get(tenant, empty)
        lead, agent, user, tip = reads
        if lead is not None:
            held = world.leads
            if topic in _CREDITS_HOLDER:
                leads = {getattr(d, lead) for d in data}
                n.holder_leads |= leads
                n.leads.update(key for key in leads if key not in held)
            else:
                n.leads.update(key for d in data if (key := getattr(d, lead)) not in held)
        if agent is not None:
            held = world.agents
            n.agents.update(key for d in data if (key := getattr(d, agent)) not in held)
        if user is not None:
            held = world.users
            n.users.update(key for d in data if (key := getattr(d, user)) not in held)
        if tip is not None:
            held = world.user_tips
            n.user_tips.update(key for d in data if (key := (getattr(d, user), getattr(d, tip))) not in held)  # type: ignore[arg-type]
    for n in out.values():  # optional ids (a signal's lead, a stage change's agent)
        n.leads.discard(None)  # type: ignore[arg-type]
        n.agents.discard(None)  # type: ignore[arg-type]
        n.holder_leads.discard(None)  # type: ignore[arg-type]
    return out


def holding_agents(world: World, lead_ids: Iterable[str]) -> set[str]:
    """The agents holding these leads (a stage change or an outcome credits them), among the leads held."""
    leads = world.leads
    holders = {lead.holder for lead in (leads.get(lead_id) for lead_id in lead_ids) if lead is not None}
    holders.discard(None)  # type: ignore[arg-type]
    return holders
