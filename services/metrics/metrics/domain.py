"""What the metrics service counts, as pure functions and value classes (no I/O).

A batch of events (every consumed topic together) is applied, in the order of their own times, to the
states of the leads, agents, users and user-tip pairs it names (read from MongoDB by the service) and
turns into counter increments. A counter lives in a document per tenant, family, period and labels
(`CounterKey`); the periods are the day of the event in the floor's time zone and `all` (all time). Weeks
are the sums of their days: every step counted here is counted once, on the day it happened, so sums
over days are exact.

The lead funnel counts a lead at a step once, the first time it gets there (reaching a step counts the
steps before it too, so the funnel never widens): total -> valid -> intent -> agreed_visit ->
actual_visit -> plan -> paid. The marketplace's user funnel counts a user at a step the first time
(visit -> buy -> learn -> rate -> forward), and the tip funnel a user-tip pair the first time.
"""

from __future__ import annotations

import bisect
import functools
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from operator import attrgetter
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from telesales_contracts import topics as t
from telesales_contracts.activity import FUNNEL_ORDER
from telesales_contracts.leads import Channel

# ---- vocabulary --------------------------------------------------------------------------------------------

LEAD_STEPS: tuple[str, ...] = ("total", *(s.value for s in FUNNEL_ORDER))  # total, valid, ..., paid
FUNNEL_FIELDS: tuple[str, ...] = (*LEAD_STEPS, "received", "rejected")
# Bit masks of the lead funnel: a step and every one before it; and the step names of each mask.
_UP_TO: dict[str, int] = {step: (1 << (i + 1)) - 1 for i, step in enumerate(LEAD_STEPS)}
_STEP_NAMES: tuple[tuple[str, ...], ...] = tuple(tuple(name for i, name in enumerate(LEAD_STEPS) if mask >> i & 1)
                                                for mask in range(1 << len(LEAD_STEPS)))
_RECEIVED: dict[str, int] = {"received": 1}
USER_STEPS: tuple[str, ...] = ("visit", "buy", "learn", "rate", "forward")
TIP_STEPS: tuple[str, ...] = ("visited", "bought", "learned", "rewatched", "rated", "forwarded")
COHORTS: tuple[str, ...] = ("deep", "learner", "none")
POOL_OPERATIONS: tuple[str, ...] = ("created", "assigned", "claimed", "returned", "reclaimed_not_processed",
                                    "reclaimed_not_converted", "closed", "won", "merged", "reclaim_warning",
                                    "complaint", "hot_lead")
CALL_FIELDS: tuple[str, ...] = ("outbound", "connected", "effective", "deep", "talk_seconds", "multi_effective_leads")
CHANNELS: frozenset[str] = frozenset(c.value for c in Channel)

NONE = "none"  # a lead nobody holds, an agent not on the roster: the team label
UNKNOWN = "unknown"  # a lead whose qualification was not seen: its business line and channel
ALL = "all"  # the period of all-time counters

# Histogram buckets (upper bounds, seconds or holders); the last bucket is +Inf.
CALL_DURATION_BUCKETS: tuple[float, ...] = (10, 30, 60, 120, 180, 300, 600, 1200, 1800)
FIRST_CALL_BUCKETS: tuple[float, ...] = (60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600, 86400, 3 * 86400)
HOLDER_BUCKETS: tuple[float, ...] = (1, 2, 3, 4, 5, 8)

# Counter families: the labels of their documents.
FAMILY_DIMS: dict[str, tuple[str, ...]] = {
    "funnel": ("business_line", "channel", "team"),
    "pool": ("business_line", "team"),
    "calls": ("team",),
    "agent": ("agent",),
    "training": ("cohort",),
    "market": (),
    "tip": ("tip",),
    "floor": (),
    "dead_letters": ("service", "topic"),
}
# Families kept per day (besides all time); the others only all time (`agent`: only per day).
DAILY = frozenset({"funnel", "pool", "calls", "agent", "training", "market", "floor", "dead_letters"})
ALL_TIME = frozenset(FAMILY_DIMS) - {"agent"}


def bucket_field(prefix: str, value: float, bounds: Sequence[float]) -> str:
    """The counter field of the (non-cumulative) histogram bucket `value` falls in: `prefix:<bound>` or
    `prefix:inf`."""
    return _bucket_names(prefix, tuple(bounds))[bisect.bisect_left(bounds, value)]


def bucket_fields(prefix: str, bounds: Sequence[float]) -> list[str]:
    return list(_bucket_names(prefix, tuple(bounds)))


@functools.cache
def _bucket_names(prefix: str, bounds: tuple[float, ...]) -> tuple[str, ...]:
    return (*(f"{prefix}:{b:g}" for b in bounds), f"{prefix}:inf")


_DURATION_BUCKETS = _bucket_names("duration", CALL_DURATION_BUCKETS)


# ---- time -------------------------------------------------------------------------------------------------


def aware(value: datetime) -> datetime:
    """The same instant in UTC (a naive time is taken as UTC). Times parsed from events carry their own
    offsets; compared with one another that costs ten times a comparison of UTC times, and a batch compares
    every event's time about sixteen times (sorting) and more in the rules."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def day_of(at: datetime, tz: ZoneInfo) -> str:
    """ISO date of `at` in the floor's time zone."""
    return aware(at).astimezone(tz).date().isoformat()


@functools.lru_cache(maxsize=4096)
def iso_week(day: str) -> str:
    year, week, _ = date.fromisoformat(day).isocalendar()
    return f"{year}-W{week:02d}"


def days_between(first: str, last: str) -> list[str]:
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [(start + timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator, rounded to 6 places; None when there is nothing to divide by."""
    return round(numerator / denominator, 6) if denominator else None


# ---- counters ---------------------------------------------------------------------------------------------


class CounterKey(NamedTuple):
    tenant: str
    family: str
    period: str  # an ISO date, or "all"
    labels: tuple[str, ...]  # in the order of FAMILY_DIMS[family]

    @property
    def dims(self) -> dict[str, str]:
        return dict(zip(FAMILY_DIMS[self.family], self.labels, strict=True))


Increments = dict[CounterKey, dict[str, int]]


# ---- states -------------------------------------------------------------------------------------------------


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
    processed: bool = False  # the current holder called it
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
    relearned: bool = False  # came back after a reclaim


@dataclass(slots=True)
class UserTipState:
    steps: int = 0  # bit i: TIP_STEPS[i] reached


@functools.cache
def _field_names(cls: type[Any]) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


@functools.cache
def _doc_maker(cls: type[Any]) -> Callable[[Any], dict[str, Any]]:
    """A function making the document of a state of `cls` (generated, as dataclasses generates __init__: a
    checkpoint makes tens of thousands, and a generic loop over the fields costs three times as much)."""
    fields_ = ", ".join(f"{name!r}: state.{name}" for name in _field_names(cls))
    scope: dict[str, Any] = {}
    exec(f"def doc(state):\n    return {{{fields_}}}\n", scope)  # noqa: S102 - field names of our own dataclasses
    return scope["doc"]  # type: ignore[no-any-return]


def state_doc(state: Any) -> dict[str, Any]:
    return _doc_maker(type(state))(state)


def state_from(cls: type[Any], doc: Mapping[str, Any] | None) -> Any:
    if doc is None:
        return cls()
    return cls(**{name: doc[name] for name in _field_names(cls) if name in doc})


# ---- the batch ----------------------------------------------------------------------------------------------


class Fact:
    """One event to apply: its topic, tenant, id, own time (when it happened, in UTC) and data (the fields
    the rules read: a reading of its contract). A plain slotted class: one is made per event, and a frozen
    dataclass costs three times as much to make."""

    __slots__ = ("topic", "tenant", "event_id", "at", "data")

    def __init__(self, topic: str, tenant: str, event_id: str, at: datetime, data: Any) -> None:
        self.topic = topic
        self.tenant = tenant
        self.event_id = event_id
        self.at = at
        self.data = data

    def __repr__(self) -> str:
        return f"Fact({self.topic!r}, {self.tenant!r}, {self.event_id!r}, {self.at!r}, {self.data!r})"


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


@dataclass(frozen=True)
class Rules:
    tz: ZoneInfo
    effective_call_seconds: int = 60
    deep_call_seconds: int = 180


# The time each topic's events happened at: the path of their own field in the data (else the envelope's time).
EVENT_TIME: dict[str, str] = {
    t.LEADS_QUALIFIED.name: "touch.received_at",
    t.LEADS_MERGED.name: "touch.received_at",
    t.LEADS_REJECTED.name: "touch.received_at",
    t.LEADS_SIGNAL.name: "occurred_at",
    t.CALLS_LOGGED.name: "started_at",
    **{topic.name: "at" for topic in t.HOLDER_CHANGE_TOPICS},
    t.ALLOCATION_HOT_LEAD.name: "occurred_at",
    t.LEDGER_TRANSFER_POSTED.name: "posted_at",
    t.LEDGER_TRANSFER_REJECTED.name: "rejected_at",
    t.LEDGER_COINS_ALLOCATED.name: "allocated_at",
    t.LEDGER_COINS_RECLAIMED.name: "reclaimed_at",
    t.LEDGER_COINS_REDEEMED.name: "redeemed_at",
    t.LEDGER_BONUS_AWARDED.name: "drawn_at",
    t.LEDGER_TRANSFER_RECORDED.name: "at",
    t.LEDGER_REALLOCATION_DECIDED.name: "decided_at",
    t.MARKETPLACE_TIP_SUBMITTED.name: "submitted_at",
    t.MARKETPLACE_TIP_REVIEWED.name: "reviewed_at",
    t.MARKETPLACE_TIP_LISTED.name: "listed_at",
    t.MARKETPLACE_TIP_DELISTED.name: "delisted_at",
    t.MARKETPLACE_PURCHASE_REQUESTED.name: "requested_at",
    t.MARKETPLACE_PURCHASE_COMPLETED.name: "completed_at",
    t.MARKETPLACE_PURCHASE_REFUSED.name: "refused_at",
    t.MARKETPLACE_TIP_VISITED.name: "visited_at",
    t.MARKETPLACE_LEARN_PROGRESSED.name: "at",
    t.MARKETPLACE_TIP_RATED.name: "rated_at",
    t.MARKETPLACE_TIP_FORWARDED.name: "forwarded_at",
    t.MARKETPLACE_DAILY_ACTIVE.name: "at",
    t.MARKETPLACE_DEEP_LEARNER_FLAGGED.name: "flagged_at",
    t.MARKETPLACE_STRUGGLE_RECOMMENDED.name: "recommended_at",
}


# The fields of each topic's data the counting rules read (their times included). The consumer parses only
# these (telesales_contracts Topic.reading): the whole contract costs several times more per event, and
# most of the service's time went there. A rule reading a field not named here fails its tests.
_HOLDER_FIELDS = ("lead_id", "agent_id", "team_id", "business_line", "at")
_TIP_FACTS = ("tip_id", "title", "stage", "author_id", "version", "product_line", "price")
READ_FIELDS: dict[str, tuple[str, ...]] = {
    t.AGENTS_CHANGED.name: ("agent_id", "role", "team_id", "business_line", "active"),
    t.AGENTS_GRADED.name: ("agent_id", "grade", "team_id"),
    t.LEADS_QUALIFIED.name: ("lead_id", "business_line", "channel", "touch"),
    t.LEADS_REJECTED.name: ("business_line", "channel", "touch"),
    t.LEADS_MERGED.name: ("lead_id", "touch"),
    t.ALLOCATION_ASSIGNED.name: _HOLDER_FIELDS,
    t.ALLOCATION_CLAIMED.name: _HOLDER_FIELDS,
    t.ALLOCATION_RETURNED.name: _HOLDER_FIELDS,
    t.ALLOCATION_RECLAIMED.name: (*_HOLDER_FIELDS, "kind"),
    t.ALLOCATION_CLOSED.name: _HOLDER_FIELDS,
    t.ALLOCATION_WON.name: (*_HOLDER_FIELDS, "amount_fen"),
    t.CALLS_LOGGED.name: ("lead_id", "agent_id", "started_at", "duration_seconds", "connected"),
    t.LEADS_STAGE_CHANGED.name: ("lead_id", "funnel_step", "agent_id"),
    t.LEADS_OUTCOME.name: ("lead_id", "outcome", "business_line"),
    t.LEADS_COMPLAINT.name: ("lead_id",),
    t.LEADS_SIGNAL.name: ("lead_id", "kind", "occurred_at"),
    t.ALLOCATION_RECLAIM_WARNING.name: ("lead_id", "agent_id"),
    t.ALLOCATION_HOT_LEAD.name: ("lead_id", "agent_id", "kind", "occurred_at"),
    t.LEDGER_TRANSFER_POSTED.name: ("buyer_id", "price", "buyer_balance", "posted_at"),
    t.LEDGER_TRANSFER_REJECTED.name: ("reason", "rejected_at"),
    t.LEDGER_COINS_ALLOCATED.name: ("user_id", "amount", "allocated_at"),
    t.LEDGER_COINS_RECLAIMED.name: ("user_id", "amount", "reclaimed_at"),
    t.LEDGER_COINS_REDEEMED.name: ("coins", "yuan_fen", "redeemed_at"),
    t.LEDGER_BONUS_AWARDED.name: ("total", "drawn_at"),
    t.LEDGER_TRANSFER_RECORDED.name: ("state", "at"),
    t.LEDGER_REALLOCATION_DECIDED.name: ("decision", "decided_at"),
    t.MARKETPLACE_TIP_SUBMITTED.name: (*_TIP_FACTS, "submitted_at"),
    t.MARKETPLACE_TIP_REVIEWED.name: (*_TIP_FACTS, "decision", "reviewed_at"),
    t.MARKETPLACE_TIP_LISTED.name: (*_TIP_FACTS, "listed_at"),
    t.MARKETPLACE_TIP_DELISTED.name: ("tip_id", "version", "author_id", "delisted_at"),
    t.MARKETPLACE_PURCHASE_REQUESTED.name: ("buyer_id", "tip_id", "requested_at"),
    t.MARKETPLACE_PURCHASE_COMPLETED.name: ("buyer_id", "tip_id", "price", "completed_at"),
    t.MARKETPLACE_PURCHASE_REFUSED.name: ("reason", "refused_at"),
    t.MARKETPLACE_TIP_VISITED.name: ("user_id", "tip_id", "visited_at"),
    t.MARKETPLACE_LEARN_PROGRESSED.name: ("user_id", "tip_id", "learned", "rewatch", "rewatches", "at"),
    t.MARKETPLACE_TIP_RATED.name: ("user_id", "tip_id", "stars", "rated_at"),
    t.MARKETPLACE_TIP_FORWARDED.name: ("from_user_id", "tip_id", "forwarded_at"),
    t.MARKETPLACE_DAILY_ACTIVE.name: ("user_id", "at"),
    t.MARKETPLACE_DEEP_LEARNER_FLAGGED.name: ("user_id", "flagged_at"),
    t.MARKETPLACE_STRUGGLE_RECOMMENDED.name: ("step", "recommended_at"),
    t.DEAD_LETTERS.name: ("original_topic", "service"),
}


def fact_time(topic: str, data: Any, envelope_time: datetime | None) -> datetime:
    """When the event happened, in UTC: its own time field where the contract has one, else the envelope's
    (a reading parses the envelope's time only for the topics whose data has none)."""
    path = EVENT_TIME.get(topic)
    return aware(attrgetter(path)(data) if path is not None else envelope_time)  # type: ignore[arg-type]


def time_getter(topic: str) -> Callable[[Any], datetime]:
    """The getter of the time fact_time reads, from the event as its reading parsed it (not yet in UTC)."""
    path = EVENT_TIME.get(topic)
    return attrgetter("time" if path is None else f"data.{path}")


# What a topic's events read, by attribute of their data: (lead, agent, user, tip), any of them None. A user
# is an agent too in the marketplace (learning moves the agent's cohort).
_READS: dict[str, tuple[str | None, str | None, str | None, str | None]] = {
    **{topic: ("lead_id", "agent_id", None, None)
       for topic in (t.CALLS_LOGGED.name, t.ALLOCATION_RECLAIM_WARNING.name, t.ALLOCATION_HOT_LEAD.name,
                     *(topic.name for topic in t.HOLDER_CHANGE_TOPICS))},
    t.LEADS_STAGE_CHANGED.name: ("lead_id", "agent_id", None, None),
    **{topic: ("lead_id", None, None, None)
       for topic in (t.LEADS_QUALIFIED.name, t.LEADS_MERGED.name, t.LEADS_OUTCOME.name, t.LEADS_COMPLAINT.name,
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
_CREDITS_HOLDER = frozenset({t.LEADS_STAGE_CHANGED.name, t.LEADS_OUTCOME.name})


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


_AT = attrgetter("at")


class FactFailed(Exception):
    """A counting rule failed on this fact (a bug, or an event no rule foresaw)."""

    def __init__(self, fact: Fact, error: Exception) -> None:
        super().__init__(f"{fact.topic} {fact.event_id}: {type(error).__name__}: {error}")
        self.fact = fact
        self.error = error


class Batch:
    """Applies the facts of a batch to the worlds of their tenants, collecting counter increments."""

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
        self._handlers: dict[str, Callable[[World, Fact, str], None]] = {
            t.LEADS_QUALIFIED.name: self._qualified,
            t.LEADS_MERGED.name: self._merged,
            t.LEADS_REJECTED.name: self._rejected,
            t.LEADS_OUTCOME.name: self._outcome,
            t.LEADS_STAGE_CHANGED.name: self._stage_changed,
            t.LEADS_COMPLAINT.name: self._complaint,
            t.LEADS_SIGNAL.name: self._signal,
            t.CALLS_LOGGED.name: self._call,
            t.AGENTS_CHANGED.name: self._agent_changed,
            t.AGENTS_GRADED.name: self._agent_graded,
            t.ALLOCATION_ASSIGNED.name: self._taken,
            t.ALLOCATION_CLAIMED.name: self._taken,
            t.ALLOCATION_RETURNED.name: self._released,
            t.ALLOCATION_RECLAIMED.name: self._released,
            t.ALLOCATION_CLOSED.name: self._released,
            t.ALLOCATION_WON.name: self._won,
            t.ALLOCATION_RECLAIM_WARNING.name: self._reclaim_warning,
            t.ALLOCATION_HOT_LEAD.name: self._hot_lead,
            t.LEDGER_TRANSFER_POSTED.name: self._transfer_posted,
            t.LEDGER_TRANSFER_REJECTED.name: self._transfer_rejected,
            t.LEDGER_COINS_ALLOCATED.name: self._coins_allocated,
            t.LEDGER_COINS_RECLAIMED.name: self._coins_reclaimed,
            t.LEDGER_COINS_REDEEMED.name: self._coins_redeemed,
            t.LEDGER_BONUS_AWARDED.name: self._bonus,
            t.LEDGER_TRANSFER_RECORDED.name: self._transfer_recorded,
            t.LEDGER_REALLOCATION_DECIDED.name: self._reallocation,
            t.MARKETPLACE_TIP_SUBMITTED.name: self._tip_submitted,
            t.MARKETPLACE_TIP_REVIEWED.name: self._tip_reviewed,
            t.MARKETPLACE_TIP_LISTED.name: self._tip_listed,
            t.MARKETPLACE_TIP_DELISTED.name: self._tip_delisted,
            t.MARKETPLACE_PURCHASE_REQUESTED.name: self._purchase_requested,
            t.MARKETPLACE_PURCHASE_COMPLETED.name: self._purchase_completed,
            t.MARKETPLACE_PURCHASE_REFUSED.name: self._purchase_refused,
            t.MARKETPLACE_TIP_VISITED.name: self._visited,
            t.MARKETPLACE_LEARN_PROGRESSED.name: self._learned,
            t.MARKETPLACE_TIP_RATED.name: self._rated,
            t.MARKETPLACE_TIP_FORWARDED.name: self._forwarded,
            t.MARKETPLACE_DAILY_ACTIVE.name: self._daily_active,
            t.MARKETPLACE_DEEP_LEARNER_FLAGGED.name: self._deep_learner,
            t.MARKETPLACE_STRUGGLE_RECOMMENDED.name: self._struggle,
            t.DEAD_LETTERS.name: self._dead_letter,
        }

    @staticmethod
    def consumed() -> frozenset[str]:
        """The topics a batch knows how to count."""
        return frozenset(Batch(Rules(ZoneInfo("UTC")), {})._handlers)

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

    # ---- counting --------------------------------------------------------------------------------------

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

    # ---- the lead funnel ---------------------------------------------------------------------------------

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

    def _outcome(self, world: World, fact: Fact, day: str) -> None:
        # An outside CRM may name the lead only by its own reference (external_id): lead-intake resolves it;
        # here it names no lead to count (the platform's wins come with lead ids, from the allocator).
        if fact.data.outcome == "won" and fact.data.lead_id is not None:
            lead = world.lead(fact.data.lead_id)
            if lead.business_line == UNKNOWN and fact.data.business_line:
                lead.business_line = fact.data.business_line
                world.touch("leads", fact.data.lead_id)
            self._reach(world, fact, day, fact.data.lead_id, "paid", lead.holder)

    def _complaint(self, world: World, fact: Fact, day: str) -> None:
        lead = world.lead(fact.data.lead_id)
        self._pool(world, fact, day, lead.business_line, lead.team if lead.holder else NONE, "complaint")

    def _signal(self, world: World, fact: Fact, day: str) -> None:
        self.count(fact.tenant, "floor", day, (), {f"signal:{fact.data.kind.value}": 1})

    # ---- holders (pool operations) ----------------------------------------------------------------------

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
            lead.holder, lead.team, lead.since, lead.processed = d.agent_id, team, fact.at, False

    def _released(self, world: World, fact: Fact, day: str) -> None:
        """returned (退回), reclaimed (回收: not processed or not converted) or closed (关单)."""
        d = fact.data
        if fact.topic == t.ALLOCATION_RECLAIMED.name:
            operation = f"reclaimed_{d.kind.value}"
        else:
            operation = "returned" if fact.topic == t.ALLOCATION_RETURNED.name else "closed"
        self._pool(world, fact, day, d.business_line, d.team_id, operation)
        lead = self._holder_update(world, d.lead_id, d, fact.at)
        if lead is not None and lead.holder == d.agent_id:
            lead.holder, lead.team, lead.since, lead.processed = None, NONE, None, False

    def _won(self, world: World, fact: Fact, day: str) -> None:
        d = fact.data
        lead = world.lead(d.lead_id)
        holders = max(1, lead.holders)
        self._pool(world, fact, day, d.business_line, d.team_id, "won", won_fen=d.amount_fen,
                   **{bucket_field("won_holders", holders, HOLDER_BUCKETS): 1, "won_holders_sum": holders})
        self._agent_count(world, fact.tenant, d.agent_id, day, {"won": 1, "won_fen": d.amount_fen})
        self._reach(world, fact, day, d.lead_id, "paid", d.agent_id)
        updated = self._holder_update(world, d.lead_id, d, fact.at)
        if updated is not None and updated.holder == d.agent_id:
            updated.holder, updated.team, updated.since = None, NONE, None

    def _reclaim_warning(self, world: World, fact: Fact, day: str) -> None:
        lead = world.lead(fact.data.lead_id)
        self._pool(world, fact, day, lead.business_line, lead.team if lead.holder else NONE, "reclaim_warning")

    def _hot_lead(self, world: World, fact: Fact, day: str) -> None:
        lead = world.lead(fact.data.lead_id)
        self._pool(world, fact, day, lead.business_line, lead.team if lead.holder else NONE, "hot_lead")
        self.count(fact.tenant, "floor", day, (), {f"hot_lead:{fact.data.kind.value}": 1})

    # ---- calls ---------------------------------------------------------------------------------------------

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
        if held and not lead.processed and (lead.since is None or fact.at >= lead.since):
            lead.processed = True
            world.touch("leads", lead_id)
            person["processed"] += 1
            pass_ = "processed_first" if lead.holders <= 1 else "processed_repeat"
            self._pool(world, fact, day, lead.business_line, lead.team, pass_)
            if lead.since is not None:
                delay = (fact.at - lead.since).total_seconds()
                team_counts[bucket_field("first_call", delay, FIRST_CALL_BUCKETS)] += 1
                if round(delay):
                    team_counts["first_call_sum"] += round(delay)

    # ---- roster ----------------------------------------------------------------------------------------------

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

    # ---- marketplace: users, tips, learning ----------------------------------------------------------------

    def _market(self, fact: Fact, day: str, amounts: Mapping[str, int]) -> None:
        self.count(fact.tenant, "market", day, (), amounts)

    def _user_step(self, world: World, fact: Fact, day: str, user_id: str, step: str) -> None:
        """A user's activity: the step counted the first time, and a comeback after a reclaim noticed."""
        user = world.user(user_id)
        bit = 1 << USER_STEPS.index(step)
        if not user.steps & bit:
            user.steps |= bit
            world.touch("users", user_id)
            self._market(fact, day, {f"users:{step}": 1})
        self._came_back(world, fact, day, user_id)

    def _came_back(self, world: World, fact: Fact, day: str, user_id: str) -> None:
        user = world.user(user_id)
        if user.reclaimed_at is not None and not user.relearned and fact.at > user.reclaimed_at:
            user.relearned = True
            world.touch("users", user_id)
            self._market(fact, day, {"users_relearned": 1})

    def _tip_step(self, world: World, fact: Fact, day: str, user_id: str, tip_id: str, step: str,
                  **tip_amounts: int) -> None:
        """A user-tip pair got to `step` (counted the first time), with the tip's event counts."""
        pair = world.user_tip(user_id, tip_id)
        bit = 1 << TIP_STEPS.index(step)
        amounts = dict(tip_amounts)
        if not pair.steps & bit:
            pair.steps |= bit
            world.touch("user_tips", (user_id, tip_id))
            amounts[step] = 1
            self._market(fact, day, {f"tip_users:{step}": 1})
        self.count(fact.tenant, "tip", day, (tip_id,), amounts)

    def _tip_facts(self, world: World, d: Any, **more: Any) -> None:
        facts = world.tips.setdefault(d.tip_id, {})
        for name in ("title", "stage", "author_id", "version", "product_line", "price"):
            value = getattr(d, name, None)
            if value is not None:
                facts[name] = getattr(value, "value", value)
        facts.update(more)

    def _tip_submitted(self, world: World, fact: Fact, day: str) -> None:
        self._tip_facts(world, fact.data)
        self._market(fact, day, {"tips_submitted": 1})
        self.count(fact.tenant, "tip", day, (fact.data.tip_id,), {"submitted": 1})

    def _tip_reviewed(self, world: World, fact: Fact, day: str) -> None:
        decision = fact.data.decision.value
        self._tip_facts(world, fact.data)
        self._market(fact, day, {f"tips_{decision}": 1})
        self.count(fact.tenant, "tip", day, (fact.data.tip_id,), {decision: 1})

    def _tip_listed(self, world: World, fact: Fact, day: str) -> None:
        self._tip_facts(world, fact.data, status="listed")
        self._market(fact, day, {"tips_listed": 1})

    def _tip_delisted(self, world: World, fact: Fact, day: str) -> None:
        world.tips.setdefault(fact.data.tip_id, {})["status"] = "delisted"
        self._market(fact, day, {"tips_delisted": 1})

    def _purchase_requested(self, world: World, fact: Fact, day: str) -> None:
        self._market(fact, day, {"purchase_requests": 1})
        self._came_back(world, fact, day, fact.data.buyer_id)

    def _activity(self, world: World, fact: Fact, day: str, user_id: str, market: Mapping[str, int], user_step: str,
                  tip_step: str, **tip_amounts: int) -> None:
        """A user's activity on a tip: the marketplace's counts, the user's step and the user-tip pair's."""
        self._market(fact, day, market)
        self._user_step(world, fact, day, user_id, user_step)
        self._tip_step(world, fact, day, user_id, fact.data.tip_id, tip_step, **tip_amounts)

    def _purchase_completed(self, world: World, fact: Fact, day: str) -> None:
        d = fact.data
        self._activity(world, fact, day, d.buyer_id, {"purchases": 1, "coins_spent": d.price}, "buy", "bought",
                       purchases=1)

    def _purchase_refused(self, world: World, fact: Fact, day: str) -> None:
        self._market(fact, day, {"purchases_refused": 1, f"refused:{fact.data.reason.value}": 1})

    def _visited(self, world: World, fact: Fact, day: str) -> None:
        self._activity(world, fact, day, fact.data.user_id, {"visits": 1}, "visit", "visited", visits=1)

    def _learned(self, world: World, fact: Fact, day: str) -> None:
        d = fact.data
        self._market(fact, day, {"learn_reports": 1})
        self._came_back(world, fact, day, d.user_id)
        if d.learned:
            self._user_step(world, fact, day, d.user_id, "learn")
            self._tip_step(world, fact, day, d.user_id, d.tip_id, "learned")
            agent = world.agent(d.user_id)
            if agent.cohort == "none":
                agent.cohort = "learner"
                world.touch("agents", d.user_id)
        if d.rewatch or d.rewatches:
            self._tip_step(world, fact, day, d.user_id, d.tip_id, "rewatched")

    def _rated(self, world: World, fact: Fact, day: str) -> None:
        d = fact.data
        self._activity(world, fact, day, d.user_id, {"ratings": 1, "stars": d.stars}, "rate", "rated", ratings=1,
                       stars=d.stars)

    def _forwarded(self, world: World, fact: Fact, day: str) -> None:
        self._activity(world, fact, day, fact.data.from_user_id, {"forwards": 1}, "forward", "forwarded", forwards=1)

    def _daily_active(self, world: World, fact: Fact, day: str) -> None:
        self._market(fact, day, {"daily_active": 1})
        self._came_back(world, fact, day, fact.data.user_id)

    def _deep_learner(self, world: World, fact: Fact, day: str) -> None:
        agent = world.agent(fact.data.user_id)
        if agent.cohort != "deep":
            agent.cohort = "deep"
            world.touch("agents", fact.data.user_id)
            self._market(fact, day, {"deep_learners": 1})

    def _struggle(self, world: World, fact: Fact, day: str) -> None:
        self._market(fact, day, {"struggle_pushes": 1, f"struggle:{fact.data.step.value}": 1})

    # ---- ledger: coins -----------------------------------------------------------------------------------------

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
        self._holding(world, fact, day, fact.data.user_id, True)

    def _coins_reclaimed(self, world: World, fact: Fact, day: str) -> None:
        d = fact.data
        user = world.user(d.user_id)
        self._market(fact, day, {"coins_reclaimed": d.amount, "reclaims": 1})
        if user.reclaimed_at is None:
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

    # ---- platform ----------------------------------------------------------------------------------------------

    def _dead_letter(self, world: World, fact: Fact, day: str) -> None:
        d = fact.data
        topic = d.original_topic if d.original_topic in t.BY_NAME else "other"
        self.count(fact.tenant, "dead_letters", day, (d.service[:64], topic), {"dead_letters": 1})


def by_period(per_day: Mapping[tuple[str, str, str, tuple[str, ...]], Mapping[str, int]]) -> Increments:
    """Increments counted per day (keyed as CounterKey, or as the same plain tuple), as kept: per day for
    the DAILY families, and summed into all time for the ALL_TIME ones."""
    out: Increments = {}
    for (tenant, family, day, labels), counts in per_day.items():
        if family in DAILY:
            out[CounterKey(tenant, family, day, labels)] = dict(counts)
        if family in ALL_TIME:
            all_time = CounterKey(tenant, family, ALL, labels)
            total = out.get(all_time)
            if total is None:
                out[all_time] = dict(counts)
            else:
                for name, amount in counts.items():
                    total[name] = total.get(name, 0) + amount
    return out


# What an agent's per-day counters hold.
AGENT_FIELDS: frozenset[str] = frozenset({*CALL_FIELDS, "processed", "received", *LEAD_STEPS[1:], "won", "won_fen"})


def holding_agents(world: World, lead_ids: Iterable[str]) -> set[str]:
    """The agents holding these leads (a stage change or an outcome credits them), among the leads held."""
    leads = world.leads
    holders = {lead.holder for lead in (leads.get(lead_id) for lead_id in lead_ids) if lead is not None}
    holders.discard(None)  # type: ignore[arg-type]
    return holders


# ---- reading counters back: funnels and rates ---------------------------------------------------------------


def funnel_rows(counts: Mapping[str, int], steps: Sequence[str], base: str | None = None) -> list[dict[str, Any]]:
    """The funnel of `counts` over `steps`: each step's count, its rate from the step before, and its rate
    over the first step (or over `base`, e.g. the leads a team received)."""
    first = counts.get(base or steps[0], 0)
    rows = []
    previous: int | None = None
    for step in steps:
        count = counts.get(step, 0)
        rows.append({"step": step, "count": count,
                     "rate_from_previous": None if previous is None else ratio(count, previous),
                     "rate_over_total": ratio(count, first)})
        previous = count
    return rows


def add_counts(target: Counter[str], source: Mapping[str, int]) -> Counter[str]:
    for name, value in source.items():
        target[name] += value
    return target


def agent_rates(counts: Mapping[str, int]) -> dict[str, float]:
    """The rates the marketplace's struggle push compares (its FunnelStep names): effective calls over
    calls (connect_60s), intent over valid, actual visits over intent, plan over actual visits. A rate
    with nothing to divide by is left out."""
    pairs = {"connect_60s": ("effective", "outbound"), "intent": ("intent", "valid"),
             "visit": ("actual_visit", "intent"), "plan": ("plan", "actual_visit")}
    out = {}
    for name, (numerator, denominator) in pairs.items():
        value = ratio(counts.get(numerator, 0), counts.get(denominator, 0))
        if value is not None:
            out[name] = min(1.0, value)
    return out


def histogram(counts: Mapping[str, int], prefix: str, bounds: Sequence[float]) -> tuple[list[tuple[str, int]], int, int]:
    """Cumulative Prometheus buckets (le, count), the count and the sum of a histogram kept as
    non-cumulative bucket counters."""
    cumulative, running = [], 0
    for name, bound in zip(bucket_fields(prefix, bounds), [*(str(float(b)) for b in bounds), "+Inf"], strict=True):
        running += counts.get(name, 0)
        cumulative.append((bound, running))
    return cumulative, running, counts.get(f"{prefix}_sum", 0)
