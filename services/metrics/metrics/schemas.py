"""HTTP response bodies of metrics, declared so /openapi.json documents their shape (the console's web app
types itself from it): an agent's indicators. The route still builds its answer as a plain dict
(indicators.py); the tests hold that dict to these models, field for field."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Rate = float | None  # null when there is nothing to divide by


def _drop_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def _left_out(description: str) -> Any:
    """A rate left out of the answer when there is nothing to divide by: not required, never null. Its schema
    carries no `default`, or openapi-typescript would type it as always present."""
    return Field(default=None, description=description, json_schema_extra=_drop_default)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IndicatorCounts(_Body):
    """An agent's (or a team's) counters over some days and the rates made of them."""

    outbound: int = Field(description="Calls placed.")
    connected: int = Field(description="Calls connected.")
    effective: int = Field(description="Connected calls of 60 s or more.")
    deep: int = Field(description="Connected calls of 180 s or more.")
    talk_seconds: int = Field(description="Talk time of the connected calls.")
    multi_effective_leads: int = Field(description="Leads that reached their second effective call.")
    received: int = Field(description="Holdings: leads assigned or claimed.")
    processed: int = Field(description="Holdings in which the holder made an effective call (worked the lead).")
    valid: int
    intent: int
    agreed_visit: int
    actual_visit: int
    plan: int
    paid: int
    won: int = Field(description="Leads won (成单) and confirmed (by an order or the supervisor), on the day "
                              "of the confirmation; an agent's own declaration counts nothing here.")
    won_fen: int = Field(description="Amount of the confirmed wins, in fen.")
    connect_rate: Rate = Field(description="connected / outbound.")
    effective_rate: Rate = Field(description="effective / outbound.")
    deep_rate: Rate = Field(description="deep / outbound.")
    processing_rate: Rate = Field(description="processed / received.")
    conversion_rate: Rate = Field(description="won / received.")


class DayIndicators(IndicatorCounts):
    """One day of an agent's indicators."""

    day: date


class FunnelStepRow(_Body):
    """One step of the lead funnel credited to an agent or a team."""

    step: Literal["valid", "intent", "agreed_visit", "actual_visit", "plan", "paid"]
    count: int
    rate_from_previous: Rate = Field(description="count / the step before's count (null for `valid`).")
    rate_over_total: Rate = Field(description="count / valid.")


class StruggleRates(_Body):
    """The rates the marketplace's struggle push compares, under its funnel-step names; a rate with nothing
    to divide by is left out. Each is at most 1."""

    connect_60s: float = _left_out("effective / outbound calls.")
    intent: float = _left_out("intent / valid.")
    visit: float = _left_out("actual_visit / intent.")
    plan: float = _left_out("plan / actual_visit.")


class IndicatorRates(_Body):
    agent: StruggleRates
    team: StruggleRates = Field(description="The team's (also in `team`); empty without a team.")


class PerAgentAverages(_Body):
    """The team's counts divided by its agents (null when metrics knows none)."""

    outbound: Rate
    connected: Rate
    effective: Rate
    deep: Rate
    talk_seconds: Rate
    received: Rate
    processed: Rate
    valid: Rate
    intent: Rate
    agreed_visit: Rate
    actual_visit: Rate
    plan: Rate
    paid: Rate
    won: Rate


class TeamIndicators(_Body):
    """The agent's team over the same days."""

    team_id: str
    agents: int = Field(description="The agents metrics knows in the team (from agents.changed.v1), the agent "
                        "included.")
    totals: IndicatorCounts
    funnel: list[FunnelStepRow]
    per_agent: PerAgentAverages


class AgentIndicators(_Body):
    """GET /v1/agents/{agent_id}/indicators: an agent's indicators over from..to, per day and in total, beside
    its team's."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    agent_id: str
    team_id: str | None
    cohort: Literal["deep", "learner", "none"] = Field(description="The agent's learning cohort now.")
    on_roster: bool = Field(description="Whether metrics has seen the agent on the roster (agents.changed.v1).")
    first: date = Field(alias="from")
    last: date = Field(alias="to")
    totals: IndicatorCounts
    funnel: list[FunnelStepRow]
    rates: IndicatorRates
    team_agents: int = Field(description="Same as `team.agents`; 0 without a team.")
    team: TeamIndicators | None = Field(description="null when the agent has no team.")
    days: list[DayIndicators] = Field(description="The days with counts, in order.")
