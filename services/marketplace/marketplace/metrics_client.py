"""The struggle push's rates from the metrics service: its documented HTTP API
`GET /v1/agents/{agent_id}/indicators` gives an agent's team and its and the team's rate at each funnel step."""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import ValidationError

from .domain import DomainError
from .schemas import StruggleIn


async def _indicators(metrics_http: httpx.AsyncClient, tenant: str, agent_id: str) -> dict[str, Any]:
    """The agent's indicators as metrics answers them. `metrics_unavailable` when metrics does not answer,
    `metrics_failed` when it answers with an error or not with JSON."""
    try:
        response = await metrics_http.get(f"/v1/agents/{agent_id}/indicators", headers={"X-Tenant-Id": tenant,
                                                                                       "Accept": "application/json"})
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


async def struggle_rates(metrics_http: httpx.AsyncClient, tenant: str, agent_id: str) -> StruggleIn:
    """The agent's team and the rates metrics computed for the agent and the team (its default range)."""
    body = await _indicators(metrics_http, tenant, agent_id)
    try:
        return StruggleIn(team_id=body.get("team_id"), agent=body["rates"]["agent"], team=body["rates"]["team"])
    except (KeyError, TypeError, ValidationError) as error:
        raise DomainError("metrics_failed", "the metrics service's indicators could not be read") from error


async def team_of(metrics_http: httpx.AsyncClient, tenant: str, user_id: str) -> str | None:
    """The team metrics learned from the roster events for a user (None: not on the roster). The
    marketplace keeps no roster: the supervisors' scope asks metrics, as the struggle push does."""
    team = (await _indicators(metrics_http, tenant, user_id)).get("team_id")
    return team if isinstance(team, str) and team else None
