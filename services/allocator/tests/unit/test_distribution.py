"""Tests of team choice and the distribution strategies (allocator.distribution).

The hand-worked tests pin each strategy's exact choice; the property tests check the rules every strategy
shares (cap, exclusions, every lead exactly once, determinism) over generated teams and batches.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from allocator.distribution import (
    Candidate,
    DistributionResult,
    LeadToPlace,
    Placement,
    TeamRoute,
    Unplaced,
    choose_team,
    distribute,
)
from telesales_contracts.allocation import DistributionStrategy as S

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BIG = 1_000  # a cap that never binds


def leads(n: int, **kwargs: object) -> list[LeadToPlace]:
    """L1 is the best lead, Ln the worst."""
    return [LeadToPlace(f"L{i}", score=100 - i, **kwargs) for i in range(1, n + 1)]  # type: ignore[arg-type]


def assignment(result: DistributionResult) -> dict[str, str]:
    return {p.lead_id: p.agent_id for p in result.placements}


def by_agent(result: DistributionResult) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in result.placements:
        out.setdefault(p.agent_id, []).append(p.lead_id)
    return out


# --------------------------------------------------------------------------------------------------
# Rules shared by all strategies, by hand


def test_best_lead_goes_out_first_and_ties_break_by_lead_id() -> None:
    """With room for two, the two best leads must be the ones placed; equal scores go by lead_id."""
    batch = [LeadToPlace("z", 10), LeadToPlace("b", 50), LeadToPlace("a", 50), LeadToPlace("m", 90)]
    result = distribute(batch, [Candidate("x", open_leads=0, cap=2)], S.EVEN_BY_OPEN)
    assert [p.lead_id for p in result.placements] == ["m", "a"]
    assert result.unplaced == (Unplaced("b", "no_eligible_agent"), Unplaced("z", "no_eligible_agent"))


def test_empty_candidates_leave_every_lead_unplaced() -> None:
    """A team with nobody in it places nothing, whatever the strategy."""
    for strategy in S:
        result = distribute(leads(2), [], strategy, target_agent="x")
        assert result.placements == ()
        assert {u.reason for u in result.unplaced} == {"no_eligible_agent"}
        assert len(result.unplaced) == 2


def test_unknown_strategy_leaves_leads_unplaced_and_a_valid_string_is_accepted() -> None:
    """A bad team setting must not crash a run; a strategy stored as its plain value still works."""
    cands = [Candidate("a", 0, 5)]
    result = distribute(leads(2), cands, "lottery")  # type: ignore[arg-type]
    assert result.unplaced == (Unplaced("L1", "unknown_strategy"), Unplaced("L2", "unknown_strategy"))
    result = distribute(leads(1), cands, "even_by_open")  # type: ignore[arg-type]
    assert result.placements == (Placement("L1", "a", S.EVEN_BY_OPEN),)


def test_calls_that_mean_nothing_raise() -> None:
    """Duplicate ids or a share outside [0, 1] are caller bugs: better to fail loudly than to guess."""
    with pytest.raises(ValueError):
        distribute(leads(1), [Candidate("a", 0, 1), Candidate("a", 0, 1)], S.EVEN_BY_OPEN)
    with pytest.raises(ValueError):
        distribute([LeadToPlace("L", 1), LeadToPlace("L", 2)], [Candidate("a", 0, 5)], S.EVEN_BY_OPEN)
    with pytest.raises(ValueError):
        distribute(leads(1), [Candidate("a", 0, 5)], S.ABILITY_WEIGHTED, ability_share=1.5)
    with pytest.raises(ValueError):
        distribute(leads(1), [Candidate("a", 0, 5)], S.SUPERVISOR)


@pytest.mark.parametrize("kwargs", [{"open_leads": -1}, {"cap": -1}, {"ability": 0.0}, {"ability": float("nan")}])
def test_candidate_rejects_nonsense(kwargs: dict[str, float]) -> None:
    """Ability divides the ability share: zero or NaN would break it far from the cause."""
    fields: dict[str, float] = {"open_leads": 0, "cap": 1, "ability": 1.0} | kwargs
    with pytest.raises(ValueError):
        Candidate("a", **fields)  # type: ignore[arg-type]


def test_non_round_robin_strategies_pass_the_cursor_through() -> None:
    """The caller can persist the returned cursor whatever the strategy without losing the rotation."""
    result = distribute(leads(2), [Candidate("a", 0, 5), Candidate("b", 0, 5)], S.EVEN_BY_OPEN,
                        round_robin_cursor="b")
    assert result.round_robin_cursor == "b"


# --------------------------------------------------------------------------------------------------
# SUPERVISOR


def test_supervisor_fills_the_target_until_its_cap() -> None:
    """Cap 3 with 1 held leaves room for two: the two best go to t, the third is reported at cap."""
    cands = [Candidate("t", open_leads=1, cap=3), Candidate("u", open_leads=0, cap=9)]
    result = distribute(leads(3), cands, S.SUPERVISOR, target_agent="t")
    assert result.placements == (Placement("L1", "t", S.SUPERVISOR), Placement("L2", "t", S.SUPERVISOR))
    assert result.unplaced == (Unplaced("L3", "target_at_cap"),)


def test_supervisor_reports_why_a_lead_was_not_placed() -> None:
    """An excluded lead does not use the target's room, so the next lead still gets it."""
    cands = [Candidate("t", 0, 1)]
    batch = [LeadToPlace("L1", 90, excluded=frozenset({"t"})), LeadToPlace("L2", 80)]
    result = distribute(batch, cands, S.SUPERVISOR, target_agent="t")
    assert result.placements == (Placement("L2", "t", S.SUPERVISOR),)
    assert result.unplaced == (Unplaced("L1", "no_eligible_agent"),)

    result = distribute(leads(2), cands, S.SUPERVISOR, target_agent="ghost")
    assert result.unplaced == (Unplaced("L1", "target_not_in_team"), Unplaced("L2", "target_not_in_team"))


# --------------------------------------------------------------------------------------------------
# EVEN_BY_OPEN and NEVER_PREVIOUS


def test_even_by_open_counts_what_this_call_placed() -> None:
    """Held a3 b1 c2: L1 b (b=2), L2 b by agent_id over c (b=3), L3 c (c=3), L4 a by agent_id (all 3)."""
    cands = [Candidate("a", 3, 10), Candidate("b", 1, 10), Candidate("c", 2, 10)]
    result = distribute(leads(4), cands, S.EVEN_BY_OPEN)
    assert assignment(result) == {"L1": "b", "L2": "b", "L3": "c", "L4": "a"}
    assert {p.strategy for p in result.placements} == {S.EVEN_BY_OPEN}


def test_even_by_open_skips_agents_at_cap_and_excluded() -> None:
    """b holds fewest but is at cap; a is excluded for L1: L1 c, then L2 a (a=0 < c=1)."""
    cands = [Candidate("a", 0, 5), Candidate("b", 0, 0), Candidate("c", 0, 5)]
    batch = [LeadToPlace("L1", 90, excluded=frozenset({"a"})), LeadToPlace("L2", 80)]
    assert assignment(distribute(batch, cands, S.EVEN_BY_OPEN)) == {"L1": "c", "L2": "a"}


def test_never_previous_avoids_every_earlier_holder() -> None:
    """a holds fewest but held L1; c (1) beats b (5). L2 was held by a and c: only b is left.
    L3 was held by all three: nobody may get it."""
    cands = [Candidate("a", 0, 10), Candidate("b", 5, 10), Candidate("c", 1, 10)]
    batch = [
        LeadToPlace("L1", 90, previous_holders=frozenset({"a"})),
        LeadToPlace("L2", 80, previous_holders=frozenset({"a", "c"})),
        LeadToPlace("L3", 70, previous_holders=frozenset({"a", "b", "c"})),
    ]
    result = distribute(batch, cands, S.NEVER_PREVIOUS)
    assert result.placements == (Placement("L1", "c", S.NEVER_PREVIOUS), Placement("L2", "b", S.NEVER_PREVIOUS))
    assert result.unplaced == (Unplaced("L3", "no_eligible_agent"),)


def test_never_previous_also_avoids_the_last_holder() -> None:
    """The last holder is a previous holder even when the caller did not list it."""
    cands = [Candidate("a", 0, 10), Candidate("b", 3, 10)]
    result = distribute([LeadToPlace("L1", 50, last_holder="a")], cands, S.NEVER_PREVIOUS)
    assert assignment(result) == {"L1": "b"}


# --------------------------------------------------------------------------------------------------
# BATCH_AVERAGE


def test_batch_average_deals_in_snake_order_ignoring_what_agents_hold() -> None:
    """Order by held: b(0) c(2) a(5). Seven leads snake b c a | a c b | b: b gets 3, c and a 2 each,
    although a already holds the most: the batch itself is split evenly."""
    cands = [Candidate("a", 5, BIG), Candidate("b", 0, BIG), Candidate("c", 2, BIG)]
    result = distribute(leads(7), cands, S.BATCH_AVERAGE)
    assert by_agent(result) == {"b": ["L1", "L6", "L7"], "c": ["L2", "L5"], "a": ["L3", "L4"]}
    assert {p.strategy for p in result.placements} == {S.BATCH_AVERAGE}


def test_batch_average_skipped_agent_keeps_its_turn() -> None:
    """Turns a b b a. a is excluded for L1, so L1 takes b's turn and a takes the next lead: each still gets two."""
    cands = [Candidate("a", 0, BIG), Candidate("b", 0, BIG)]
    batch = [LeadToPlace("L1", 99, excluded=frozenset({"a"})), *leads(4)[1:]]
    result = distribute(batch, cands, S.BATCH_AVERAGE)
    assert by_agent(result) == {"b": ["L1", "L3"], "a": ["L2", "L4"]}


def test_batch_average_spills_when_an_agent_hits_its_cap() -> None:
    """Turns a b c c b a. a has room for one: its second turn is useless, so L6 goes to the agent with the
    fewest of this batch (b and c have two each; b is first in the order)."""
    cands = [Candidate("a", 0, 1), Candidate("b", 0, BIG), Candidate("c", 0, BIG)]
    result = distribute(leads(6), cands, S.BATCH_AVERAGE)
    assert by_agent(result) == {"a": ["L1"], "b": ["L2", "L5", "L6"], "c": ["L3", "L4"]}


def test_batch_average_spill_goes_to_the_fewest_of_this_batch() -> None:
    """Order a(0) b(1) c(2), turns a b c c b a a; c has room for one. L4 skips c's turn and takes b's, a takes
    its two, and L7 (only c's turn left) goes to b, who has fewer of this batch than a (2 < 3)."""
    cands = [Candidate("a", 0, BIG), Candidate("b", 1, BIG), Candidate("c", 2, 3)]
    result = distribute(leads(7), cands, S.BATCH_AVERAGE)
    assert by_agent(result) == {"a": ["L1", "L5", "L6"], "b": ["L2", "L4", "L7"], "c": ["L3"]}


def test_batch_average_leaves_out_agents_already_at_cap() -> None:
    """An agent at cap gets no turns, so the others share the batch evenly."""
    cands = [Candidate("a", 3, 3), Candidate("b", 0, BIG), Candidate("c", 0, BIG)]
    result = distribute(leads(4), cands, S.BATCH_AVERAGE)
    assert Counter(p.agent_id for p in result.placements) == {"b": 2, "c": 2}


# --------------------------------------------------------------------------------------------------
# ROUND_ROBIN


def test_round_robin_starts_after_the_cursor_and_wraps() -> None:
    """Cursor b: c, a, b, c; the new cursor is the last served, c."""
    cands = [Candidate("c", 0, BIG), Candidate("a", 0, BIG), Candidate("b", 0, BIG)]
    result = distribute(leads(4), cands, S.ROUND_ROBIN, round_robin_cursor="b")
    assert assignment(result) == {"L1": "c", "L2": "a", "L3": "b", "L4": "c"}
    assert result.round_robin_cursor == "c"


def test_round_robin_skips_full_and_excluded_agents() -> None:
    """No cursor: L1 a; b is excluded for L2, so c (b loses that turn); L3 a, L4 b; c is full after one,
    so L5 goes round to a."""
    cands = [Candidate("a", 0, BIG), Candidate("b", 0, BIG), Candidate("c", 0, 1)]
    batch = [LeadToPlace("L1", 99), LeadToPlace("L2", 98, excluded=frozenset({"b"})), *leads(5)[2:]]
    result = distribute(batch, cands, S.ROUND_ROBIN)
    assert assignment(result) == {"L1": "a", "L2": "c", "L3": "a", "L4": "b", "L5": "a"}
    assert result.round_robin_cursor == "a"


def test_round_robin_unknown_cursor_starts_from_the_first_agent() -> None:
    """A cursor of an agent who left the team restarts the rotation at the first agent_id."""
    cands = [Candidate("a", 0, BIG), Candidate("b", 0, BIG)]
    result = distribute(leads(1), cands, S.ROUND_ROBIN, round_robin_cursor="zed")
    assert assignment(result) == {"L1": "a"}


def test_round_robin_keeps_the_cursor_when_nothing_is_placed() -> None:
    """A failed turn must not move the rotation, or the next call would skip someone."""
    result = distribute(leads(1), [Candidate("a", 1, 1)], S.ROUND_ROBIN, round_robin_cursor="a")
    assert result.placements == ()
    assert result.round_robin_cursor == "a"


# --------------------------------------------------------------------------------------------------
# ABILITY_WEIGHTED


def test_ability_weighted_gives_more_and_better_leads_to_stronger_agents() -> None:
    """8 leads, share 0.5: ability part 4 split 1:3 -> a1 b3; even part 4 -> a2 b2; quotas a3 b5.
    Largest remaining quota first, ties to higher ability (not agent_id): b b b(3=3) a b(2=2) a b(1=1) a."""
    cands = [Candidate("a", 0, BIG, ability=1.0), Candidate("b", 0, BIG, ability=3.0)]
    result = distribute(leads(8), cands, S.ABILITY_WEIGHTED)
    assert by_agent(result) == {"b": ["L1", "L2", "L3", "L5", "L7"], "a": ["L4", "L6", "L8"]}
    assert {p.strategy for p in result.placements} == {S.ABILITY_WEIGHTED}


def test_ability_weighted_largest_remainder_quotas() -> None:
    """5 leads, share 0.5 -> 3 by ability (2.5 rounds half up). Abilities 2:1:1 give 1.5, .75, .75:
    floors 1 0 0, the two left go to the largest remainders b and c -> 1 1 1. Even part 2 -> a b (agent_id).
    Quotas a2 b2 c1. Deal: a (tie, ability) b a (three-way tie, ability) b (tie b/c by agent_id) c."""
    cands = [Candidate("a", 0, BIG, ability=2.0), Candidate("b", 0, BIG, ability=1.0), Candidate("c", 0, BIG)]
    result = distribute(leads(5), cands, S.ABILITY_WEIGHTED)
    assert by_agent(result) == {"a": ["L1", "L3"], "b": ["L2", "L4"], "c": ["L5"]}


def test_ability_weighted_rounds_the_ability_part_half_up() -> None:
    """One lead at share 0.5 is 0.5 by ability: half up makes it an ability lead, so the stronger b gets it
    (Python's round would make it an even lead and give it to a by agent_id)."""
    cands = [Candidate("a", 0, BIG, ability=1.0), Candidate("b", 0, BIG, ability=5.0)]
    assert assignment(distribute(leads(1), cands, S.ABILITY_WEIGHTED)) == {"L1": "b"}


def test_ability_weighted_share_zero_is_even_and_share_one_is_pure_ability() -> None:
    """The share is the knob between 'even' and 'by ability'."""
    cands = [Candidate("a", 0, BIG, ability=3.0), Candidate("b", 0, BIG, ability=1.0)]
    even = distribute(leads(4), cands, S.ABILITY_WEIGHTED, ability_share=0.0)
    assert Counter(p.agent_id for p in even.placements) == {"a": 2, "b": 2}
    pure = distribute(leads(4), cands, S.ABILITY_WEIGHTED, ability_share=1.0)
    assert Counter(p.agent_id for p in pure.placements) == {"a": 3, "b": 1}


def test_ability_weighted_quota_spills_when_the_strong_agent_is_full() -> None:
    """Quotas a3 b1 (4 leads, share 1, 3:1) but a has room for one: L1 a, L2 b (only quota left that fits),
    then no quota fits -> fewest open leads (b 1 < c 2), then b=2 vs c=2 -> b by agent_id."""
    cands = [Candidate("a", 0, 1, ability=3.0), Candidate("b", 0, BIG, ability=1.0)]
    extra = Candidate("c", 2, BIG, ability=0.000001)  # too weak to get an ability lead; takes spill only
    result = distribute(leads(4), [*cands, extra], S.ABILITY_WEIGHTED, ability_share=1.0)
    assert result.placements == (
        Placement("L1", "a", S.ABILITY_WEIGHTED),
        Placement("L2", "b", S.ABILITY_WEIGHTED),
        Placement("L3", "b", S.EVEN_BY_OPEN),
        Placement("L4", "b", S.EVEN_BY_OPEN),
    )


# --------------------------------------------------------------------------------------------------
# SAME_AGENT and DEDICATED_AGENT


def test_same_agent_returns_the_lead_to_its_last_holder() -> None:
    """b holds more than a, but the lead goes back to b, who knows the customer."""
    cands = [Candidate("a", 0, 5), Candidate("b", 4, 5)]
    result = distribute([LeadToPlace("L1", 50, last_holder="b")], cands, S.SAME_AGENT)
    assert result.placements == (Placement("L1", "b", S.SAME_AGENT),)


@pytest.mark.parametrize(
    "lead",
    [
        LeadToPlace("L1", 50, last_holder="b", excluded=frozenset({"b"})),  # in a cooldown
        LeadToPlace("L1", 50, last_holder="gone"),  # left the team
        LeadToPlace("L1", 50),  # never held
    ],
)
def test_same_agent_falls_back_to_even_by_open_and_says_so(lead: LeadToPlace) -> None:
    """When the last holder cannot take it, the fewest open leads (a) does, and the placement says so."""
    cands = [Candidate("a", 0, 5), Candidate("b", 4, 5)]
    result = distribute([lead], cands, S.SAME_AGENT)
    assert result.placements == (Placement("L1", "a", S.EVEN_BY_OPEN),)


def test_same_agent_falls_back_once_the_holder_is_full() -> None:
    """b has room for one: the best of its two returned leads stays with b, the other goes to a."""
    cands = [Candidate("a", 0, 5), Candidate("b", 4, 5)]
    result = distribute(leads(2, last_holder="b"), cands, S.SAME_AGENT)
    assert result.placements == (Placement("L1", "b", S.SAME_AGENT), Placement("L2", "a", S.EVEN_BY_OPEN))


def test_dedicated_agent_gets_its_customer_and_falls_back_otherwise() -> None:
    """L1 to its dedicated agent c; L2's dedicated agent is at cap and L3 has none: both to the fewest open."""
    cands = [Candidate("a", 1, 5), Candidate("b", 0, 5), Candidate("c", 3, 5), Candidate("d", 2, 2)]
    batch = [
        LeadToPlace("L1", 90, dedicated_agent="c", last_holder="a"),
        LeadToPlace("L2", 80, dedicated_agent="d"),
        LeadToPlace("L3", 70),
    ]
    result = distribute(batch, cands, S.DEDICATED_AGENT)
    assert result.placements == (
        Placement("L1", "c", S.DEDICATED_AGENT),
        Placement("L2", "b", S.EVEN_BY_OPEN),
        Placement("L3", "a", S.EVEN_BY_OPEN),  # a 1 vs b 1 after L2: agent_id
    )


# --------------------------------------------------------------------------------------------------
# Properties over generated teams and batches

AGENT_IDS = ["a", "b", "c", "d", "e", "f"]
ids_subset = st.frozensets(st.sampled_from([*AGENT_IDS, "ghost"]), max_size=3)


@st.composite
def teams(draw: st.DrawFn, max_cap: int = 8) -> list[Candidate]:
    ids = draw(st.lists(st.sampled_from(AGENT_IDS), unique=True, max_size=len(AGENT_IDS)))
    return [
        Candidate(a, open_leads=draw(st.integers(0, 6)), cap=draw(st.integers(0, max_cap)),
                  ability=draw(st.sampled_from([0.5, 1.0, 1.5, 2.0, 3.0, 7.25])))
        for a in ids
    ]


@st.composite
def batches(draw: st.DrawFn, plain: bool = False) -> list[LeadToPlace]:
    """Unique lead ids, scores with many ties; `plain` leaves out exclusions and history."""
    n = draw(st.integers(0, 25))
    out = []
    for i in range(n):
        if plain:
            out.append(LeadToPlace(f"L{i:02d}", draw(st.integers(0, 5))))
            continue
        out.append(LeadToPlace(
            f"L{i:02d}", draw(st.integers(0, 5)),
            previous_holders=draw(ids_subset),
            last_holder=draw(st.none() | st.sampled_from([*AGENT_IDS, "ghost"])),
            dedicated_agent=draw(st.none() | st.sampled_from([*AGENT_IDS, "ghost"])),
            excluded=draw(ids_subset),
        ))
    return out


def run(batch: Sequence[LeadToPlace], cands: Sequence[Candidate], strategy: S, target: str,
        cursor: str | None, share: float) -> DistributionResult:
    return distribute(batch, cands, strategy, target_agent=target, round_robin_cursor=cursor, ability_share=share)


call_args = {
    "batch": batches(),
    "cands": teams(),
    "strategy": st.sampled_from(list(S)),
    "target": st.sampled_from([*AGENT_IDS, "ghost"]),
    "cursor": st.none() | st.sampled_from([*AGENT_IDS, "ghost"]),
    "share": st.sampled_from([0.0, 0.25, 0.5, 0.7, 1.0]),
}


@given(**call_args)
@FAST
def test_every_lead_comes_back_exactly_once(batch: list[LeadToPlace], cands: list[Candidate], strategy: S,
                                            target: str, cursor: str | None, share: float) -> None:
    """A lead lost or placed twice would be a customer nobody calls or two agents calling the same one."""
    result = run(batch, cands, strategy, target, cursor, share)
    out = [p.lead_id for p in result.placements] + [u.lead_id for u in result.unplaced]
    assert sorted(out) == sorted(lead.lead_id for lead in batch)
    assert {u.reason for u in result.unplaced} <= {"no_eligible_agent", "target_at_cap", "target_not_in_team"}


@given(**call_args)
@FAST
def test_never_over_cap_never_excluded_never_outside_the_team(
        batch: list[LeadToPlace], cands: list[Candidate], strategy: S, target: str, cursor: str | None,
        share: float) -> None:
    """Caps and cooldowns are promises to agents and customers; no strategy may break them."""
    result = run(batch, cands, strategy, target, cursor, share)
    by_id = {c.agent_id: c for c in cands}
    lead_by_id = {lead.lead_id: lead for lead in batch}
    for agent_id, count in Counter(p.agent_id for p in result.placements).items():
        assert agent_id in by_id
        assert by_id[agent_id].open_leads + count <= by_id[agent_id].cap
    for p in result.placements:
        assert p.agent_id not in lead_by_id[p.lead_id].excluded


@given(**call_args)
@FAST
def test_placements_follow_the_strategy_rules(batch: list[LeadToPlace], cands: list[Candidate], strategy: S,
                                              target: str, cursor: str | None, share: float) -> None:
    """Each strategy's hard rule: never a previous holder, supervisor only to the target, and only the named-agent
    strategies and the ability spill may fall back to EVEN_BY_OPEN."""
    result = run(batch, cands, strategy, target, cursor, share)
    lead_by_id = {lead.lead_id: lead for lead in batch}
    for p in result.placements:
        lead = lead_by_id[p.lead_id]
        assert p.strategy in {strategy, S.EVEN_BY_OPEN}
        if strategy in {S.SUPERVISOR, S.ROUND_ROBIN, S.BATCH_AVERAGE, S.NEVER_PREVIOUS}:
            assert p.strategy is strategy
        if strategy is S.SUPERVISOR:
            assert p.agent_id == target
        if strategy is S.NEVER_PREVIOUS:
            assert p.agent_id not in lead.previous_holders and p.agent_id != lead.last_holder
        if p.strategy is S.SAME_AGENT:
            assert p.agent_id == lead.last_holder
        if p.strategy is S.DEDICATED_AGENT:
            assert p.agent_id == lead.dedicated_agent


@given(**call_args)
@FAST
def test_no_lead_is_left_while_someone_could_take_it(batch: list[LeadToPlace], cands: list[Candidate],
                                                     strategy: S, target: str, cursor: str | None,
                                                     share: float) -> None:
    """Except for a supervisor's named agent, a lead is unplaced only if every agent is barred or full at the
    end (rooms only shrink during a call, so full at the end means full when the lead was tried)."""
    if strategy is S.SUPERVISOR:
        return
    result = run(batch, cands, strategy, target, cursor, share)
    held = Counter({c.agent_id: c.open_leads for c in cands}) + Counter(p.agent_id for p in result.placements)
    lead_by_id = {lead.lead_id: lead for lead in batch}
    for u in result.unplaced:
        lead = lead_by_id[u.lead_id]
        barred = set(lead.excluded)
        if strategy is S.NEVER_PREVIOUS:
            barred |= lead.previous_holders | {lead.last_holder}
        assert all(c.agent_id in barred or held[c.agent_id] >= c.cap for c in cands)


@given(data=st.data(), **call_args)
@FAST
def test_same_input_same_output_in_any_input_order(data: st.DataObject, batch: list[LeadToPlace],
                                                   cands: list[Candidate], strategy: S, target: str,
                                                   cursor: str | None, share: float) -> None:
    """Retries and replays must place leads the same way, whatever order the database returned rows in."""
    result = run(batch, cands, strategy, target, cursor, share)
    assert run(batch, cands, strategy, target, cursor, share) == result
    shuffled = run(data.draw(st.permutations(batch)), data.draw(st.permutations(cands)), strategy, target,
                   cursor, share)
    assert shuffled == result


@given(batch=batches(plain=True), cands=teams(max_cap=0))
@FAST
def test_batch_average_splits_evenly_when_no_cap_binds(batch: list[LeadToPlace], cands: list[Candidate]) -> None:
    """The point of 批次平均: each agent gets floor(n/k) or ceil(n/k) of the batch, whatever it already holds."""
    cands = [Candidate(c.agent_id, c.open_leads, cap=BIG) for c in cands]
    result = distribute(batch, cands, S.BATCH_AVERAGE)
    if not cands:
        return
    counts = Counter({c.agent_id: 0 for c in cands})
    counts.update(p.agent_id for p in result.placements)
    n, k = len(batch), len(cands)
    assert set(counts.values()) <= {n // k, -(-n // k)}
    assert sum(counts.values()) == n


@given(batch=batches(plain=True), cands=teams(), cursor=st.none() | st.sampled_from(AGENT_IDS))
@FAST
def test_round_robin_serves_in_agent_id_rotation(batch: list[LeadToPlace], cands: list[Candidate],
                                                 cursor: str | None) -> None:
    """With nothing excluded each placement goes to the next agent with room after the previous one,
    and the returned cursor is the last agent served."""
    result = distribute(batch, cands, S.ROUND_ROBIN, round_robin_cursor=cursor)
    ids = sorted(c.agent_id for c in cands)
    held = {c.agent_id: c.open_leads for c in cands}
    cap = {c.agent_id: c.cap for c in cands}
    last = cursor
    for p in result.placements:
        start = ids.index(last) + 1 if last in ids else 0
        rotation = [ids[(start + i) % len(ids)] for i in range(len(ids))]
        assert p.agent_id == next(a for a in rotation if held[a] < cap[a])
        held[p.agent_id] += 1
        last = p.agent_id
    assert result.round_robin_cursor == last


@given(batch=batches(plain=True), cands=teams(max_cap=0), share=st.sampled_from([0.0, 0.3, 0.5, 1.0]))
@FAST
def test_ability_weighted_never_favours_the_weaker_agent_by_more_than_one(
        batch: list[LeadToPlace], cands: list[Candidate], share: float) -> None:
    """Stronger agents get at least as many ability leads; only the even part's remainder (one lead at most)
    can tip a weaker agent ahead. Without a share all counts are within one."""
    cands = [Candidate(c.agent_id, c.open_leads, BIG, c.ability) for c in cands]
    result = distribute(batch, cands, S.ABILITY_WEIGHTED, ability_share=share)
    if not cands:
        return
    counts = Counter({c.agent_id: 0 for c in cands})
    counts.update(p.agent_id for p in result.placements)
    assert sum(counts.values()) == len(batch)
    assert {p.strategy for p in result.placements} <= {S.ABILITY_WEIGHTED}
    for strong in cands:
        for weak in cands:
            if strong.ability > weak.ability:
                assert counts[strong.agent_id] >= counts[weak.agent_id] - 1
    if share == 0.0:
        assert max(counts.values()) - min(counts.values()) <= 1


# --------------------------------------------------------------------------------------------------
# choose_team

ROUTES = [
    TeamRoute("catch_all", priority=1_000),
    TeamRoute("edu_south", business_line="edu", regions=frozenset({"广东", "广西"}), priority=10),
    TeamRoute("edu_ielts", business_line="edu", product_interests=frozenset({"IELTS", " toefl "}), priority=5),
    TeamRoute("edu_any", business_line="edu", priority=50),
]


def test_choose_team_takes_the_first_matching_route_by_priority() -> None:
    """IELTS in 广东 matches three edu routes; the priority-5 one wins."""
    assert choose_team(ROUTES, business_line="edu", product_interest="ielts", region="广东省深圳市") == "edu_ielts"


def test_choose_team_matches_interest_case_insensitively_and_region_by_prefix() -> None:
    """Interests come from forms typed by people; regions come as province+city, routes name the province."""
    assert choose_team(ROUTES, business_line="edu", product_interest="  TOEFL ", region=None) == "edu_ielts"
    assert choose_team(ROUTES, business_line="edu", product_interest="piano", region="广西南宁") == "edu_south"
    assert choose_team(ROUTES, business_line="edu", product_interest="piano", region="深圳广东") == "edu_any"


def test_choose_team_does_not_match_a_condition_on_a_missing_value() -> None:
    """A route for certain products must not take a lead whose interest is unknown (same for regions)."""
    assert choose_team(ROUTES, business_line="edu", product_interest=None, region=None) == "edu_any"
    assert choose_team(ROUTES, business_line="edu", product_interest="   ", region="") == "edu_any"


def test_choose_team_business_line_must_match_unless_the_route_takes_any() -> None:
    assert choose_team(ROUTES, business_line="loans", product_interest="ielts", region="广东") == "catch_all"
    assert choose_team(ROUTES[1:], business_line="loans", product_interest="ielts", region="广东") is None
    assert choose_team([], business_line="edu", product_interest=None, region=None) is None


def test_choose_team_ties_in_priority_break_by_team_id() -> None:
    """Two equally ranked routes must always resolve the same way, whatever order they were stored in."""
    routes = [TeamRoute("zeta"), TeamRoute("alpha")]
    assert choose_team(routes, business_line="x", product_interest=None, region=None) == "alpha"
    assert choose_team(routes[::-1], business_line="x", product_interest=None, region=None) == "alpha"
