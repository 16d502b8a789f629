"""An agent's indicators as the HTTP API answers them: its call and funnel counts and rates per day and
in total, its funnel step by step, and the same figures of its team for comparison. Pure: shapes
counters that service.py read."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from . import domain
from .domain import LEAD_STEPS, funnel_rows, ratio

# The counts a team's per-agent average is given for (rates need no average: they are the team's own).
PER_AGENT_FIELDS: tuple[str, ...] = ("outbound", "connected", "effective", "deep", "talk_seconds", "received",
                                     "processed", *LEAD_STEPS[1:], "won")


def agent_view(c: Mapping[str, int]) -> dict[str, Any]:
    """Counts and rates of one agent's (or a group's) counters: calls placed (outbound), connected,
    effective (>= 60 s), deep (>= 180 s), leads received and processed, funnel steps credited, wins."""
    return {**{name: c.get(name, 0) for name in sorted(domain.AGENT_FIELDS)},
            "connect_rate": ratio(c.get("connected", 0), c.get("outbound", 0)),
            "effective_rate": ratio(c.get("effective", 0), c.get("outbound", 0)),
            "deep_rate": ratio(c.get("deep", 0), c.get("outbound", 0)),
            "processing_rate": ratio(c.get("processed", 0), c.get("received", 0)),
            "conversion_rate": ratio(c.get("won", 0), c.get("received", 0))}


def funnel_view(c: Mapping[str, int]) -> list[dict[str, Any]]:
    """Funnel steps credited (valid -> ... -> paid), each with its rate from the step before (the
    conversion of that step) and over valid contacts."""
    return funnel_rows(c, LEAD_STEPS[1:])


def team_view(team_id: str, agents: int, total: Mapping[str, int]) -> dict[str, Any]:
    """The team's figures over the same days (its agents as metrics knows them from the roster events, the
    agent itself included): totals and rates, the funnel, and per-agent averages of the counts."""
    return {"team_id": team_id, "agents": agents, "totals": agent_view(total), "funnel": funnel_view(total),
            "per_agent": {name: ratio(total.get(name, 0), agents) for name in PER_AGENT_FIELDS}}


def indicators_body(*, agent_id: str, agent_doc: Mapping[str, Any] | None, mates: Sequence[str],
                    days: Mapping[str, Mapping[str, Counter[str]]], first: str, last: str) -> dict[str, Any]:
    """The answer of GET /v1/agents/{agent_id}/indicators; `mates`: the agents of its team, itself included."""
    team = (agent_doc or {}).get("team")
    mine = days.get(agent_id, {})
    total = sum(mine.values(), Counter())
    team_total = sum((c for agent in mates for c in days.get(agent, {}).values()), Counter())
    return {
        "agent_id": agent_id, "team_id": team, "cohort": (agent_doc or {}).get("cohort", "none"),
        "on_roster": (agent_doc or {}).get("roster_at") is not None, "from": first, "to": last,
        "totals": agent_view(total), "funnel": funnel_view(total),
        "rates": {"agent": domain.agent_rates(total), "team": domain.agent_rates(team_total) if team else {}},
        "team_agents": len(mates),
        "team": team_view(team, len(mates), team_total) if team else None,
        "days": [{"day": day, **agent_view(counts)} for day, counts in sorted(mine.items())],
    }
