"""Helpers of the allocator's tests (importable: the tests folder is on pytest's pythonpath)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from allocator.roster import RosterService
from allocator.service import LeadService
from allocator.store import AllocatorStore
from telesales_testkit.harness import ServiceHarness


@dataclass(kw_only=True)
class Harness(ServiceHarness):
    leads: LeadService
    roster: RosterService
    store: AllocatorStore
    roster_roles: dict[str, tuple[str, str | None]] = field(default_factory=dict)

    async def agent(self, agent_id: str, *, team_id: str | None = "t1", role: str = "agent",
                    business_line: str = "education", grade: str | None = None, **extra: Any) -> dict[str, Any]:
        response = await self.http.put(f"/v1/agents/{agent_id}", json={
            "name": f"agent {agent_id}", "role": role, "team_id": team_id, "business_line": business_line, **extra})
        assert response.status_code == 200, response.text
        self.roster_roles[agent_id] = (role, team_id)
        if grade is not None:
            response = await self.http.patch(f"/v1/agents/{agent_id}", json={"grade": grade})
            assert response.status_code == 200, response.text
        return response.json()

    async def at_work(self, *agent_ids: str, status: str = "logged_in") -> None:
        """The dialer reports these agents logged in (or `status`): pushes reach agents at work only."""
        for agent_id in agent_ids:
            await self.send("agents.status-changed.v1", {"agent_id": agent_id, "status": status,
                                                         "at": datetime.now(UTC).isoformat()})

    async def pooled(self, count: int = 1, **overrides: Any) -> list[str]:
        """Qualified leads, straight into the pools (as lead-intake would send them)."""
        ids = []
        for _ in range(count):
            lead_id = overrides.pop("lead_id", None) or uuid.uuid4().hex[:24]
            await self.send("leads.qualified.v1", qualified(lead_id, **overrides))
            ids.append(lead_id)
        return ids

    def as_actor(self, actor: str) -> dict[str, str]:
        """A token of `actor` with the role and team it has on the roster (harness.agent): supervisors and
        managers as supervisor, anyone else as agent."""
        role, team = self.roster_roles.get(actor, ("agent", None))
        return self.as_("supervisor" if role in ("supervisor", "manager") else "agent", actor, team=team)

    async def claim(self, agent_id: str, tier_id: str = "fresh", count: int = 1) -> httpx.Response:
        return await self.http.post(f"/v1/agents/{agent_id}/claims", json={"tier_id": tier_id, "count": count},
                                    headers=self.as_actor(agent_id))

    async def lead(self, lead_id: str) -> dict[str, Any]:
        doc = await self.store.get_lead(self.tenant, lead_id)
        assert doc is not None, lead_id
        return doc


def qualified(lead_id: str, **overrides: Any) -> dict[str, Any]:
    """A leads.qualified.v1 payload."""
    data: dict[str, Any] = {
        "lead_id": lead_id, "phone_e164": "+86139" + str(uuid.uuid4().int)[:8], "email": None, "name": "张伟",
        "company": None, "channel": "search_ads_seo", "channel_raw": "百度SEM", "business_line": "education",
        "product_interest": "MBA", "region": "广东省深圳市", "carrier": "中国移动", "number_type": "mobile",
        "number_check": None, "score": 60, "grade": "B", "score_breakdown": [], "model": None,
        "touch": {"event_id": str(uuid.uuid4()), "source": "/web", "channel": "search_ads_seo", "channel_raw": None,
                  "received_at": datetime.now(UTC).isoformat()},
        "notes": None, "attributes": {},
    }
    data.update(overrides)
    return data


async def put(harness: Harness, path: str, body: Any) -> None:
    """PUT as the harness's default caller, which must succeed (configuration, teams)."""
    response = await harness.http.put(path, json=body)
    assert response.status_code == 200, response.text


async def floor(harness: Harness, *agents: str, team_id: str = "t1", working: tuple[str, ...] = ()) -> None:
    """A supervisor `boss`, the team and its agents; those in `working` logged in."""
    await harness.agent("boss", role="supervisor", team_id=team_id)
    await put(harness, f"/v1/teams/{team_id}", {"name": f"team {team_id}"})
    for agent_id in agents:
        await harness.agent(agent_id, team_id=team_id)
    await harness.at_work(*working)
