"""How a group of claims shares the best leads (pure: no database)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from allocator.claims import ClaimDispenser, ClaimRequest
from allocator.domain import AgentFacts, AllocationPolicy, dropped_recently

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def agent(agent_id: str) -> AgentFacts:
    return AgentFacts(agent_id=agent_id, active=True, role="agent", grade="C", business_line="edu", team_id="t1")


def lead(lead_id: str, *, dropped_by: tuple[str, ...] = (), days_ago: float = 1.0) -> dict:
    return {"_id": lead_id, "dropped_by": list(dropped_by),
            "drops": [{"agent_id": a, "at": NOW - timedelta(days=days_ago)} for a in dropped_by]}


def test_never_again_without_a_cooldown_and_only_within_it_with_one() -> None:
    drops = [{"agent_id": "a1", "at": NOW - timedelta(days=10)}]
    assert dropped_recently(drops, ["a1"], "a1", None, NOW)
    assert not dropped_recently(drops, ["a1"], "a2", None, NOW)
    assert not dropped_recently(drops, ["a1"], "a1", 7, NOW)  # the cooldown is over
    assert dropped_recently(drops, ["a1"], "a1", 30, NOW)


async def test_earlier_claims_get_the_better_leads_and_nobody_a_lead_they_dropped() -> None:
    await asyncio.sleep(0)  # ClaimRequest needs a running loop for its future
    first = ClaimRequest(agent("a1"), want=2)
    second = ClaimRequest(agent("a2"), want=2)
    candidates = [lead("L1", dropped_by=("a1",)), lead("L2"), lead("L3"), lead("L4"), lead("L5")]
    picks = ClaimDispenser._split(candidates, [first, second], AllocationPolicy(), NOW)  # noqa: SLF001
    assert {k: r.agent.agent_id for k, r in picks.items()} == {"L2": "a1", "L3": "a1", "L1": "a2", "L4": "a2"}


async def test_a_claim_already_partly_served_asks_only_for_the_rest() -> None:
    await asyncio.sleep(0)
    request = ClaimRequest(agent("a1"), want=3, taken=[{"_id": "L0"}, {"_id": "L9"}])
    picks = ClaimDispenser._split([lead("L1"), lead("L2")], [request], AllocationPolicy(), NOW)  # noqa: SLF001
    assert list(picks) == ["L1"]
