"""The struggle push's rules: every one of the five call stages can be recommended (from the funnel and
from a call), one best-rated tip the agent neither owns, wrote nor was recommended recently, at most N a day,
ties broken the same way every time, one push per trigger."""

from __future__ import annotations

from typing import Any

import pytest

from marketplace import domain
from marketplace.domain.struggle import (
    DEFAULT_PUSH_ON_CALL_STAGES,
    AgentPushes,
    NoPush,
    Push,
    call_struggle,
    push_id,
    window_trigger,
)
from telesales_contracts.activity import CallOutcome
from telesales_contracts.marketplace import CallStage, FunnelStep


def tip(tip_id: str, stage: CallStage, rating: float | None = None, ratings: int = 0, sales: int = 0,
        author: str = "zhang-san") -> dict[str, Any]:
    return {"tip_id": tip_id, "stage": stage.value, "rating_avg": rating, "rating_count": ratings, "sales": sales,
            "author_id": author, "listed_version": 1, "title": tip_id, "price": 10}


def pushes(pushed_today: int = 0, owned: set[str] | None = None, recent: set[str] | None = None) -> AgentPushes:
    return AgentPushes("li-si", pushed_today, frozenset(owned or ()), frozenset(recent or ()))


def test_every_call_stage_is_some_funnel_steps_stage() -> None:
    assert set(domain.DEFAULT_STAGE_OF_STEP.values()) == set(CallStage)
    assert set(domain.DEFAULT_STAGE_OF_STEP) == set(FunnelStep)


@pytest.mark.parametrize("stage", list(CallStage))
def test_each_stage_is_recommended_when_its_step_leaks(stage: CallStage) -> None:
    step = next(s for s, st in domain.DEFAULT_STAGE_OF_STEP.items() if st is stage)
    agent = dict.fromkeys(FunnelStep, 0.5) | {step: 0.2}
    found = domain.struggle(agent, dict.fromkeys(FunnelStep, 0.5), domain.DEFAULT_STAGE_OF_STEP)
    assert found is not None and (found.step, found.stage) == (step, stage)
    decision = pushes().push(tenant="acme", trigger_id="t-1", stage=stage, daily_cap=3,
                             listed_of_stage=[tip("x", stage, 4.0)])
    assert isinstance(decision, Push) and (decision.stage, decision.tip["tip_id"]) == (stage, "x")


def test_quoting_and_service_introduction_come_from_their_steps() -> None:
    team = dict.fromkeys(FunnelStep, 0.4)
    quoting = domain.struggle(team | {FunnelStep.INTENT: 0.1}, team, domain.DEFAULT_STAGE_OF_STEP)
    service = domain.struggle(team | {FunnelStep.VISIT: 0.1}, team, domain.DEFAULT_STAGE_OF_STEP)
    assert quoting is not None and quoting.stage is CallStage.QUOTING
    assert service is not None and service.stage is CallStage.SERVICE_INTRODUCTION


def test_equal_gaps_go_to_the_earlier_step() -> None:
    team = {FunnelStep.AGREED_VISIT: 0.5, FunnelStep.PAID: 0.5}
    found = domain.struggle({FunnelStep.AGREED_VISIT: 0.3, FunnelStep.PAID: 0.3}, team, domain.DEFAULT_STAGE_OF_STEP)
    assert found is not None and found.step is FunnelStep.AGREED_VISIT


def test_a_call_pushes_only_when_it_ends_without_progress_at_a_pushing_stage() -> None:
    on = DEFAULT_PUSH_ON_CALL_STAGES
    assert call_struggle(CallStage.OBJECTION_HANDLING, CallOutcome.NO_PROGRESS, on) is CallStage.OBJECTION_HANDLING
    assert call_struggle(CallStage.OBJECTION_HANDLING, CallOutcome.PROGRESSED, on) is None
    assert call_struggle(CallStage.OBJECTION_HANDLING, None, on) is None
    assert call_struggle(None, CallOutcome.NO_PROGRESS, on) is None
    assert call_struggle(CallStage.QUOTING, CallOutcome.NO_PROGRESS, on) is None
    for stage in CallStage:  # configurable: every stage can push from a call
        assert call_struggle(stage, CallOutcome.NO_PROGRESS, set(CallStage)) is stage


def test_the_push_is_the_best_rated_tip_not_owned_written_nor_recently_recommended() -> None:
    stage = CallStage.OBJECTION_HANDLING
    listed = [tip("owned", stage, 5.0, 9), tip("mine", stage, 5.0, 9, author="li-si"), tip("recent", stage, 5.0, 8),
              tip("good", stage, 4.5, 3), tip("unrated", stage), tip("other-stage", CallStage.CLOSING, 5.0, 20)]
    decision = pushes(owned={"owned"}, recent={"recent"}).push(tenant="acme", trigger_id="t", stage=stage,
                                                               listed_of_stage=listed, daily_cap=3)
    assert isinstance(decision, Push) and decision.tip["tip_id"] == "good"
    left = pushes(owned={"owned", "good", "unrated"}, recent={"recent"}).push(
        tenant="acme", trigger_id="t", stage=stage, listed_of_stage=listed, daily_cap=3)
    assert left is NoPush.NO_TIP


def test_ties_go_to_more_ratings_then_more_sales_then_the_tip_id() -> None:
    stage = CallStage.QUOTING

    def best(*listed: dict[str, Any]) -> str:
        decision = pushes().push(tenant="acme", trigger_id="t", stage=stage, listed_of_stage=list(listed), daily_cap=1)
        assert isinstance(decision, Push)
        return str(decision.tip["tip_id"])

    assert best(tip("a", stage, 4.0, 2), tip("b", stage, 4.0, 5)) == "b"
    assert best(tip("a", stage, 4.0, 5, sales=1), tip("b", stage, 4.0, 5, sales=7)) == "b"
    assert best(tip("b", stage, 4.0, 5, sales=7), tip("a", stage, 4.0, 5, sales=7)) == "a"
    assert best(tip("a", stage, None), tip("b", stage, 1.0, 1)) == "b"  # unrated last


def test_the_daily_cap_holds() -> None:
    listed = [tip("x", CallStage.CLOSING, 4.0)]
    assert isinstance(pushes(pushed_today=2).push(tenant="acme", trigger_id="t", stage=CallStage.CLOSING,
                                                  listed_of_stage=listed, daily_cap=3), Push)
    assert pushes(pushed_today=3).push(tenant="acme", trigger_id="t", stage=CallStage.CLOSING,
                                       listed_of_stage=listed, daily_cap=3) is NoPush.DAILY_CAP
    assert pushes().push(tenant="acme", trigger_id="t", stage=CallStage.CLOSING, listed_of_stage=listed,
                         daily_cap=0) is NoPush.DAILY_CAP


def test_one_push_id_per_trigger_and_tenant() -> None:
    assert push_id("acme", "ev-1") == push_id("acme", "ev-1")
    assert len({push_id("acme", "ev-1"), push_id("acme", "ev-2"), push_id("other", "ev-1")}) == 3
    assert window_trigger("li-si", "2026-12-07") != window_trigger("li-si", "2026-12-08")
