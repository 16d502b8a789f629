"""The struggle push: where an agent struggles (the funnel step where it lags its team most, or the stage a
call ended at without progress), that step's call stage, and the tips to recommend; and the rules of a push
(one best-rated tip the agent neither owns, wrote nor was recommended recently, at most N a day)."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from telesales_contracts.activity import CallOutcome
from telesales_contracts.marketplace import CallStage, FunnelStep

# The funnel steps along the five stages of a call, in the seed's order (开场白、报价、异议处理、服务介绍、促成):
# a call that does not last loses at the opening; a valid contact without intent heard a price that did not
# convince (quoting); intent without an agreed visit is an objection not handled; an agreed visit not made or
# a visit without a plan is a service not introduced well enough; a plan not paid is a close not made.
DEFAULT_STAGE_OF_STEP: dict[FunnelStep, CallStage] = {
    FunnelStep.CONNECT_60S: CallStage.OPENING,
    FunnelStep.INTENT: CallStage.QUOTING,
    FunnelStep.AGREED_VISIT: CallStage.OBJECTION_HANDLING,
    FunnelStep.VISIT: CallStage.SERVICE_INTRODUCTION,
    FunnelStep.PLAN: CallStage.SERVICE_INTRODUCTION,
    FunnelStep.PAID: CallStage.CLOSING,
}

# The calls that push by default: those that end at an objection without progress.
DEFAULT_PUSH_ON_CALL_STAGES: frozenset[CallStage] = frozenset({CallStage.OBJECTION_HANDLING})

# Ids of pushes: the same trigger always makes the same recommendation id (a redelivery pushes nothing new).
_PUSH_IDS = uuid.UUID("6c0f3b52-9d7e-4a18-b2c4-31e5a7d90f6e")


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


def call_struggle(stage_reached: CallStage | None, outcome: CallOutcome | None,
                  push_on: Collection[CallStage]) -> CallStage | None:
    """The stage a call ended at without progress, when it is one that pushes (`push_on`); None otherwise
    (a call that progressed, or that does not tell where it ended)."""
    if stage_reached is None or outcome is not CallOutcome.NO_PROGRESS or stage_reached not in push_on:
        return None
    return stage_reached


def best_rated(tips: Iterable[Mapping[str, Any]], owned: Collection[str], limit: int) -> list[Mapping[str, Any]]:
    """The best-rated tips not owned: by average rating (unrated last), then number of ratings, sales,
    and tip id for a stable order."""
    candidates = [t for t in tips if t["tip_id"] not in owned]
    candidates.sort(key=lambda t: (-(t.get("rating_avg") or 0.0), -(t.get("rating_count") or 0),
                                   -(t.get("sales") or 0), t["tip_id"]))
    return candidates[:limit]


class NoPush(StrEnum):
    DAILY_CAP = "daily_cap"  # the agent got its N pushes today
    NO_TIP = "no_tip"  # every listed tip of the stage is owned, written or recently recommended by the agent


@dataclass(frozen=True)
class Push:
    recommendation_id: str
    stage: CallStage
    tip: Mapping[str, Any]


def push_id(tenant: str, trigger_id: str) -> str:
    return uuid.uuid5(_PUSH_IDS, f"{tenant}|{trigger_id}").hex


def window_trigger(agent_id: str, day: str) -> str:
    """The trigger of the rolling window's push of an agent on a day: one such push a day at most."""
    return f"window|{agent_id}|{day}"


@dataclass(frozen=True)
class AgentPushes:
    """What a push of an agent depends on: how many it got today (its day in the marketplace's time zone),
    the tips it owns (bought and granted) and those recommended to it recently."""

    agent_id: str
    pushed_today: int
    owned: frozenset[str]
    recent: frozenset[str]

    def push(self, *, tenant: str, trigger_id: str, stage: CallStage, listed_of_stage: Sequence[Mapping[str, Any]],
             daily_cap: int) -> Push | NoPush:
        """The best-rated listed tip of `stage` the agent neither owns, wrote nor was recommended recently;
        refused when the agent had its `daily_cap` pushes today or no tip is left."""
        if self.pushed_today >= daily_cap:
            return NoPush.DAILY_CAP
        mine = {t["tip_id"] for t in listed_of_stage if t.get("author_id") == self.agent_id}
        left = [t for t in listed_of_stage if t.get("stage", stage) == stage]
        best = best_rated(left, self.owned | self.recent | mine, 1)
        if not best:
            return NoPush.NO_TIP
        return Push(push_id(tenant, trigger_id), stage, best[0])
