"""An agent's indicators beside its team's (indicators.py)."""

from __future__ import annotations

from collections import Counter

from metrics.indicators import indicators_body

DAYS = {"a1": {"2026-11-24": Counter(outbound=4, connected=3, effective=2, deep=1, valid=2, intent=1)},
        "a2": {"2026-11-24": Counter(outbound=6, connected=3, effective=1, valid=1),
               "2026-11-25": Counter(outbound=2)}}


def test_the_team_is_compared_over_the_same_counters_with_per_agent_averages() -> None:
    body = indicators_body(agent_id="a1", agent_doc={"team": "mba"}, mates=["a1", "a2"], days=DAYS,
                           first="2026-11-24", last="2026-11-25")
    assert (body["totals"]["outbound"], body["totals"]["effective_rate"], body["totals"]["deep_rate"]) == (4, 0.5, 0.25)
    team = body["team"]
    assert (team["team_id"], team["agents"], team["totals"]["outbound"], team["totals"]["connect_rate"]) == (
        "mba", 2, 12, 0.5)
    assert (team["per_agent"]["outbound"], team["per_agent"]["deep"]) == (6.0, 0.5)
    assert [(r["step"], r["count"]) for r in team["funnel"][:2]] == [("valid", 3), ("intent", 1)]
    assert body["rates"]["team"]["connect_60s"] == 0.25 and body["team_agents"] == 2


def test_an_agent_without_a_team_has_nothing_to_compare_with() -> None:
    body = indicators_body(agent_id="a1", agent_doc=None, mates=[], days=DAYS, first="2026-11-24",
                           last="2026-11-24")
    assert (body["team_id"], body["team"], body["rates"]["team"], body["team_agents"]) == (None, None, {}, 0)
    assert body["funnel"][1] == {"step": "intent", "count": 1, "rate_from_previous": 0.5, "rate_over_total": 0.5}
