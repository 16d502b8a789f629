"""Leads move without a person pushing them (issue 18), the rules on the domain: which pool pushes on arrival,
who may be pushed a lead (at work, of a grade the lead's tiers open), strategy 7 after a reclaim, and the
measured weights of 能力+平均."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from allocator.distribution import Candidate, LeadToPlace, Placement, distribute
from allocator.domain import (
    AllocationPolicy,
    ArrivalPush,
    PooledLeadFacts,
    ReclaimSchedule,
    RoutingRule,
    Tier,
    TierFilter,
    arrival_push,
    route_pool,
)
from allocator.domain.agent import Agent
from allocator.domain.lead import HELD, POOLED, Lead
from allocator.domain.pushing import (
    ability_weights,
    grade_filter,
    grade_opens,
    tiers_of_lead,
    why_application_refused,
    why_not_to,
    why_not_working,
)
from allocator.store.lead_writes import write_of
from telesales_contracts.allocation import DistributionStrategy as S
from telesales_contracts.allocation import ReclaimKind

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


# ---- which pool pushes on arrival -------------------------------------------------------------------------


def test_a_pool_pushes_on_arrival_only_when_its_rule_says_so() -> None:
    rules = [RoutingRule(pool_id="hot", min_score=80, on_arrival=ArrivalPush(team_id="t1", strategy=S.ROUND_ROBIN)),
             RoutingRule(pool_id="cold", max_score=79)]
    assert route_pool(rules, business_line="edu", product_interest=None, region=None, score=90) == "hot"
    assert arrival_push(rules, "hot") == ArrivalPush(team_id="t1", strategy=S.ROUND_ROBIN)
    assert arrival_push(rules, "cold") is None  # pull by claim, as before
    assert arrival_push(rules, "edu") is None  # the line's own pool has no rule


def test_the_arrival_push_needs_a_team_and_a_known_strategy() -> None:
    with pytest.raises(ValidationError):
        RoutingRule.model_validate({"pool_id": "p", "on_arrival": {"strategy": "even_by_open"}})
    with pytest.raises(ValidationError):
        RoutingRule.model_validate({"pool_id": "p", "on_arrival": {"team_id": "t1", "strategy": "whoever"}})
    rule = RoutingRule.model_validate({"pool_id": "p", "on_arrival": {"team_id": "t1"}})
    assert rule.on_arrival == ArrivalPush(team_id="t1", strategy=S.EVEN_BY_OPEN)


# ---- who may be pushed a lead --------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "reason"), [("on_break", "not_working (on_break)"),
                                                ("logged_out", "not_working (logged_out)"),
                                                (None, "not_working (never logged in)")])
def test_an_agent_not_at_work_gets_nothing(status: str | None, reason: str) -> None:
    assert why_not_working(Agent("a1", status=status)) == reason


def test_only_an_active_agent_at_work_may_be_pushed() -> None:
    assert why_not_working(Agent("a1", status="logged_in")) is None
    assert why_not_working(Agent("a1", status="logged_in", active=False)) == "inactive"
    assert why_not_working(Agent("s1", status="logged_in", role="supervisor")) == "not_an_agent"


TIERS = [Tier(tier_id="vip", name="vip", filter=TierFilter(min_score=90), grades=["A"], pool_ids=["hot"]),
         Tier(tier_id="rest", name="rest", filter=TierFilter(), grades=["A", "B", "C", "D", "E"], pool_ids=["cold"])]


def test_a_pushed_lead_goes_only_to_grades_its_tiers_open_for() -> None:
    policy = AllocationPolicy()
    best = PooledLeadFacts(score=95, call_count=0, drop_count=0, buyer=False)
    lead_tiers = tiers_of_lead(TIERS, best, "hot")
    assert [t.tier_id for t in lead_tiers] == ["vip"]  # "rest" draws from another pool
    assert grade_opens(Agent("a", grade="A"), lead_tiers, policy)
    assert not grade_opens(Agent("c", grade="C"), lead_tiers, policy)
    assert not grade_opens(Agent("new"), lead_tiers, policy)  # a new agent has the policy's grade C


def test_a_lead_in_no_tier_opens_for_every_grade() -> None:
    plain = PooledLeadFacts(score=50, call_count=0, drop_count=0, buyer=False)
    assert tiers_of_lead(TIERS, plain, "hot") == []
    assert grade_opens(Agent("e", grade="E"), [], AllocationPolicy())


def test_a_named_agent_is_refused_a_lead_when_away_or_when_its_grade_is_closed() -> None:
    policy = AllocationPolicy()
    vip = tiers_of_lead(TIERS, PooledLeadFacts(score=95, call_count=0, drop_count=0, buyer=False), "hot")
    assert why_not_to(Agent("c", grade="C", status="logged_in"), vip, policy) == "grade_closed (C)"
    assert why_not_to(Agent("n", status="logged_in"), vip, policy) == "grade_closed (C)"  # new: the policy's C
    assert why_not_to(Agent("a", grade="A", status="on_break"), vip, policy) == "not_working (on_break)"
    assert why_not_to(Agent("a", grade="A", status="logged_in", active=False), vip, policy) == "inactive"
    assert why_not_to(Agent("a", grade="A", status="logged_in"), vip, policy) is None
    assert why_not_to(Agent("c", grade="C", status="logged_in"), [], policy) is None  # in no tier: every grade


def test_the_grade_filter_of_a_pool_names_the_tiers_that_open_and_those_that_show() -> None:
    assert grade_filter(TIERS, "hot", "A") is None  # every tier of the pool opens for A
    assert grade_filter(TIERS, "cold", "C") is None
    assert grade_filter(TIERS, "hot", "C") == ([], [TIERS[0]])  # only leads in no tier of hot
    unpooled = Tier(tier_id="any", name="any", filter=TierFilter(buyer=True), grades=["B"])
    assert grade_filter([*TIERS, unpooled], "hot", "B") == ([unpooled], [TIERS[0], unpooled])


@pytest.mark.parametrize(("agent", "reason"), [
    (Agent("a1"), None),  # never reported by the dialer: applying is the act of being at work
    (Agent("a1", status="logged_in"), None),
    (Agent("a1", status="on_break"), "not_working (on_break)"),
    (Agent("a1", status="logged_out"), "not_working (logged_out)"),
    (Agent("a1", status="logged_in", active=False), "agent_inactive"),
    (Agent("s1", status="logged_in", role="supervisor"), "not_an_agent")])
def test_an_application_is_served_unless_its_agent_is_reported_away_or_gone(agent: Agent, reason: str | None) -> None:
    assert why_application_refused(agent) == reason


def test_a_resting_lead_is_not_placeable() -> None:
    lead = Lead(lead_id="l1", tenant_id="t", status=POOLED, business_line="edu", pool_id="hot", score=90,
                lead_grade="A", rest_until=NOW + timedelta(days=1))
    assert lead.why_not_placeable(NOW) == "resting (contact pressure)"
    assert replace(lead, rest_until=NOW - timedelta(seconds=1)).why_not_placeable(NOW) is None


# ---- strategy 7: a reclaimed lead goes back to its team, not to its last agent ---------------------------


def test_a_reclaim_remembers_the_team_and_that_it_was_a_reclaim() -> None:
    held = Lead(lead_id="l1", tenant_id="t", status=HELD, business_line="edu", pool_id="edu", score=70,
                lead_grade="B", holder="a1", holder_team="t1", holder_grade="B", held_since=NOW - timedelta(days=9))
    schedule = ReclaimSchedule(kind=ReclaimKind.NOT_PROCESSED, reclaim_at=NOW - timedelta(hours=1),
                               warn_at=NOW - timedelta(days=1))
    decision = held.judge_overdue(schedule, at=NOW)
    assert decision is not None
    _query, update = write_of(held, decision.change)
    assert isinstance(update, dict)
    assert (update["$set"]["last_team"], update["$set"]["last_reclaimed"], update["$set"]["last_holder"]) \
        == ("t1", True, "a1")
    returned = held.give_back("a1", reason="no", at=NOW)
    _query, update = write_of(held, returned.change)
    assert isinstance(update, dict)
    assert (update["$set"]["last_team"], update["$set"]["last_reclaimed"]) == ("t1", False)


def test_strategy_7_gives_a_reclaimed_lead_to_another_agent_of_the_team() -> None:
    team = [Candidate("a1", 0, 10), Candidate("a2", 3, 10), Candidate("a3", 5, 10)]
    reclaimed = LeadToPlace("L1", 50, last_holder="a1", previous_holders=frozenset({"a1"}), reclaimed=True)
    assert distribute([reclaimed], team, S.SAME_AGENT).placements == (Placement("L1", "a2", S.SAME_AGENT),)
    returned = LeadToPlace("L2", 50, last_holder="a3", previous_holders=frozenset({"a3"}))
    assert distribute([returned], team, S.SAME_AGENT).placements == (Placement("L2", "a3", S.SAME_AGENT),)


def test_strategy_7_leaves_a_reclaimed_lead_when_only_its_last_agent_has_room() -> None:
    team = [Candidate("a1", 0, 10), Candidate("a2", 10, 10)]
    result = distribute([LeadToPlace("L1", 50, last_holder="a1", reclaimed=True)], team, S.SAME_AGENT)
    assert result.placements == () and [u.reason for u in result.unplaced] == ["no_eligible_agent"]


# ---- 能力+平均: measured, not typed in -------------------------------------------------------------------


def test_ability_is_the_measured_conversion_with_a_floor_for_new_agents() -> None:
    policy = AllocationPolicy(ability_min_leads=10, ability_floor=0.05)
    results = {"a1": (20, 5), "a2": (10, 1), "a3": (40, 0), "new": (4, 3)}
    weights = {w.agent_id: w for w in ability_weights(["new", "a3", "a2", "a1", "idle"], results, policy)}
    assert (weights["a1"].weight, weights["a1"].floor_applied) == (0.25, False)  # 5 / 20
    assert (weights["a2"].weight, weights["a2"].floor_applied) == (0.1, False)  # 1 / 10
    assert (weights["a3"].weight, weights["a3"].floor_applied) == (0.05, True)  # 0 / 40: the floor
    assert (weights["new"].conversion, weights["new"].weight, weights["new"].floor_applied) == (0.75, 0.05, True)
    assert (weights["idle"].conversion, weights["idle"].weight) == (None, 0.05)
    assert [w.agent_id for w in ability_weights(["b", "a"], {}, policy)] == ["a", "b"]


def test_measured_weights_steer_the_ability_share() -> None:
    policy = AllocationPolicy(ability_min_leads=1, ability_floor=0.05)
    weights = {w.agent_id: w.weight for w in ability_weights(["a1", "a2"], {"a1": (4, 3), "a2": (4, 1)}, policy)}
    team = [Candidate(a, 0, 100, ability=w) for a, w in weights.items()]
    leads = [LeadToPlace(f"L{i:02d}", 50) for i in range(8)]
    placed = distribute(leads, team, S.ABILITY_WEIGHTED, ability_share=1.0).placements
    assert sum(p.agent_id == "a1" for p in placed) == 6  # 8 * 0.75 / (0.75 + 0.25)
