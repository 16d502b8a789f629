"""Claims (捞取): an agent takes the best-scored leads of a tier it may open, within its holding cap and
refresh quota."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from .. import domain
from ..domain import DomainError
from ..store import Doc
from ..store.roster import agent_of
from .core import LeadServiceCore


@dataclass(frozen=True)
class ClaimResult:
    leads: list[Doc]
    requested: int
    granted: int
    held_after: int
    cap: int
    quota_left: int


class Claiming(LeadServiceCore):
    async def claim(self, *, tenant: str, agent_id: str, tier_id: str, count: int) -> ClaimResult:
        """Give the agent up to `count` of the best-scored leads of the tier it may open.

        Under the agent's lock (taken with its quota count in one Redis round trip), the agent and its
        holding count are read fresh (one MongoDB round trip), the rules decide how many it may take,
        and the leads are taken together with the other claims on the tier (claims.py). Each round trip
        is shared with the claims of the same moment (batching.py): a busy floor's claims cost the
        servers a few commands per group, not per claim."""
        now = datetime.now(UTC)
        policy = await self.policy(tenant)
        tier = await self.tier(tenant, tier_id)
        if count > policy.claim_max_per_request:
            raise DomainError("too_many", f"claim at most {policy.claim_max_per_request} leads at once")
        period, period_end = domain.quota_period(now, policy.refresh_period, self.tz)
        async with self.guard.claiming(tenant, agent_id, period, period_end) as ticket:
            agent_doc, held = await self.claimers(tenant, agent_id)
            if agent_doc is None:
                raise DomainError("unknown_agent", f"there is no agent {agent_id!r}")
            on_roster = agent_of(agent_doc)
            agent = on_roster.facts(policy)
            domain.check_may_open(tier, agent, on_roster.worked_minutes_today(now, self.tz))
            pools = domain.tier_pool_ids(tier, agent, await self.pools_of_line(tenant, agent.business_line))
            cap, quota = policy.cap_for(agent.grade), policy.quota_for(agent.grade)
            granted = domain.claim_grant(count, held=held, cap=cap, claimed_this_period=ticket.used, quota=quota)
            taken = await self.claims.claim(tenant, pools, tier, policy, agent, granted)
            ticket.taken = len(taken)
        if taken:
            self.notify_leads()
        return ClaimResult(taken, count, granted, held + len(taken), cap, quota - ticket.used - len(taken))
