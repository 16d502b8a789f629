"""The struggle push: the funnel step where an agent lags its team most, its call stage, and the
best-rated tips of that stage to recommend."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from telesales_contracts.marketplace import CallStage, FunnelStep

DEFAULT_STAGE_OF_STEP: dict[FunnelStep, CallStage] = {
    FunnelStep.CONNECT_60S: CallStage.OPENING,
    FunnelStep.INTENT: CallStage.OBJECTION_HANDLING,
    FunnelStep.VISIT: CallStage.CLOSING,
    FunnelStep.PLAN: CallStage.CLOSING,
}


@dataclass(frozen=True)
class Struggle:
    step: FunnelStep
    agent_rate: float
    team_rate: float
    gap: float
    stage: CallStage


def struggle(agent: Mapping[FunnelStep, float], team: Mapping[FunnelStep, float],
             stage_of_step: Mapping[FunnelStep, CallStage]) -> Struggle | None:
    """The funnel step where the agent's rate falls furthest below the team's (steps both know; ties go
    to the earlier step of the funnel), mapped to its call stage; None when the agent is at or above
    the team everywhere. Gaps count to 6 decimal places, as reported: a smaller one is no gap, and two gaps
    equal to 6 places are a tie."""
    worst: Struggle | None = None
    for step in FunnelStep:
        if step not in agent or step not in team:
            continue
        gap = round(team[step] - agent[step], 6)
        if gap > 0 and (worst is None or gap > worst.gap):
            worst = Struggle(step, agent[step], team[step], gap, stage_of_step[step])
    return worst


def best_rated(tips: Iterable[Mapping[str, Any]], owned: set[str], limit: int) -> list[Mapping[str, Any]]:
    """The best-rated tips not owned: by average rating (unrated last), then number of ratings, sales,
    and tip id for a stable order."""
    candidates = [t for t in tips if t["tip_id"] not in owned]
    candidates.sort(key=lambda t: (-(t.get("rating_avg") or 0.0), -(t.get("rating_count") or 0),
                                   -(t.get("sales") or 0), t["tip_id"]))
    return candidates[:limit]
