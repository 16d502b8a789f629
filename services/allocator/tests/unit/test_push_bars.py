"""The agents a push may not give a lead, worked out per grade (a consumer batch weighs every lead against every
member of its team, so the rule is applied per grade, not per agent): the same answer as the per-agent rule
`grade_opens`, for every lead facts, pool and roster of grades, and those who dropped a lead spared only in a
push nobody asked for."""

from __future__ import annotations

import itertools

from allocator.domain import AllocationPolicy, PooledLeadFacts, Tier, TierFilter
from allocator.domain.agent import Agent
from allocator.domain.lead import POOLED, Lead
from allocator.domain.pushing import grade_opens, tiers_of_lead
from allocator.service.distributing import PushRules, _barred, members_by_grade

TIERS = [Tier(tier_id="vip", name="vip", filter=TierFilter(min_score=90), grades=["A"], pool_ids=["hot"]),
         Tier(tier_id="mid", name="mid", filter=TierFilter(min_score=60), grades=["A", "B"], pool_ids=["hot"]),
         Tier(tier_id="buyers", name="buyers", filter=TierFilter(buyer=True), grades=["B", "C"]),
         Tier(tier_id="rest", name="rest", filter=TierFilter(), grades=["D", "E"], pool_ids=["cold"])]
MEMBERS = [Agent("a", grade="A"), Agent("b", grade="B"), Agent("c", grade="C"), Agent("new"),
           Agent("d", grade="D"), Agent("e", grade="E"), Agent("b2", grade="B")]


def lead(pool_id: str, score: int, dropped_by: list[str]) -> Lead:
    return Lead(lead_id="l1", tenant_id="t", status=POOLED, business_line="edu", pool_id=pool_id, score=score, lead_grade="B",
                dropped_by=dropped_by)


def test_the_bar_per_grade_is_the_per_agent_rule_for_every_lead() -> None:
    for new_grade, pool_id, score, buyer, unasked in itertools.product(
            ("C", "E"), ("hot", "cold", "other"), (10, 70, 95), (False, True), (False, True)):
        policy = AllocationPolicy(new_agent_grade=new_grade)
        facts = PooledLeadFacts(score=score, call_count=0, drop_count=0, buyer=buyer)
        rules = PushRules(tiers=TIERS, facts={"l1": facts}, unasked=unasked)
        the_lead = lead(pool_id, score, ["e", "b2"])
        lead_tiers = tiers_of_lead(TIERS, facts, pool_id)
        expected = {a.agent_id for a in MEMBERS if not grade_opens(a, lead_tiers, policy)}
        if unasked:
            expected |= {"e", "b2"}
        assert _barred(the_lead, members_by_grade(MEMBERS, policy), rules) == expected, (pool_id, score, buyer)


def test_a_lead_in_no_tier_bars_only_those_who_dropped_it_and_only_unasked() -> None:
    facts = PooledLeadFacts(score=10, call_count=0, drop_count=0, buyer=False)
    by_grade = members_by_grade(MEMBERS, AllocationPolicy())
    assert _barred(lead("other", 10, ["a"]), by_grade, PushRules(TIERS, {"l1": facts}, unasked=True)) == {"a"}
    assert _barred(lead("other", 10, ["a"]), by_grade, PushRules(TIERS, {"l1": facts})) == frozenset()
