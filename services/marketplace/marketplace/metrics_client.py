"""What the marketplace reads from the metrics service, through its documented HTTP API
`GET /v1/agents/{agent_id}/indicators`: an agent's team, its and its team's rate at each funnel step
(`rates`), and each step's conversion from the step before (`funnel`, `team.funnel`): agreed visits over
intent and paid over plan come from there."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
from pydantic import ValidationError

from .domain import DomainError
from .schemas import StruggleIn

# Funnel steps read from the funnel rows' rate_from_previous (the step before is the one the rate is over).
FROM_FUNNEL_ROWS = ("agreed_visit", "paid")


async def _indicators(metrics_http: httpx.AsyncClient, tenant: str, agent_id: str, *, first: date | None = None,
                      last: date | None = None) -> dict[str, Any]:
    """The agent's indicators as metrics answers them over `first`..`last` (metrics' default range when not
    given). `metrics_unavailable` when metrics does not answer, `metrics_failed` when it answers with an error
    or not with JSON."""
    params = {k: v.isoformat() for k, v in (("from", first), ("to", last)) if v is not None}
    try:
        response = await metrics_http.get(f"/v1/agents/{agent_id}/indicators", params=params,
                                          headers={"X-Tenant-Id": tenant, "Accept": "application/json"})
    except httpx.HTTPError as error:
        raise DomainError("metrics_unavailable", f"the metrics service did not answer: {type(error).__name__}") from error
    if response.status_code != 200:
        raise DomainError("metrics_failed", f"the metrics service answered {response.status_code}",
                          metrics_status=response.status_code)
    try:
        body: dict[str, Any] = response.json()
    except ValueError as error:
        raise DomainError("metrics_failed", "the metrics service's indicators could not be read") from error
    return body


def _from_rows(rates: dict[str, Any], rows: Any) -> dict[str, Any]:
    found = {row["step"]: row.get("rate_from_previous") for row in rows or () if row.get("step") in FROM_FUNNEL_ROWS}
    return {**rates, **{step: min(1.0, rate) for step, rate in found.items() if rate is not None}}


async def struggle_rates(metrics_http: httpx.AsyncClient, tenant: str, agent_id: str, *,
                         first: date | None = None, last: date | None = None) -> StruggleIn:
    """The agent's team and the rates metrics computed for the agent and the team over `first`..`last`
    (metrics' default range when not given); `metrics_failed` when they are not rates."""
    body = await _indicators(metrics_http, tenant, agent_id, first=first, last=last)
    try:
        team_rows = (body.get("team") or {}).get("funnel")
        return StruggleIn(team_id=body.get("team_id"), agent=_from_rows(body["rates"]["agent"], body.get("funnel")),
                          team=_from_rows(body["rates"]["team"], team_rows))
    except (KeyError, TypeError, AttributeError, ValidationError) as error:
        raise DomainError("metrics_failed", "the metrics service's indicators could not be read") from error


async def team_of(metrics_http: httpx.AsyncClient, tenant: str, user_id: str) -> str | None:
    """The team metrics learned from the roster events for a user (None: not on the roster). The
    marketplace keeps no roster: the supervisors' scope asks metrics, as the struggle push does."""
    team = (await _indicators(metrics_http, tenant, user_id)).get("team_id")
    return team if isinstance(team, str) and team else None
