"""The states the counting rules read and change, per tenant: a lead's (its funnel steps, its holder), an
agent's (roster and learning cohort), a user's (marketplace steps, coins held) and a user-tip pair's; the
`World` holding them for a batch, and `Needs`, what a batch must read first. Plain slotted dataclasses: the
store keeps one document per state (state_doc, state_from).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .generated import doc_maker, field_names
from .vocabulary import NONE, UNKNOWN


@dataclass(slots=True)
class LeadState:
    business_line: str = UNKNOWN
    channel: str = UNKNOWN
    qualified: bool = False  # lead-intake's qualification was counted (pool: created)
    steps: int = 0  # bit i: LEAD_STEPS[i] counted
    holder: str | None = None
    team: str = NONE  # the holder's team
    holder_at: datetime | None = None  # time of the holder change that set `holder`
    holders: int = 0  # holdings so far (assigned + claimed)
    since: datetime | None = None  # start of the current holding
    called: bool = False  # the current holder dialled it
    processed: bool = False  # the current holder made an effective call (worked it)
    effective: int = 0  # effective calls, counted up to 2


@dataclass(slots=True)
class AgentState:
    team: str | None = None
    business_line: str | None = None
    role: str | None = None
    grade: str | None = None
    active: bool = True
    cohort: str = "none"  # none, learner (learned a tip), deep (flagged deep learner)
    roster_at: datetime | None = None  # time of the roster record applied


@dataclass(slots=True)
class UserState:
    steps: int = 0  # bit i: USER_STEPS[i] reached
    holding: bool = False  # holds coins
    holding_at: datetime | None = None
    reclaimed_at: datetime | None = None  # last reclaim of the user's coins
    relearned: bool = False  # learned again after a reclaim
    reclaim_day: str | None = None  # the day the user counted as reclaimed: the re-learn rate's cohort
    allocated: bool = False  # coins were allocated to the user (the daily-active rate's denominator)
    active_day: str | None = None  # the last day the user counted as an active user holding an allocation


@dataclass(slots=True)
class UserTipState:
    steps: int = 0  # bit i: TIP_STEPS[i] reached


def state_doc(state: Any) -> dict[str, Any]:
    return doc_maker(type(state))(state)


def state_from(cls: type[Any], doc: Mapping[str, Any] | None) -> Any:
    if doc is None:
        return cls()
    return cls(**{name: doc[name] for name in field_names(cls) if name in doc})

@dataclass
class Needs:
    """The states a batch reads and its world does not hold, per kind: ids within the tenant (user-tip pairs
    as (user, tip)); and the leads whose holder a rule credits (their holders' states are read too, once the
    leads are)."""

    leads: set[str] = field(default_factory=set)
    agents: set[str] = field(default_factory=set)
    users: set[str] = field(default_factory=set)
    user_tips: set[tuple[str, str]] = field(default_factory=set)
    holder_leads: set[str] = field(default_factory=set)


@dataclass
class World:
    """The states of one tenant that a batch reads and changes; `changed` names what to write back."""

    leads: dict[str, LeadState] = field(default_factory=dict)
    agents: dict[str, AgentState] = field(default_factory=dict)
    users: dict[str, UserState] = field(default_factory=dict)
    user_tips: dict[tuple[str, str], UserTipState] = field(default_factory=dict)
    tips: dict[str, dict[str, Any]] = field(default_factory=dict)  # facts of tips to set (no read)
    changed: dict[str, set[Any]] = field(default_factory=lambda: defaultdict(set))

    # (get, then make: setdefault would make a state each time, and these run several times per event)
    def lead(self, lead_id: str) -> LeadState:
        state = self.leads.get(lead_id)
        if state is None:
            state = self.leads[lead_id] = LeadState()
        return state

    def agent(self, agent_id: str) -> AgentState:
        state = self.agents.get(agent_id)
        if state is None:
            state = self.agents[agent_id] = AgentState()
        return state

    def user(self, user_id: str) -> UserState:
        state = self.users.get(user_id)
        if state is None:
            state = self.users[user_id] = UserState()
        return state

    def user_tip(self, user_id: str, tip_id: str) -> UserTipState:
        state = self.user_tips.get((user_id, tip_id))
        if state is None:
            state = self.user_tips[(user_id, tip_id)] = UserTipState()
        return state

    def touch(self, kind: str, key: Any) -> None:
        self.changed[kind].add(key)

    def size(self) -> int:
        return len(self.leads) + len(self.agents) + len(self.users) + len(self.user_tips)

    def evict(self, keep: int) -> int:
        """Forget states not changed since they were written, the longest held first, until at most `keep`
        are held or only agents are left (they are read again when needed); how many were forgotten."""
        dropped = 0
        # Agents stay: there are few, and a lead's holder is read through the lead (holding_agents).
        for kind in ("leads", "user_tips", "users"):
            states, changed = getattr(self, kind), self.changed.get(kind, ())
            excess = self.size() - keep
            if excess <= 0:
                break
            gone = [key for key in states if key not in changed][:excess]
            for key in gone:
                del states[key]
            dropped += len(gone)
        return dropped


