"""Where a simulated call ends, as pure functions of the seed (no I/O): each funnel step is won at one of the
five stages of a sales call (开场白、报价、异议处理、服务介绍、促成), some agents are weak at a stage (more often
the lower their grade), and a call that does not move the customer on ends at a stage without progress.
The dialer reports it on calls.logged.v1 (stage_reached, outcome); a call that ends at an objection without
progress is what the marketplace's struggle push answers, so weak agents draw pushes by themselves."""

from __future__ import annotations

from typing import Any

from . import scenario as sc

# the call stage a call must get through to take the customer to each funnel step (the marketplace's own
# mapping of steps to stages, services/marketplace domain/struggle.py)
STAGE_OF_STEP = {"valid": "opening", "intent": "quoting", "agreed_visit": "objection_handling",
                 "actual_visit": "service_introduction", "plan": "service_introduction", "paid": "closing"}
# share of the agents of a grade who are weak at one stage, and which stage (objections most often)
WEAK_SHARE = {"A": 0.0, "B": 0.15, "C": 0.35, "D": 0.55, "E": 0.75}
WEAK_STAGES = {"objection_handling": 0.55, "opening": 0.15, "quoting": 0.1, "service_introduction": 0.1,
               "closing": 0.1}
# an effective call that moves nothing ends at an objection this often (weak at objections / not)
OBJECTION_SHARE = {True: 0.65, False: 0.2}
WEAK_ADVANCE = 0.5  # a weak agent moves a customer past its weak stage this much less often
EFFECTIVE_SECONDS = 60


def weak_stage(seed: int, agent: sc.Agent) -> str | None:
    """The call stage the agent is weak at, if any: the same for a seed and agent, whatever else happens."""
    r = sc.rng(seed, "weak", agent.agent_id)
    if r.random() >= WEAK_SHARE[agent.grade]:
        return None
    return r.choices(list(WEAK_STAGES), weights=list(WEAK_STAGES.values()))[0]


def advance_chance(agent: sc.Agent, weak: str | None, target_step: int) -> float:
    """The chance an effective call takes the customer on to `target_step` (an index in sc.STEPS)."""
    chance = 0.6 * sc.SKILL[agent.grade]
    return chance * WEAK_ADVANCE if STAGE_OF_STEP[sc.STEPS[target_step]] == weak else chance


def call_ending(*, seconds: int, step_before: int, advanced_to: int | None, weak: str | None,
                r: Any) -> tuple[str, str]:
    """(stage_reached, outcome) of a connected call: the stage of the step it took the customer to
    (progressed), else where it stalled: the opening for a short call, an objection (more often for an agent
    weak at objections) or the stage of the next step."""
    if advanced_to is not None:
        return STAGE_OF_STEP[sc.STEPS[advanced_to]], "progressed"
    if seconds < EFFECTIVE_SECONDS:
        return "opening", "no_progress"
    if r.random() < OBJECTION_SHARE[weak == "objection_handling"]:
        return "objection_handling", "no_progress"
    return STAGE_OF_STEP[sc.STEPS[min(step_before + 1, len(sc.STEPS) - 1)]], "no_progress"
