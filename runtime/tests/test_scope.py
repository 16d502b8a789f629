"""The scope rule: whom a caller covers (telesales_runtime.scope)."""

from __future__ import annotations

import pytest

from telesales_runtime.auth import Principal
from telesales_runtime.http import Problem
from telesales_runtime.scope import OUTSIDE_YOUR_TEAM, Scope, scope_of


def principal(*roles: str, sub: str = "sup-a", team: str | None = "ta") -> Principal:
    return Principal(sub=sub, roles=frozenset(roles), tenant="acme", team=team)


def code_of(error: pytest.ExceptionInfo[Exception]) -> tuple[int, str]:
    assert isinstance(error.value, Problem)
    return error.value.status, error.value.extensions["code"]


def test_a_supervisor_covers_itself_and_its_team_from_the_token_before_the_roster() -> None:
    scope = scope_of(principal("supervisor"), roster_teams=["tb"])
    assert scope == Scope(sub="sup-a", supervisor=True, teams=frozenset({"ta"}))
    assert scope.covers("a1", "ta") and scope.covers("sup-a", None)
    assert not scope.covers("b1", "tb") and not scope.covers("x", None)
    assert scope.covers_team("ta") and not scope.covers_team("tb") and not scope.covers_team(None)


def test_without_a_team_claim_the_roster_team_counts_and_without_either_only_itself() -> None:
    assert scope_of(principal("supervisor", team=None), roster_teams=[None, "tb"]).teams == {"tb"}
    alone = scope_of(principal("supervisor", team=None))
    assert alone.teams == frozenset() and alone.covers("sup-a", None) and not alone.covers("a1", "ta")
    assert alone.teams_to_show(None) == frozenset()  # a list shows nobody else


def test_a_subtree_is_several_teams_and_changes_no_caller() -> None:
    scope = scope_of(principal("supervisor", team=None), roster_teams=["ta", "ta-north", "ta-south"])
    assert all(scope.covers(agent, team) for agent, team in (("n1", "ta-north"), ("s1", "ta-south")))
    assert scope.teams_to_show(None) == {"ta", "ta-north", "ta-south"}
    assert scope.teams_to_show("ta-north") == {"ta-north"}


def test_operators_admin_and_service_cover_everyone_agents_only_themselves() -> None:
    for roles in (("operator",), ("admin",), ("service",), ("supervisor", "operator")):
        scope = scope_of(principal(*roles))
        assert scope.everyone and scope.covers("b1", "tb") and scope.teams_to_show(None) is None
    agent = scope_of(principal("agent", sub="a1"))
    assert not agent.supervisor and agent.covers("a1", "ta") and not agent.covers("a2", "ta")


def test_refusals_say_outside_your_team_for_a_supervisor_and_the_routes_code_for_an_agent() -> None:
    supervisor = scope_of(principal("supervisor"))
    with pytest.raises(Problem) as refused:
        supervisor.require("b1", "tb", "not_your_agent")
    assert code_of(refused) == (403, OUTSIDE_YOUR_TEAM)
    with pytest.raises(Problem) as refused:
        supervisor.require_team("tb")
    assert code_of(refused) == (403, OUTSIDE_YOUR_TEAM)
    with pytest.raises(Problem) as refused:
        supervisor.teams_to_show("tb")
    assert code_of(refused) == (403, OUTSIDE_YOUR_TEAM)
    supervisor.require("a1", "ta")
    supervisor.require_team("ta")
    agent = scope_of(principal("agent", sub="a1"))
    with pytest.raises(Problem) as refused:
        agent.require("a2", "ta", "not_your_agent")
    assert code_of(refused) == (403, "not_your_agent")
    with pytest.raises(Problem) as refused:
        agent.require_team("ta")
    assert code_of(refused) == (403, "not_your_team")
