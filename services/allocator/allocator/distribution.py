"""Who gets each pushed lead (分配): team choice and the distribution strategies. Pure functions, no I/O.

Distribution is two steps: `choose_team` sends a lead to a team by the customer's need, then `distribute`
picks the agent inside that team by the team's strategy. The service layer loads candidates and leads,
calls these functions and writes the outcome; everything that can be decided from that data alone is here,
so that every rule can be tested without a database.

Rules shared by all strategies:
- leads go out best score first (ties by lead_id), so the best lead is placed while every agent still has room;
- an agent never goes over its cap (open_leads + placed in this call < cap to get one more);
- an agent in a lead's `excluded` never gets that lead;
- ties between agents break by agent_id, so the same input always gives the same output;
- every input lead comes back exactly once, placed or unplaced with a reason.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from telesales_contracts.allocation import DistributionStrategy

UnplacedReason = Literal["no_eligible_agent", "target_at_cap", "target_not_in_team", "unknown_strategy"]

NO_ELIGIBLE_AGENT: UnplacedReason = "no_eligible_agent"
TARGET_AT_CAP: UnplacedReason = "target_at_cap"
TARGET_NOT_IN_TEAM: UnplacedReason = "target_not_in_team"
UNKNOWN_STRATEGY: UnplacedReason = "unknown_strategy"


@dataclass(frozen=True, slots=True)
class Candidate:
    """An agent of the team who may receive leads."""

    agent_id: str
    open_leads: int  # leads the agent holds now
    cap: int  # most leads the agent may hold at once
    ability: float = 1.0  # > 0; relative strength (e.g. from last weeks' conversions)

    def __post_init__(self) -> None:
        # Checked here, not in distribute: a bad ability would otherwise surface as a division error deep inside.
        if self.open_leads < 0 or self.cap < 0:
            raise ValueError(f"agent {self.agent_id}: open_leads and cap must be >= 0")
        if not (math.isfinite(self.ability) and self.ability > 0):
            raise ValueError(f"agent {self.agent_id}: ability must be a finite number > 0, got {self.ability!r}")


@dataclass(frozen=True, slots=True)
class LeadToPlace:
    """A lead to push, with what the strategies need to know of its history."""

    lead_id: str
    score: int  # 0-100, higher first
    previous_holders: frozenset[str] = frozenset()  # every agent who ever held it
    last_holder: str | None = None  # who held it right before it was reclaimed/returned
    dedicated_agent: str | None = None
    excluded: frozenset[str] = frozenset()  # agents that must never get this lead (e.g. in a cooldown)
    reclaimed: bool = False  # its last hold ended in a reclaim (回收): strategy 7 sends it to the team, not the holder


@dataclass(frozen=True, slots=True)
class Placement:
    lead_id: str
    agent_id: str
    strategy: DistributionStrategy  # the strategy that actually placed it (a fallback says so)


@dataclass(frozen=True, slots=True)
class Unplaced:
    lead_id: str
    reason: str  # one of: "no_eligible_agent", "target_at_cap", "target_not_in_team", "unknown_strategy"


@dataclass(frozen=True, slots=True)
class DistributionResult:
    placements: tuple[Placement, ...]
    unplaced: tuple[Unplaced, ...]
    round_robin_cursor: str | None  # agent_id last served by round robin (to persist for the next call)


# --------------------------------------------------------------------------------------------------
# Bookkeeping of one call


class _Team:
    """The candidates and what each holds, updated as leads are placed within the call."""

    __slots__ = ("by_id", "held", "ids", "placements", "unplaced")

    def __init__(self, candidates: Sequence[Candidate]) -> None:
        self.by_id = {c.agent_id: c for c in candidates}
        if len(self.by_id) != len(candidates):
            raise ValueError("candidates must have distinct agent_ids")
        self.ids = sorted(self.by_id)  # agent_id order: the tie-break everywhere
        self.held = {c.agent_id: c.open_leads for c in candidates}
        self.placements: list[Placement] = []
        self.unplaced: list[Unplaced] = []

    def has_room(self, agent_id: str) -> bool:
        return self.held[agent_id] < self.by_id[agent_id].cap

    def fits(self, agent_id: str | None, lead: LeadToPlace) -> bool:
        return (agent_id is not None and agent_id in self.by_id and self.has_room(agent_id)
                and agent_id not in lead.excluded)

    def fewest_open(self, lead: LeadToPlace, barred: Iterable[str] = ()) -> str | None:
        """The eligible agent holding the fewest leads now (this call's placements included)."""
        barred = set(barred)
        eligible = [a for a in self.ids if a not in barred and self.fits(a, lead)]
        return min(eligible, key=lambda a: (self.held[a], a), default=None)

    def place(self, lead: LeadToPlace, agent_id: str, strategy: DistributionStrategy) -> None:
        self.held[agent_id] += 1
        self.placements.append(Placement(lead.lead_id, agent_id, strategy))

    def leave(self, lead: LeadToPlace, reason: UnplacedReason) -> None:
        self.unplaced.append(Unplaced(lead.lead_id, reason))

    def place_or_leave(self, lead: LeadToPlace, agent_id: str | None, strategy: DistributionStrategy) -> None:
        if agent_id is None:
            self.leave(lead, NO_ELIGIBLE_AGENT)
        else:
            self.place(lead, agent_id, strategy)


def _best_first(leads: Sequence[LeadToPlace]) -> list[LeadToPlace]:
    return sorted(leads, key=lambda lead: (-lead.score, lead.lead_id))


# --------------------------------------------------------------------------------------------------
# Strategies. Each gets the leads best first and a fresh _Team; round robin also returns its cursor.


def _supervisor(leads: list[LeadToPlace], team: _Team, target_agent: str) -> None:
    for lead in leads:
        if target_agent not in team.by_id:
            team.leave(lead, TARGET_NOT_IN_TEAM)
        elif not team.has_room(target_agent):
            team.leave(lead, TARGET_AT_CAP)
        elif target_agent in lead.excluded:
            team.leave(lead, NO_ELIGIBLE_AGENT)
        else:
            team.place(lead, target_agent, DistributionStrategy.SUPERVISOR)


def _even_by_open(leads: list[LeadToPlace], team: _Team) -> None:
    for lead in leads:
        team.place_or_leave(lead, team.fewest_open(lead), DistributionStrategy.EVEN_BY_OPEN)


def _never_previous(leads: list[LeadToPlace], team: _Team) -> None:
    for lead in leads:
        # The last holder held it too, even if the caller forgot to list it among the previous holders.
        barred = set(lead.previous_holders)
        if lead.last_holder is not None:
            barred.add(lead.last_holder)
        team.place_or_leave(lead, team.fewest_open(lead, barred), DistributionStrategy.NEVER_PREVIOUS)


def _named_agent(leads: list[LeadToPlace], team: _Team, strategy: DistributionStrategy,
                 pick: Callable[[LeadToPlace], str | None]) -> None:
    """SAME_AGENT and DEDICATED_AGENT: to the named agent when possible, else to the fewest open leads."""
    for lead in leads:
        agent_id = pick(lead)
        if team.fits(agent_id, lead):
            assert agent_id is not None
            team.place(lead, agent_id, strategy)
        else:
            team.place_or_leave(lead, team.fewest_open(lead), DistributionStrategy.EVEN_BY_OPEN)


def _same_agent(leads: list[LeadToPlace], team: _Team) -> None:
    """Strategy 7 (分配给同一人, 回收后再次分配到原部门): a returned lead back to its last holder; a reclaimed one
    to another agent of the team (the caller sends it to its original team), never the agent it was taken from."""
    for lead in leads:
        if lead.reclaimed:
            barred = {lead.last_holder} if lead.last_holder else set()
            team.place_or_leave(lead, team.fewest_open(lead, barred), DistributionStrategy.SAME_AGENT)
        else:
            _named_agent([lead], team, DistributionStrategy.SAME_AGENT, lambda lead: lead.last_holder)


def _round_robin(leads: list[LeadToPlace], team: _Team, cursor: str | None) -> str | None:
    ids = team.ids
    start = ids.index(cursor) + 1 if cursor in team.by_id else 0
    for lead in leads:
        served = None
        for step in range(len(ids)):
            i = (start + step) % len(ids)
            if team.fits(ids[i], lead):
                served = i
                break
        if served is None:
            team.leave(lead, NO_ELIGIBLE_AGENT)  # nobody was served, so the turn does not move
            continue
        team.place(lead, ids[served], DistributionStrategy.ROUND_ROBIN)
        cursor = ids[served]
        start = served + 1
    return cursor


def _batch_average(leads: list[LeadToPlace], team: _Team) -> None:
    """Deals the batch in a snake order over the agents with room, so counts differ by at most one and
    nobody always gets the first (best) lead of each round.

    The deal is a queue of turns; each lead takes the earliest turn whose agent may take it. An agent skipped
    for one lead (excluded, at cap) keeps its turn for the next lead, so a single exclusion does not cost it a
    share. A lead that no remaining turn can take goes to the eligible agent with the fewest leads of this batch.
    """
    order = sorted((a for a in team.ids if team.has_room(a)), key=lambda a: (team.by_id[a].open_leads, a))
    if not order:
        for lead in leads:
            team.leave(lead, NO_ELIGIBLE_AGENT)
        return
    k = len(order)
    turns: list[str | None] = []
    for i in range(len(leads)):
        lap, pos = divmod(i, k)
        turns.append(order[pos] if lap % 2 == 0 else order[k - 1 - pos])
    rank = {a: i for i, a in enumerate(order)}
    in_batch = dict.fromkeys(order, 0)
    first_open = 0
    for lead in leads:
        while first_open < len(turns) and turns[first_open] is None:
            first_open += 1
        agent_id = None
        for t in range(first_open, len(turns)):
            if turns[t] is not None and team.fits(turns[t], lead):
                agent_id, turns[t] = turns[t], None
                break
        if agent_id is None:
            eligible = [a for a in order if team.fits(a, lead)]
            agent_id = min(eligible, key=lambda a: (in_batch[a], rank[a]), default=None)
        if agent_id is not None:
            in_batch[agent_id] += 1
        team.place_or_leave(lead, agent_id, DistributionStrategy.BATCH_AVERAGE)


def _largest_remainder(total: int, weights: dict[str, Fraction]) -> dict[str, int]:
    """Integer quotas summing to `total`, in proportion to `weights`: floors first, then one more to the
    largest fractional parts (ties by agent_id). Exact fractions keep the result free of float noise."""
    weight_sum = sum(weights.values(), Fraction(0))
    if total <= 0 or weight_sum <= 0:
        return dict.fromkeys(weights, 0)
    shares = {a: total * w / weight_sum for a, w in weights.items()}
    quotas = {a: math.floor(s) for a, s in shares.items()}
    left = total - sum(quotas.values())
    for a in sorted(shares, key=lambda a: (-(shares[a] - quotas[a]), a))[:left]:
        quotas[a] += 1
    return quotas


def _ability_weighted(leads: list[LeadToPlace], team: _Team, ability_share: Fraction) -> None:
    """Part of the batch in proportion to ability, the rest evenly, among the agents with room. Stronger
    agents get more leads and, since the largest remaining quota is served first, the better ones."""
    agents = [a for a in team.ids if team.has_room(a)]
    n = len(leads)
    by_ability = math.floor(n * ability_share + Fraction(1, 2))  # round half up, not Python's half to even
    ability_quota = _largest_remainder(by_ability, {a: Fraction(team.by_id[a].ability) for a in agents})
    even_quota = _largest_remainder(n - by_ability, dict.fromkeys(agents, Fraction(1)))
    remaining = {a: ability_quota[a] + even_quota[a] for a in agents}
    for lead in leads:
        with_quota = [a for a in agents if remaining[a] > 0 and team.fits(a, lead)]
        if with_quota:
            agent_id = min(with_quota, key=lambda a: (-remaining[a], -team.by_id[a].ability, a))
            remaining[agent_id] -= 1
            team.place(lead, agent_id, DistributionStrategy.ABILITY_WEIGHTED)
        else:
            # Every quota left belongs to agents who cannot take this lead: spill to the fewest open leads.
            team.place_or_leave(lead, team.fewest_open(lead), DistributionStrategy.EVEN_BY_OPEN)


# --------------------------------------------------------------------------------------------------
# Entry points


def distribute(leads: Sequence[LeadToPlace], candidates: Sequence[Candidate], strategy: DistributionStrategy, *,
               target_agent: str | None = None, round_robin_cursor: str | None = None,
               ability_share: float = 0.5) -> DistributionResult:
    """Places each lead with one agent of the team by `strategy` (see the module docstring for the rules).

    Raises ValueError for a call that cannot mean anything: SUPERVISOR without `target_agent`, `ability_share`
    outside [0, 1], two candidates or two leads with the same id. A strategy this module does not know leaves
    every lead unplaced ("unknown_strategy") rather than raising, so one bad team setting does not stop a run.
    Other strategies than ROUND_ROBIN return `round_robin_cursor` unchanged.
    """
    if len({lead.lead_id for lead in leads}) != len(leads):
        raise ValueError("leads must have distinct lead_ids")
    if not (math.isfinite(ability_share) and 0 <= ability_share <= 1):
        raise ValueError(f"ability_share must be within [0, 1], got {ability_share!r}")
    team = _Team(candidates)
    ordered = _best_first(leads)

    try:
        known = DistributionStrategy(strategy)
    except ValueError:
        known = None
    if known is DistributionStrategy.SUPERVISOR and target_agent is None:
        raise ValueError("the supervisor strategy needs a target_agent")

    cursor = round_robin_cursor
    if known is None:
        for lead in ordered:
            team.leave(lead, UNKNOWN_STRATEGY)
    elif not candidates:
        for lead in ordered:
            team.leave(lead, NO_ELIGIBLE_AGENT)
    elif known is DistributionStrategy.SUPERVISOR:
        assert target_agent is not None
        _supervisor(ordered, team, target_agent)
    elif known is DistributionStrategy.EVEN_BY_OPEN:
        _even_by_open(ordered, team)
    elif known is DistributionStrategy.BATCH_AVERAGE:
        _batch_average(ordered, team)
    elif known is DistributionStrategy.ROUND_ROBIN:
        cursor = _round_robin(ordered, team, round_robin_cursor)
    elif known is DistributionStrategy.ABILITY_WEIGHTED:
        _ability_weighted(ordered, team, Fraction(ability_share))
    elif known is DistributionStrategy.NEVER_PREVIOUS:
        _never_previous(ordered, team)
    elif known is DistributionStrategy.SAME_AGENT:
        _same_agent(ordered, team)
    elif known is DistributionStrategy.DEDICATED_AGENT:
        _named_agent(ordered, team, known, lambda lead: lead.dedicated_agent)
    else:  # a member added to the contract but not taught here yet
        for lead in ordered:
            team.leave(lead, UNKNOWN_STRATEGY)
    return DistributionResult(tuple(team.placements), tuple(team.unplaced), cursor)


@dataclass(frozen=True, slots=True)
class TeamRoute:
    """Which leads a team takes. Every set condition must hold; an empty one matches anything."""

    team_id: str
    business_line: str | None = None  # None matches any
    product_interests: frozenset[str] = frozenset()  # empty matches any; else lead's product_interest must be one
    regions: frozenset[str] = frozenset()  # empty matches any; else lead's region must START WITH one of them
    priority: int = 100  # lower first


def _fold(value: str | None) -> str:
    return value.strip().casefold() if value else ""


def _route_matches(route: TeamRoute, business_line: str, interest: str, region: str) -> bool:
    if route.business_line is not None and route.business_line != business_line:
        return False
    # A route that asks for an interest or a region does not take a lead that has none (blank entries match nothing).
    if route.product_interests and (not interest or interest not in {_fold(p) for p in route.product_interests}):
        return False
    if route.regions and not (region and any(_fold(r) and region.startswith(_fold(r)) for r in route.regions)):
        return False
    return True


def choose_team(routes: Sequence[TeamRoute], *, business_line: str, product_interest: str | None,
                region: str | None) -> str | None:
    """The team for a lead: the first matching route by (priority, team_id), None if no route matches.

    Product interests compare case-insensitively after stripping; regions match by prefix ("广东" takes
    "广东省深圳市"), also case-insensitively, so a province-level route covers its cities."""
    interest, place = _fold(product_interest), _fold(region)
    for route in sorted(routes, key=lambda r: (r.priority, r.team_id)):
        if _route_matches(route, business_line, interest, place):
            return route.team_id
    return None
