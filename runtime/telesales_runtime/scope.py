"""Whose agents, teams and leads a caller may act on or read: its scope. One rule, which each service
resolves once (in its api access module) and applies at every route, so that widening what a supervisor
covers (its subtree, once the organisation exists) changes one function, not every route.

- admin, service and operators: everyone of the tenant (the roles of each route still say what they may do);
- a supervisor: itself and the agents of its teams (today one team: the token's `team` claim, else the
  team the service's roster gives it); a supervisor with no team covers itself only;
- an agent: itself only.

Refusals are 403 problem+json: `outside_your_team` when a supervisor reaches past its teams, the route's
own code (`not_your_agent`, `not_your_account`, ...) when an agent reaches past itself."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .auth import Principal, forbidden

OUTSIDE_YOUR_TEAM = "outside_your_team"


@dataclass(frozen=True)
class Scope:
    """What one caller covers. `teams` is a set so that a subtree fits without changing the callers."""

    sub: str
    everyone: bool = False
    supervisor: bool = False
    teams: frozenset[str] = frozenset()

    def covers_team(self, team_id: str | None) -> bool:
        return self.everyone or (team_id is not None and team_id in self.teams)

    def covers(self, user_id: str, team_id: str | None) -> bool:
        """The caller itself, or a user of a team the caller covers."""
        return user_id == self.sub or self.covers_team(team_id)

    def refusal(self, what: str, code: str) -> Exception:
        if self.supervisor:
            teams = ", ".join(sorted(self.teams)) or "no team"
            return forbidden(OUTSIDE_YOUR_TEAM, f"{what} is outside the team of {self.sub} ({teams}).")
        return forbidden(code, f"{self.sub} may not act on {what}.")

    def require(self, user_id: str, team_id: str | None, code: str = "not_yours") -> None:
        """403 unless the caller covers `user_id` (of team `team_id`)."""
        if not self.covers(user_id, team_id):
            raise self.refusal(user_id, code)

    def require_team(self, team_id: str | None, code: str = "not_your_team") -> None:
        """403 unless the caller covers the whole team `team_id`."""
        if not self.covers_team(team_id):
            raise self.refusal(f"team {team_id}", code)

    def teams_to_show(self, requested: str | None, code: str = "not_your_team") -> frozenset[str] | None:
        """The teams a list may show: None for all (everyone's scope, nothing requested), the requested
        one if covered (403 otherwise), else the caller's own teams."""
        if requested is not None:
            self.require_team(requested, code)
            return frozenset({requested})
        return None if self.everyone else self.teams


def scope_of(caller: Principal, *, roster_teams: Iterable[str | None] = ()) -> Scope:
    """The caller's scope: the token's `team`, else `roster_teams` (what the service's roster says the
    caller leads; later its subtree) for a supervisor."""
    if caller.trusted or caller.has("operator"):
        return Scope(sub=caller.sub, everyone=True)
    if caller.has("supervisor"):
        teams = {caller.team} if caller.team else {t for t in roster_teams if t}
        return Scope(sub=caller.sub, supervisor=True, teams=frozenset(teams))
    return Scope(sub=caller.sub)
