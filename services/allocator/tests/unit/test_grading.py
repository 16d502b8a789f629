"""Weekly agent grades (allocator.grading): hand-computed weeks, boundaries and ties, properties, ISO weeks."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from allocator.grading import (
    GradeDecision,
    GradingPolicy,
    WeekResult,
    grade_week,
    iso_week,
    previous_week,
    week_bounds,
)
from telesales_contracts.roster import AGENT_GRADES, AgentGraded

SHANGHAI = ZoneInfo("Asia/Shanghai")
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def yuan(amount: float) -> int:
    return round(amount * 100)


def grades_of(decisions: list[GradeDecision]) -> dict[str, str]:
    return {d.agent_id: d.grade for d in decisions}


def grade_string(decisions: list[GradeDecision]) -> str:
    return "".join(d.grade for d in decisions)


def by_id(decisions: list[GradeDecision]) -> dict[str, GradeDecision]:
    return {d.agent_id: d for d in decisions}


# Only the rules under test, the rest switched off: no A, no B..D, no promotion.
NOTHING = {"a_top_n": 0, "a_min_sales_fen": None, "b_share": 0, "c_share": 0, "d_share": 0, "e_promote_share": 0}


def policy(**changes: object) -> GradingPolicy:
    return GradingPolicy(**{**NOTHING, **changes})


# --- Hand-computed weeks under the default policy -------------------------------------------------------------


def test_default_policy_is_the_floor_practice() -> None:
    p = GradingPolicy()
    assert (p.a_top_n, p.a_min_sales_fen) == (15, yuan(3000))
    assert (p.b_share, p.c_share, p.d_share, p.e_promote_share) == (0.20, 0.30, 0.30, 0.10)


def test_strong_week_everyone_over_3000_yuan_is_a_even_beyond_the_top_15() -> None:
    # 20 agents; 17 sold at least 3,000 yuan, the 17th exactly 3,000.00.
    sales = [12000, 9500, 8000, 8000, 6000, 6000, 5000, 4500, 4000, 3800, 3600, 3500, 3400, 3300, 3200, 3100, 3000]
    deals = [5, 4, 6, 3, 2, 2, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 1]
    week = [WeekResult(f"a{i + 1:02d}", yuan(s), d) for i, (s, d) in enumerate(zip(sales, deals, strict=True))]
    week += [
        WeekResult("a18", yuan(2999.99), 4),  # one fen short of A
        WeekResult("a19", yuan(500), 1),
        WeekResult("a20", 0, 0),  # sold nothing
    ]
    decisions = grade_week(week, GradingPolicy(), {})

    # n = 20: B's count is round(0.2 * 20) = 4, but only a18 and a19 are left with sales; a20 is E and,
    # having no sales, is not promoted.
    assert grade_string(decisions) == "A" * 17 + "BB" + "E"
    assert [d.agent_id for d in decisions] == [f"a{i:02d}" for i in range(1, 21)]
    # 8,000 yuan each: a03 has more deals so ranks ahead; a05 and a06 tie completely and share rank 5.
    assert [d.rank for d in decisions] == [1, 2, 3, 4, 5, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]
    assert all(d.agents_ranked == 20 for d in decisions)
    assert not any(d.promoted_from_e for d in decisions)
    a17 = by_id(decisions)["a17"]
    assert (a17.grade, a17.rank, a17.sales_fen, a17.deals) == ("A", 17, 300_000, 1)


def test_ordinary_week_top_15_are_a_even_under_3000_yuan_and_a_tie_at_15_stays_a() -> None:
    # 20 agents, nobody near 3,000 yuan except the best two. Ranks 15 and 16 are a complete tie.
    sales = [4000, 3100, 2900, 2800, 2700, 2600, 2500, 2400, 2300, 2200, 2100, 2000, 1900, 1800, 1700, 1700,
             1600, 1500, 1400, 1300]  # fmt: skip
    week = [WeekResult(f"a{i + 1:02d}", yuan(s), 2) for i, s in enumerate(sales)]
    decisions = grade_week(week, GradingPolicy(), {})
    # A: ranks 1..15 plus a16, tied with a15 at rank 15. B: the next 4 (round(0.2 * 20)). C takes
    # what is left of its 6. D and E get nobody.
    assert grade_string(decisions) == "A" * 16 + "BBBB"
    assert [d.rank for d in decisions][14:] == [15, 15, 17, 18, 19, 20]


def test_hundred_agent_floor_has_every_grade_and_one_promotion() -> None:
    # Sales 1,000 yuan down to 10 yuan in steps of 10 yuan: nobody reaches 3,000 yuan.
    week = [WeekResult(f"a{i:03d}", (101 - i) * 1000, 1) for i in range(1, 101)]
    decisions = grade_week(week, GradingPolicy(), {})
    # A = 15, B = 20, C = 30, D = 30, E = the last 5; ceil(0.1 * 5) = 1 of them, a096, moves up to D.
    assert Counter(d.grade for d in decisions) == {"A": 15, "B": 20, "C": 30, "D": 31, "E": 4}
    assert grade_string(decisions) == "A" * 15 + "B" * 20 + "C" * 30 + "D" * 31 + "E" * 4
    promoted = [d.agent_id for d in decisions if d.promoted_from_e]
    assert promoted == ["a096"]
    assert by_id(decisions)["a095"].promoted_from_e is False


def test_small_a_shows_every_share_and_the_promotion() -> None:
    week = [WeekResult(f"a{i:02d}", (21 - i) * 10_000, 1) for i in range(1, 21)]
    decisions = grade_week(week, GradingPolicy(a_top_n=2, a_min_sales_fen=None), {})
    # A 2, B 4, C 6, D 6, E 2; ceil(0.1 * 2) = 1 moves up: a19.
    assert grade_string(decisions) == "AABBBBCCCCCCDDDDDDDE"
    assert [d.agent_id for d in decisions if d.promoted_from_e] == ["a19"]
    assert by_id(decisions)["a20"].grade == "E"


# --- A ----------------------------------------------------------------------------------------------------------


def test_a_min_sales_is_inclusive_and_one_fen_below_is_not_a() -> None:
    week = [WeekResult("at", 300_000, 1), WeekResult("below", 299_999, 9)]
    assert grades_of(grade_week(week, policy(a_min_sales_fen=300_000), {})) == {"at": "A", "below": "E"}


def test_a_min_sales_none_leaves_only_the_top_n() -> None:
    week = [WeekResult(f"x{i}", 10_000_000 - i, 1) for i in range(5)]
    with_rule = grade_week(week, policy(a_top_n=2, a_min_sales_fen=300_000), {})
    without = grade_week(week, policy(a_top_n=2, a_min_sales_fen=None), {})
    assert grade_string(with_rule) == "AAAAA"
    assert grade_string(without) == "AAEEE"


def test_a_requires_both_or_either_is_the_tenants_reading_of_seed_002() -> None:
    # a slow week (top 2 under 3,000 yuan) and a strong one (beyond the top 2 over 3,000 yuan)
    slow = [WeekResult("s1", yuan(2500), 3), WeekResult("s2", yuan(1000), 1), WeekResult("s3", yuan(500), 1)]
    strong = [WeekResult(f"x{i}", yuan(5000) - i, 1) for i in range(4)]
    either, both = policy(a_top_n=2, a_min_sales_fen=yuan(3000)), policy(a_top_n=2, a_min_sales_fen=yuan(3000),
                                                                        a_requires="both")
    assert grade_string(grade_week(slow, either, {})) == "AAE"
    assert grade_string(grade_week(slow, both, {})) == "EEE"  # top 2, but nobody reached 3,000 yuan
    assert grade_string(grade_week(strong, either, {})) == "AAAA"
    assert grade_string(grade_week(strong, both, {})) == "AAEE"  # over 3,000 yuan, but only the top 2
    assert GradingPolicy().a_requires == "either"  # the floor's practice so far


def test_a_requires_both_without_a_threshold_is_the_top_n() -> None:
    week = [WeekResult(f"x{i}", yuan(100) - i, 1) for i in range(3)]
    assert grade_string(grade_week(week, policy(a_top_n=2, a_requires="both"), {})) == "AAE"
    with pytest.raises(ValidationError):
        GradingPolicy(a_requires="neither")  # type: ignore[arg-type]


def test_a_top_n_zero_and_no_threshold_means_no_a() -> None:
    week = [WeekResult("big", 10**9, 100), WeekResult("small", 1, 1)]
    decisions = grade_week(week, policy(a_top_n=0, a_min_sales_fen=None, b_share=0.5), {})
    assert grades_of(decisions) == {"big": "B", "small": "E"}


def test_zero_sales_is_never_a_even_in_the_top_n_or_with_a_zero_threshold() -> None:
    week = [WeekResult("seller", 100, 1), WeekResult("deals_but_no_money", 0, 3), WeekResult("idle", 0, 0)]
    decisions = grade_week(week, policy(a_top_n=15, a_min_sales_fen=0), {})
    assert grades_of(decisions) == {"seller": "A", "deals_but_no_money": "E", "idle": "E"}
    assert [d.rank for d in decisions] == [1, 2, 3]


def test_tie_at_the_a_boundary_all_get_a() -> None:
    week = [WeekResult("p", 900, 3), WeekResult("q", 800, 2), WeekResult("r", 800, 2), WeekResult("s", 800, 1)]
    decisions = grade_week(week, policy(a_top_n=2), {})
    assert grades_of(decisions) == {"p": "A", "q": "A", "r": "A", "s": "E"}
    assert [d.rank for d in decisions] == [1, 2, 2, 4]


def test_deals_break_a_sales_tie() -> None:
    week = [WeekResult("fewer", 5000, 1), WeekResult("more", 5000, 2)]
    decisions = grade_week(week, policy(a_top_n=1), {})
    assert [(d.agent_id, d.rank, d.grade) for d in decisions] == [("more", 1, "A"), ("fewer", 2, "E")]


# --- B, C, D ----------------------------------------------------------------------------------------------------


def test_shares_are_counts_of_all_ranked_agents_rounded_half_up() -> None:
    # n = 10: 0.25 * 10 = 2.5 -> 3 (not banker's 2), 0.15 * 10 = 1.5 -> 2, 0.34 * 10 = 3.4 -> 3.
    week = [WeekResult(f"a{i:02d}", 1000 - i, 1) for i in range(10)]
    decisions = grade_week(week, policy(b_share=0.25, c_share=0.15, d_share=0.34), {})
    assert grade_string(decisions) == "BBBCCDDDEE"


def test_share_rounding_is_done_on_the_share_as_written() -> None:
    # 0.29 * 50 is 14.499999999999998 in binary floating point; as written it is 14.5 -> 15.
    week = [WeekResult(f"a{i:02d}", 1000 - i, 1) for i in range(50)]
    decisions = grade_week(week, policy(b_share=0.29), {})
    assert Counter(d.grade for d in decisions)["B"] == 15


def test_when_a_takes_more_than_its_place_b_still_gets_its_count_after_a() -> None:
    # n = 10: A takes 8 (top 8), B's count is 2 and it gets both remaining; C and D get nobody.
    week = [WeekResult(f"a{i:02d}", 1000 - i, 1) for i in range(10)]
    decisions = grade_week(week, policy(a_top_n=8, b_share=0.2, c_share=0.3, d_share=0.3), {})
    assert grade_string(decisions) == "AAAAAAAABB"
    # A takes 9: B's count is still 2 but only one agent remains.
    decisions = grade_week(week, policy(a_top_n=9, b_share=0.2, c_share=0.3, d_share=0.3), {})
    assert grade_string(decisions) == "AAAAAAAAAB"


def test_a_tie_straddling_a_share_boundary_joins_the_better_grade_and_the_next_grade_starts_after_it() -> None:
    # n = 6, B's count 1 but b1 and b2 tie: both B. C's count 2 is taken in full after them.
    week = [
        WeekResult("b1", 900, 2),
        WeekResult("b2", 900, 2),
        WeekResult("c1", 800, 1),
        WeekResult("c2", 700, 1),
        WeekResult("e1", 600, 1),
        WeekResult("e2", 500, 1),
    ]
    decisions = grade_week(week, policy(b_share=1 / 6, c_share=2 / 6), {})
    assert grades_of(decisions) == {"b1": "B", "b2": "B", "c1": "C", "c2": "C", "e1": "E", "e2": "E"}


def test_zero_sales_go_to_e_regardless_of_shares() -> None:
    week = [WeekResult("s1", 100, 1), WeekResult("z1", 0, 5), WeekResult("z2", 0, 0)]
    decisions = grade_week(week, policy(b_share=0.4, c_share=0.3, d_share=0.3, e_promote_share=1), {})
    assert grades_of(decisions) == {"s1": "B", "z1": "E", "z2": "E"}
    assert not any(d.promoted_from_e for d in decisions)


def test_zero_shares_give_nobody_that_grade() -> None:
    week = [WeekResult("x", 100, 1), WeekResult("y", 100, 1)]
    assert grade_string(grade_week(week, policy(c_share=0.5), {})) == "CC"
    assert grade_string(grade_week(week, policy(), {})) == "EE"


# --- Promotion from E -------------------------------------------------------------------------------------------


def test_promotion_count_is_a_ceiling_of_the_share_as_written() -> None:
    # 0.14 * 50 is 7.000000000000001 in binary floating point; ceil must give 7, not 8.
    week = [WeekResult(f"a{i:02d}", 1000 - i, 1) for i in range(50)]
    decisions = grade_week(week, policy(e_promote_share=0.14), {})
    promoted = [d.agent_id for d in decisions if d.promoted_from_e]
    assert promoted == [f"a{i:02d}" for i in range(7)]
    assert all(d.grade == "D" for d in decisions if d.promoted_from_e)
    # ceil(0.1 * 11) = 2: a partial agent rounds up.
    decisions = grade_week(week[:11], policy(e_promote_share=0.1), {})
    assert sum(d.promoted_from_e for d in decisions) == 2


def test_promotion_counts_all_of_e_but_moves_only_agents_with_sales() -> None:
    # 11 E agents, 2 with sales: ceil(0.1 * 11) = 2, both with sales move. With 10 E agents ceil(1.0) = 1.
    week = [WeekResult("s1", 200, 1), WeekResult("s2", 100, 1)] + [WeekResult(f"z{i}", 0, 0) for i in range(9)]
    decisions = grade_week(week, policy(e_promote_share=0.1), {})
    assert {d.agent_id for d in decisions if d.promoted_from_e} == {"s1", "s2"}
    decisions = grade_week(week[:-1], policy(e_promote_share=0.1), {})
    assert {d.agent_id for d in decisions if d.promoted_from_e} == {"s1"}
    assert by_id(decisions)["s2"].grade == "E"
    # A share larger than the E agents with sales moves them all and no one else.
    decisions = grade_week(week, policy(e_promote_share=1), {})
    assert {d.agent_id for d in decisions if d.grade == "D"} == {"s1", "s2"}


def test_tie_at_the_promotion_boundary_all_move() -> None:
    week = [WeekResult("d", 900, 1), WeekResult("t1", 500, 2), WeekResult("t2", 500, 2), WeekResult("last", 400, 2)]
    decisions = grade_week(week, policy(d_share=0.25, e_promote_share=0.1), {})
    # n = 4: D gets 1. E = 3 agents: ceil(0.3) = 1, but t1 and t2 tie so both move.
    assert grades_of(decisions) == {"d": "D", "t1": "D", "t2": "D", "last": "E"}
    flags = {d.agent_id: d.promoted_from_e for d in decisions}
    assert flags == {"d": False, "t1": True, "t2": True, "last": False}


def test_no_promotion_with_a_zero_share_or_an_empty_e() -> None:
    week = [WeekResult(f"a{i}", 100 - i, 1) for i in range(5)]
    assert not any(d.promoted_from_e for d in grade_week(week, policy(e_promote_share=0), {}))
    everyone_a = grade_week(week, policy(a_top_n=5, e_promote_share=1), {})
    assert grade_string(everyone_a) == "AAAAA"
    assert not any(d.promoted_from_e for d in everyone_a)


# --- Output -----------------------------------------------------------------------------------------------------


def test_empty_week_gives_no_decisions() -> None:
    assert grade_week([], GradingPolicy(), {"someone": "A"}) == []


def test_single_agent() -> None:
    [only] = grade_week([WeekResult("solo", 1, 1, team_id="t")], GradingPolicy(), {"solo": "C"})
    assert only == GradeDecision(
        agent_id="solo",
        grade="A",
        previous_grade="C",
        rank=1,
        agents_ranked=1,
        sales_fen=1,
        deals=1,
        promoted_from_e=False,
        team_id="t",
    )


def test_previous_grade_and_team_are_carried_over() -> None:
    week = [WeekResult("old", 500, 1, team_id="t1"), WeekResult("new", 400, 1)]
    decisions = by_id(grade_week(week, GradingPolicy(), {"old": "D", "gone": "B"}))
    assert (decisions["old"].previous_grade, decisions["old"].team_id) == ("D", "t1")
    assert (decisions["new"].previous_grade, decisions["new"].team_id) == (None, None)
    assert "gone" not in decisions


def test_unknown_previous_grade_is_rejected() -> None:
    with pytest.raises(ValueError, match="previous grade"):
        grade_week([WeekResult("x", 1, 1)], GradingPolicy(), {"x": "F"})


def test_output_is_by_rank_then_agent_id_whatever_the_input_order() -> None:
    week = [WeekResult("zed", 100, 1), WeekResult("amy", 100, 1), WeekResult("top", 200, 0), WeekResult("bob", 100, 1)]
    decisions = grade_week(week, GradingPolicy(), {})
    assert [(d.agent_id, d.rank) for d in decisions] == [("top", 1), ("amy", 2), ("bob", 2), ("zed", 2)]
    assert grade_week(list(reversed(week)), GradingPolicy(), {}) == decisions


def test_duplicate_agent_is_rejected() -> None:
    with pytest.raises(ValueError, match="more than once"):
        grade_week([WeekResult("x", 1, 1), WeekResult("x", 2, 1)], GradingPolicy(), {})


@pytest.mark.parametrize(
    ("agent_id", "sales_fen", "deals"),
    [("x", -1, 0), ("x", 0, -1), ("", 0, 0)],
)
def test_week_result_rejects_negative_amounts_and_empty_ids(agent_id: str, sales_fen: int, deals: int) -> None:
    with pytest.raises(ValueError):
        WeekResult(agent_id, sales_fen, deals)


def test_decisions_fit_the_agent_graded_event() -> None:
    week = [WeekResult(f"a{i:03d}", (101 - i) * 1000, i % 3, team_id="t") for i in range(1, 101)]
    for d in grade_week(week, GradingPolicy(), {"a001": "B"}):
        event = AgentGraded(week="2026-W47", **asdict(d))
        assert event.grade == d.grade and event.rank == d.rank


# --- Policy validation ------------------------------------------------------------------------------------------


def test_policy_rejects_shares_over_one() -> None:
    with pytest.raises(ValidationError, match="must not exceed 1"):
        GradingPolicy(b_share=0.4, c_share=0.4, d_share=0.3)


def test_policy_accepts_shares_summing_to_exactly_one_despite_float_error() -> None:
    assert 0.33 + 0.56 + 0.11 > 1  # binary floating point
    p = GradingPolicy(b_share=0.33, c_share=0.56, d_share=0.11)
    assert p.b_share == 0.33


@pytest.mark.parametrize(
    "changes",
    [
        {"a_top_n": -1},
        {"a_min_sales_fen": -1},
        {"b_share": -0.1},
        {"c_share": 1.1},
        {"e_promote_share": 1.5},
        {"surprise": 1},
    ],
)
def test_policy_rejects_out_of_range_and_unknown_fields(changes: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        GradingPolicy(**changes)


def test_policy_round_trips_over_json_with_a_null_threshold() -> None:
    p = GradingPolicy.model_validate_json('{"a_top_n": 10, "a_min_sales_fen": null, "e_promote_share": 0}')
    assert p.a_min_sales_fen is None and p.a_top_n == 10
    assert GradingPolicy.model_validate_json(p.model_dump_json()) == p


# --- Properties -------------------------------------------------------------------------------------------------

GRADE_INDEX = {g: i for i, g in enumerate(AGENT_GRADES)}

shares = st.sampled_from([0.0, 0.05, 0.1, 0.14, 0.15, 0.2, 0.25, 0.29, 0.3, 1 / 3, 0.5, 1.0])


@st.composite
def policies(draw: st.DrawFn) -> GradingPolicy:
    b = draw(shares)
    c = draw(shares.filter(lambda x: x + b <= 1))
    d = draw(shares.filter(lambda x: x + b + c <= 1))
    return GradingPolicy(
        a_top_n=draw(st.integers(0, 25)),
        a_min_sales_fen=draw(st.none() | st.integers(0, 12)),
        b_share=b,
        c_share=c,
        d_share=d,
        e_promote_share=draw(shares),
    )


# Small sales and deals so that ties, zero sales and thresholds come up often.
weeks = st.lists(st.tuples(st.integers(0, 10), st.integers(0, 3)), max_size=60).map(
    lambda rows: [WeekResult(f"ag{i:02d}", s, d, team_id=f"t{i % 3}") for i, (s, d) in enumerate(rows)]
)


@FAST
@given(week=weeks, p=policies(), data=st.data())
def test_properties_of_any_week(week: list[WeekResult], p: GradingPolicy, data: st.DataObject) -> None:
    previous = {r.agent_id: data.draw(st.sampled_from(AGENT_GRADES)) for r in week[::2]}
    decisions = grade_week(week, p, previous)
    n = len(week)

    # Every agent graded exactly once, with their own figures.
    assert sorted(d.agent_id for d in decisions) == sorted(r.agent_id for r in week)
    results = {r.agent_id: r for r in week}
    for d in decisions:
        r = results[d.agent_id]
        assert (d.sales_fen, d.deals, d.team_id, d.agents_ranked) == (r.sales_fen, r.deals, r.team_id, n)
        assert d.previous_grade == previous.get(d.agent_id)
        assert d.grade in AGENT_GRADES
        # Competition ranking: 1 + the number of agents strictly better.
        assert d.rank == 1 + sum((o.sales_fen, o.deals) > (r.sales_fen, r.deals) for o in week)

    # Ordered by rank, then agent id.
    assert [(d.rank, d.agent_id) for d in decisions] == sorted((d.rank, d.agent_id) for d in decisions)

    for x in decisions:
        # No sales: always E, never promoted.
        if x.sales_fen == 0:
            assert x.grade == "E" and not x.promoted_from_e
        # A is exactly the top ranks plus the threshold, among agents with sales.
        by_rule = x.rank <= p.a_top_n or (p.a_min_sales_fen is not None and x.sales_fen >= p.a_min_sales_fen)
        assert (x.grade == "A") == (x.sales_fen > 0 and by_rule)
        # Promoted agents are D.
        if x.promoted_from_e:
            assert x.grade == "D"
        for y in decisions:
            # A tie is never split, and a better rank never gets a worse grade (promotions included:
            # they are the best of E, below every D).
            if (x.sales_fen, x.deals) == (y.sales_fen, y.deals):
                assert (x.grade, x.rank, x.promoted_from_e) == (y.grade, y.rank, y.promoted_from_e)
            if x.rank < y.rank:
                assert GRADE_INDEX[x.grade] <= GRADE_INDEX[y.grade]
                assert not (y.promoted_from_e and x.grade == "E")


@FAST
@given(week=weeks, p=policies(), data=st.data())
def test_grades_do_not_depend_on_input_order(week: list[WeekResult], p: GradingPolicy, data: st.DataObject) -> None:
    shuffled = data.draw(st.permutations(week))
    assert grade_week(shuffled, p, {}) == grade_week(week, p, {})


@FAST
@given(week=weeks, p=policies())
def test_each_share_gets_its_count_while_agents_with_sales_remain(week: list[WeekResult], p: GradingPolicy) -> None:
    decisions = grade_week(week, p, {})
    n = len(week)
    counts = Counter(d.grade for d in decisions if not d.promoted_from_e)
    with_sales_left = sum(1 for d in decisions if d.sales_fen > 0) - counts["A"]
    for grade, share in (("B", p.b_share), ("C", p.c_share), ("D", p.d_share)):
        quota = math.floor(round(share * n, 9) + 0.5)  # half-up, float noise rounded away
        assert counts[grade] >= min(quota, with_sales_left)
        if quota == 0:
            assert counts[grade] == 0
        with_sales_left -= counts[grade]
    # Promotion: at least ceil(share * |E before promotion|) of E's agents with sales, when there are enough.
    e_before = counts["E"] + sum(d.promoted_from_e for d in decisions)
    promoted = sum(d.promoted_from_e for d in decisions)
    wanted = math.ceil(round(p.e_promote_share * e_before, 9))
    assert promoted >= min(wanted, with_sales_left)
    assert promoted <= with_sales_left


# --- ISO weeks --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "week"),
    [
        (date(2026, 11, 16), "2026-W47"),  # a Monday
        (date(2026, 11, 22), "2026-W47"),  # its Sunday
        (date(2026, 11, 23), "2026-W48"),
        (date(2025, 12, 29), "2026-W01"),  # Monday before New Year already in the next ISO year
        (date(2026, 12, 28), "2026-W53"),
        (date(2027, 1, 1), "2026-W53"),  # New Year's Day still in the old ISO year
        (date(2027, 1, 3), "2026-W53"),
        (date(2027, 1, 4), "2027-W01"),
        (date(2021, 1, 3), "2020-W53"),
    ],
)
def test_iso_week(day: date, week: str) -> None:
    assert iso_week(day) == week


def test_week_bounds_across_the_year_boundary_in_shanghai() -> None:
    start, end = week_bounds("2026-W53", SHANGHAI)
    assert start == datetime(2026, 12, 28, 0, 0, tzinfo=SHANGHAI)
    assert end == datetime(2027, 1, 4, 0, 0, tzinfo=SHANGHAI)
    assert start.utcoffset() == timedelta(hours=8)
    assert start.astimezone(UTC) == datetime(2026, 12, 27, 16, 0, tzinfo=UTC)
    assert iso_week(datetime(2027, 1, 1, 12, tzinfo=SHANGHAI).date()) == "2026-W53"


def test_week_bounds_are_monday_to_monday() -> None:
    start, end = week_bounds("2026-W47", UTC)
    assert (start, end) == (datetime(2026, 11, 16, tzinfo=UTC), datetime(2026, 11, 23, tzinfo=UTC))
    assert start.weekday() == 0 and iso_week(start.date()) == "2026-W47" and iso_week(end.date()) == "2026-W48"
    start, end = week_bounds("2027-W01", SHANGHAI)
    assert (start.date(), end.date()) == (date(2027, 1, 4), date(2027, 1, 11))


def test_week_bounds_follow_local_midnight_over_a_dst_change() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    start, end = week_bounds("2026-W13", berlin)  # clocks go forward on Sunday 2026-03-29
    assert (start.hour, end.hour) == (0, 0)
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=167)


@pytest.mark.parametrize(
    "week",
    ["", "2026-W5", "2026W47", "2026-w47", "2026-47", "26-W47", "2026-W00", "2026-W54", "2025-W53", " 2026-W47",
     "2026-W47\n", "2026-W47-1", "２０２６-W47", "0000-W01", "9999-W52"]  # the last ends past year 9999,
)  # fmt: skip
def test_week_bounds_rejects_malformed_or_missing_weeks(week: str) -> None:
    with pytest.raises(ValueError):
        week_bounds(week, SHANGHAI)


def test_week_bounds_roundtrip_with_iso_week() -> None:
    day = date(2024, 12, 30)
    for _ in range(120):
        week = iso_week(day)
        start, end = week_bounds(week, SHANGHAI)
        assert start.date() <= day < end.date()
        day += timedelta(days=5)


@pytest.mark.parametrize(
    ("now", "week"),
    [
        (datetime(2027, 1, 4, 0, 0, tzinfo=SHANGHAI), "2026-W53"),  # Monday midnight: W53 just completed
        (datetime(2027, 1, 3, 23, 59, 59, tzinfo=SHANGHAI), "2026-W52"),  # W53 still running
        (datetime(2027, 1, 1, 9, tzinfo=SHANGHAI), "2026-W52"),
        (datetime(2027, 1, 10, 23, 59, tzinfo=SHANGHAI), "2026-W53"),
        (datetime(2027, 1, 11, 8, tzinfo=SHANGHAI), "2027-W01"),
        (datetime(2026, 1, 5, 0, 0, tzinfo=UTC), "2026-W01"),
        (datetime(2026, 1, 4, 12, tzinfo=UTC), "2025-W52"),
        (datetime(2026, 11, 25, 12, tzinfo=SHANGHAI), "2026-W47"),
    ],
)
def test_previous_week(now: datetime, week: str) -> None:
    assert previous_week(now) == week


def test_previous_week_uses_the_timezone_of_now() -> None:
    # 2027-01-03 16:30 UTC is already Monday 00:30 in Shanghai.
    instant = datetime(2027, 1, 3, 16, 30, tzinfo=UTC)
    assert previous_week(instant) == "2026-W52"
    assert previous_week(instant.astimezone(SHANGHAI)) == "2026-W53"


def test_previous_week_rejects_naive_now() -> None:
    with pytest.raises(ValueError, match="aware"):
        previous_week(datetime(2027, 1, 4, 12))


@FAST
@given(now=st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(SHANGHAI)))
def test_previous_week_is_complete_and_the_latest_so(now: datetime) -> None:
    start, end = week_bounds(previous_week(now), SHANGHAI)
    assert end <= now < end + timedelta(days=7)
    assert end - start == timedelta(days=7)
